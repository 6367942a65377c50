"""Benchmark: the presence report for 100, 1,000 and 10,000 agents, against the single-file renderer.

Generates one day of presence and routing-status tables per size (cached under the system
temp directory by arguments) with the density seen on a real Genesys organisation (about
186 records per agent and day, routing statuses often repeated back to back). Then, each
in its own subprocess so memory is measured apart:

- baseline: the single-file renderer this report had before (kept verbatim in
  ``presence_render_baseline.py``): whole tables read and turned into Python rows, every
  agent in one HTML file;
- measured: ``RenderReportOperator(report="presence")`` as the render task runs it: an
  index page plus one page per agent, inputs read in batches.

Both children import Airflow's Task SDK first, so the figures include what a render task
carries anyway. Prints time, peak RSS, output size per agent, the index size and the
largest agent page, and the ratio measured/baseline for time and memory.

    PYTHONPATH=provider python benchmarks/presence_render.py --agents 100 1000 10000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

CACHE_ROOT = Path(tempfile.gettempdir()) / "cc-bench-presence-render"
DAY_START_MS = 1_714_521_600_000  # 2024-05-01T00:00:00Z
DAY_MS = 86_400_000
ROW_GROUP_ROWS = 131_072
_AUX = ("BREAK", "MEAL", "MEETING", "TRAINING", "AWAY", "BUSY")
_FIRST = ("Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam")
_LAST = ("Murphy", "O'Brien", "Kowalski", "Nguyen", "García", "Smith", "Okafor", "Rossi", "Berg", "Dubois")


# --------------------------------------------------------------------------- data


def _agent_day(rng: random.Random) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    """One agent's day: OFFLINE, a shift of ON_QUEUE stretches and breaks, OFFLINE."""
    presence: list[tuple[int, int, str]] = []
    routing: list[tuple[int, int, str]] = []
    start = DAY_START_MS + rng.randint(6, 13) * 3_600_000 + rng.randint(0, 59) * 60_000
    end = start + rng.randint(8 * 60, 9 * 60) * 60_000
    presence.append((DAY_START_MS, start, "OFFLINE"))
    routing.append((DAY_START_MS, start, "OFF_QUEUE"))
    t = start
    while t < end:
        stretch = min(end, t + rng.randint(30, 90) * 60_000)
        # The API often splits one status into several records; keep some of that.
        presence.append((t, stretch, "ON_QUEUE"))
        r = t
        while r < stretch:
            status = "INTERACTING" if rng.random() < 0.6 else "IDLE"
            if rng.random() < 0.01:
                status = "NOT_RESPONDING"
            length = min(stretch - r, rng.randint(15_000, 280_000))
            routing.append((r, r + length, status))
            r += length
        t = stretch
        if t < end:
            aux_end = min(end, t + rng.randint(5, 30) * 60_000)
            presence.append((t, aux_end, rng.choice(_AUX)))
            routing.append((t, aux_end, "OFF_QUEUE"))
            t = aux_end
    presence.append((end, DAY_START_MS + DAY_MS, "OFFLINE"))
    routing.append((end, DAY_START_MS + DAY_MS, "OFF_QUEUE"))
    return presence, routing


def _generate(directory: Path, agents: int, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from contact_center_provider.transforms import genesys_schemas as gs

    tmp = directory.with_name(directory.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rng = random.Random(seed)
    definitions = [
        {
            "presence_definition_id": f"def-{code.lower()}",
            "system_presence": code,
            "label": code.title().replace("_", " "),
        }
        for code in ("AVAILABLE", "ON_QUEUE", "OFFLINE", *_AUX)
    ]
    pq.write_table(
        pa.Table.from_pylist(definitions, schema=gs.PRESENCE_DEFINITIONS),
        tmp / "presence_definitions.parquet",
    )
    users = []
    writers = {
        "presence": pq.ParquetWriter(tmp / "presence.parquet", gs.PRESENCE, compression="zstd"),
        "routing_status": pq.ParquetWriter(
            tmp / "routing_status.parquet", gs.ROUTING_STATUS, compression="zstd"
        ),
    }
    chunk: dict[str, list[dict[str, Any]]] = {"presence": [], "routing_status": []}

    def flush() -> None:
        for name, rows in chunk.items():
            if rows:
                writers[name].write_table(
                    pa.Table.from_pylist(rows, schema=writers[name].schema), ROW_GROUP_ROWS
                )
                rows.clear()

    for number in range(agents):
        user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        users.append(
            {
                "user_id": user_id,
                "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {number:05d}",
                "division_id": f"division-{rng.randint(1, 12):02d}",
            }
        )
        presence, routing = _agent_day(rng)
        for start, end, status in presence:
            chunk["presence"].append(
                {
                    "user_id": user_id,
                    "start_time": start,
                    "end_time": end,
                    "system_presence": status,
                    "organization_presence_id": f"def-{status.lower()}",
                }
            )
        for start, end, status in routing:
            chunk["routing_status"].append(
                {"user_id": user_id, "start_time": start, "end_time": end, "routing_status": status}
            )
        if len(chunk["routing_status"]) > ROW_GROUP_ROWS:
            flush()
    flush()
    for writer in writers.values():
        writer.close()
    pq.write_table(pa.Table.from_pylist(users, schema=gs.USERS), tmp / "users.parquet")
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)


def dataset(agents: int, seed: int) -> Path:
    directory = CACHE_ROOT / f"agents{agents}-seed{seed}"
    if not (directory / "users.parquet").exists():
        print(f"generating {agents} agents in {directory} ...", file=sys.stderr, flush=True)
        _generate(directory, agents, seed)
    return directory


# --------------------------------------------------------------------------- children


def _context() -> dict[str, Any]:
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(DAY_START_MS / 1000, UTC)
    end = datetime.fromtimestamp((DAY_START_MS + DAY_MS) / 1000, UTC)
    return {
        "dag_run": SimpleNamespace(run_after=end),
        "data_interval_start": start,
        "data_interval_end": end,
    }


def _inputs(data: Path) -> dict[str, str]:
    return {
        name: str(data / f"{name}.parquet")
        for name in ("presence", "routing_status", "users", "presence_definitions")
    }


def run_measured(data: Path, out: Path) -> dict[str, Any]:
    from contact_center_provider.operators.render import RenderReportOperator

    operator = RenderReportOperator(
        task_id="render_presence",
        report="presence",
        inputs=_inputs(data),
        output_base_uri=str(out),
        report_params={"job_name": "Presence"},
    )
    result = operator.execute(_context())  # type: ignore[arg-type]
    index = Path(result["uri"])
    details = [p.stat().st_size for p in (index.parent / "presence_files").iterdir()]
    return {
        "files": result["files"],
        "bytes": result["bytes"],
        "index_bytes": index.stat().st_size,
        "max_detail_bytes": max(details, default=0),
    }


def run_legacy(data: Path, out: Path) -> dict[str, Any]:
    import jinja2
    from presence_render_baseline import LEGACY_TEMPLATE, legacy_presence_context

    from contact_center_provider.operators.render import read_parquet_input
    from contact_center_provider.storage.atomic import write_bytes
    from contact_center_provider.transforms.reports.formatting import js_date_string
    from contact_center_provider.transforms.reports.render import make_environment

    context = _context()
    tables = {name: read_parquet_input(uri, None) for name, uri in _inputs(data).items()}
    report = legacy_presence_context(
        tables["presence"],
        tables["routing_status"],
        tables["users"],
        tables["presence_definitions"],
        interval_start=context["data_interval_start"],
        interval_end=context["data_interval_end"],
        tz="UTC",
        job_name="Presence",
        run_date=js_date_string(context["dag_run"].run_after, "UTC"),
    )
    environment = make_environment([])
    environment.loader = jinja2.DictLoader({"presence.html.j2": LEGACY_TEMPLATE})
    text = environment.get_template("presence.html.j2").render(**report)
    target = out / "presence.html"
    size = write_bytes(str(target), text.encode("utf-8"))
    return {"files": 1, "bytes": size, "index_bytes": size, "max_detail_bytes": size}


def child(mode: str, data: Path, out: Path) -> None:
    import airflow.sdk  # noqa: F401  (both sides carry what a render task carries)

    started = time.perf_counter()
    figures = run_measured(data, out) if mode == "measured" else run_legacy(data, out)
    figures["seconds"] = time.perf_counter() - started
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def _spawn(mode: str, data: Path, memory_limit_gb: float) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix=f"cc-bench-presence-{mode}-"))
    limit = int(memory_limit_gb * 2**30)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--data", str(data), "--out", str(out)],
            capture_output=True,
            text=True,
            preexec_fn=cap,  # the parent runs no threads
            check=False,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
            seconds = time.perf_counter() - started
            return {"error": f"exit {proc.returncode} after {seconds:.0f} s: {tail[0][:120]}"}
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--baseline-max-agents", type=int, default=10_000, help="skip the baseline above this size"
    )
    parser.add_argument(
        "--memory-limit-gb",
        type=float,
        default=6.0,
        help="address-space cap per child (the baseline needs ~1 GB per 1,000 agents)",
    )
    parser.add_argument("--child", choices=("measured", "legacy"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.data, args.out)
        return 0

    header = (
        f"{'agents':>7} {'renderer':<9} {'seconds':>8} {'peak RSS MB':>11} {'files':>6} "
        f"{'KB/agent':>9} {'index KB':>9} {'max page KB':>11}"
    )
    print(header)
    for agents in args.agents:
        data = dataset(agents, args.seed)
        rows = {}
        for mode in ("legacy", "measured"):
            if mode == "legacy" and agents > args.baseline_max_agents:
                rows[mode] = {"error": "skipped (--baseline-max-agents)"}
            else:
                rows[mode] = _spawn(mode, data, args.memory_limit_gb)
        for mode, name in (("legacy", "baseline"), ("measured", "measured")):
            f = rows[mode]
            if "error" in f:
                print(f"{agents:>7} {name:<9} {f['error']}")
                continue
            print(
                f"{agents:>7} {name:<9} {f['seconds']:>8.1f} {f['peak_rss_mb']:>11.0f} {f['files']:>6} "
                f"{f['bytes'] / agents / 1024:>9.1f} {f['index_bytes'] / 1024:>9.0f} {f['max_detail_bytes'] / 1024:>11.0f}"
            )
        if "error" not in rows["legacy"] and "error" not in rows["measured"]:
            base, new = rows["legacy"], rows["measured"]
            print(
                f"{agents:>7} ratio     time x{new['seconds'] / base['seconds']:.2f}, "
                f"peak RSS x{new['peak_rss_mb'] / base['peak_rss_mb']:.2f}, "
                f"largest file x{new['max_detail_bytes'] / base['max_detail_bytes']:.4f} (measured/baseline)"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
