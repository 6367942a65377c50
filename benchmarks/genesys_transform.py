"""Benchmark: the Genesys Cloud tables operator on a landed export, against pyarrow's JSON reader.

What is measured is what a user's ``tables`` task runs: ``GenesysCloudTablesOperator.execute()``
reading a published raw landing through its manifest (``storage.raw_zone``), flattening the
pages (``transforms.genesys_conversations.iter_flatten``), routing each conversation to its
start partition (``partition_result``) and writing the six conversation tables through
``storage.table_set.TableSet`` (Parquet via ``storage.writers``) until they are published.

The input is generated once per (shape, size, seed) and cached under the system temp
directory: a raw landing (``storage.raw_zone.RawLanding``, pages of ``--page-size``
conversations as compact JSON, as the export task lands them) and the same conversations as
one JSON Lines file. Shapes:

- ``sandbox``: the sandbox's own generator (``sandbox/genesys_cloud/data.py``), as served by
  the sandbox API: a few participant attributes on customer legs, no unmapped fields;
- ``lean``: the same conversations with participant attributes cut to one key;
- ``wide``: the same conversations with 30 attributes on every participant and unmapped
  vendor fields on conversations, participants and sessions (counted, kept in raw only).

Baseline: ``pyarrow.json.read_json`` merely parsing the same conversations as JSON Lines
(default options: multi-threaded; files over ``--baseline-chunk-mb`` are read in chunks of
whole lines so its memory stays bounded). Each side runs in its own subprocess, alternating
``--repeat`` times, so peak RSS (``VmHWM``) is measured apart and load from elsewhere on the
machine hits both alike. Ratio = baseline seconds / operator seconds: higher is better, 1.0
means the operator is as fast as merely parsing the JSON.

    PYTHONPATH=provider python benchmarks/genesys_transform.py --conversations 20000 100000
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import logging
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PER_DAY = 10_000
START = datetime(2024, 5, 1, tzinfo=UTC)
SHAPES = ("sandbox", "lean", "wide")
CACHE_ROOT = Path(tempfile.gettempdir()) / "cc-bench-genesys-tables"
#: Bumped when the generated data changes, so stale caches are not reused.
DATA_VERSION = 1


# --- data ---------------------------------------------------------------------------------------


def _lean(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    out["participants"] = []
    for participant in record["participants"]:
        participant = dict(participant)
        attributes = participant.pop("attributes", None)
        if attributes and "language" in attributes:
            participant["attributes"] = {"language": attributes["language"]}
        out["participants"].append(participant)
    return out


def _wide(record: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(record)
    conversation_id = out["conversationId"]
    # Unmapped fields real exports carry; the operator counts them and leaves them in raw.
    out["evaluations"] = [{"evaluationId": conversation_id[::-1], "formName": "QA", "calibrationId": None}]
    out["resolutions"] = [{"queueId": conversation_id, "nNextContactAvoided": 1}]
    for number, participant in enumerate(out["participants"]):
        attributes = dict(participant.get("attributes") or {})
        for key in range(30):
            attributes[f"ivr.var{key:02d}"] = f"{conversation_id[:8]}-{number}-{key}"
        participant["attributes"] = attributes
        participant["screenRecordingState"] = "requested"
        for session in participant["sessions"]:
            session["activeSkillIds"] = [conversation_id[:18], conversation_id[18:]]
            session["mediaEndpointStats"] = [{"codecs": ["opus"], "minMos": 4.4, "receivedPackets": 1834}]
    return out


def _records(shape: str, conversations: int, seed: int) -> Iterator[dict[str, Any]]:
    from contact_center_provider.sandbox.genesys_cloud import data

    end = START + timedelta(days=conversations // PER_DAY + 2)
    shapes: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "sandbox": dict,
        "lean": _lean,
        "wide": _wide,
    }
    change = shapes[shape]
    for number, record in enumerate(data.generate_conversations(seed, START, end, per_day=PER_DAY)):
        if number == conversations:
            return
        if number % PER_DAY == 0:
            data.conversations_for_day.cache_clear()  # the generator caches whole days
            print(f"  generated {number} conversations", file=sys.stderr)
        yield change(record)


def _page(encoded: list[bytes], number: int) -> bytes:
    return (
        b'{"conversations":['
        + b",".join(encoded)
        + f'],"cursor":"c{number}","dataAvailabilityDate":"2030-01-01T00:00:00.000Z"}}'.encode()
    )


def _generate(directory: Path, shape: str, conversations: int, seed: int, page_size: int) -> None:
    from contact_center_provider.storage.raw_zone import RawLanding
    from contact_center_provider.storage.zones import Partition

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    # Details jobs also return conversations that started before the interval (up to the
    # generator's six hours): the partition starts a day early so every one of them is kept.
    days = conversations // PER_DAY + 2
    partition = Partition(START - timedelta(days=1), START + timedelta(days=days))
    landing = RawLanding(f"{directory.as_uri()}/raw/genesys_cloud/conversations/{partition.path}")
    warm = RawLanding(f"{directory.as_uri()}/warm/genesys_cloud/conversations/{partition.path}")
    records = _records(shape, conversations, seed)
    written = 0
    with open(directory / "conversations.jsonl", "wb") as lines:
        for number in itertools.count():
            encoded = [
                json.dumps(r, separators=(",", ":")).encode() for r in itertools.islice(records, page_size)
            ]
            if not encoded:
                break
            lines.write(b"\n".join(encoded) + b"\n")
            landing.write_page(_page(encoded, number), len(encoded))
            if number == 0:
                warm.write_page(_page(encoded, number), len(encoded))
            written += len(encoded)
    if written < conversations:
        raise SystemExit(f"the generator produced only {written} of {conversations} conversations")
    published = {"vendor": "genesys_cloud", "dataset": "conversations", "interval": partition.interval}
    info = {
        "landing": landing.publish(**published)["prefix"],
        "warm": warm.publish(**published)["prefix"],
        "conversations": conversations,
    }
    (directory / "info.json").write_text(json.dumps(info))  # last: marks the cache complete


def _data_dir(shape: str, conversations: int, args: argparse.Namespace) -> Path:
    name = f"v{DATA_VERSION}-{shape}-seed{args.seed}-n{conversations}-p{args.page_size}"
    directory = CACHE_ROOT / name
    if not (directory / "info.json").exists():
        print(f"generating {conversations} {shape} conversations into {directory} ...", file=sys.stderr)
        _generate(directory, shape, conversations, args.seed, args.page_size)
    return directory


# --- the two sides, each in its own process -------------------------------------------------------


def _usage() -> dict[str, float]:
    # VmHWM belongs to this process image; ru_maxrss would also count the parent before exec.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_rss_mb": peak, "cpu_seconds": usage.ru_utime + usage.ru_stime}


def _baseline(directory: Path, chunk_mb: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.json as pj

    path = directory / "conversations.jsonl"
    size = path.stat().st_size
    rows = 0
    cpu = _usage()["cpu_seconds"]
    started = time.perf_counter()
    if size <= chunk_mb << 20:
        rows = pj.read_json(path).num_rows
    else:  # a whole multi-GB file would need several times its size in RAM
        with open(path, "rb") as handle:
            rest = b""
            while chunk := handle.read(chunk_mb << 20):
                chunk = rest + chunk
                cut = chunk.rfind(b"\n") + 1
                rest = chunk[cut:]
                rows += pj.read_json(pa.BufferReader(chunk[:cut])).num_rows
            if rest.strip():
                rows += pj.read_json(pa.BufferReader(rest)).num_rows
    seconds = time.perf_counter() - started
    usage = _usage()
    return {
        "bytes": size,
        "seconds": seconds,
        "rows": rows,
        **usage,
        "cpu_seconds": usage["cpu_seconds"] - cpu,
    }


def _operator(directory: Path) -> dict[str, Any]:
    from contact_center_provider.operators.genesys_cloud_tables import GenesysCloudTablesOperator

    # The operator warns that it runs outside Airflow's task runner; that is the point here.
    logging.disable(logging.WARNING)
    info = json.loads((directory / "info.json").read_text())
    out = Path(tempfile.mkdtemp(prefix="cc-bench-tables-"))
    try:

        def run(landing: str) -> dict[str, Any]:
            operator = GenesysCloudTablesOperator(
                task_id="tables", raw_manifest=landing, output_base_uri=out.as_uri()
            )
            result: dict[str, Any] = operator.execute({})
            return result

        run(info["warm"])  # lazy imports and first-use setup, outside the timing
        cpu = _usage()["cpu_seconds"]
        started = time.perf_counter()
        result = run(info["landing"])
        seconds = time.perf_counter() - started
        usage = _usage()
        tables = out / "tables" / "genesys_cloud"
        stored = sum(p.stat().st_size for p in tables.rglob("*.parquet"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    pages = sorted((Path(info["landing"].removeprefix("file://")) / "_attempts").rglob("page-*.json"))
    if result["rows"]["conversations"] != info["conversations"]:
        raise SystemExit(f"the operator kept {result['rows']['conversations']} of {info['conversations']}")
    return {
        "bytes": sum(p.stat().st_size for p in pages),
        "seconds": seconds,
        "rows": result["rows"],
        "unknown_fields": sum(result["unknown_fields"].values()),
        "parquet_bytes": stored,
        **usage,
        "cpu_seconds": usage["cpu_seconds"] - cpu,
    }


def _run_child(role: str, directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--role", role, "--data", str(directory)]
    command += ["--baseline-chunk-mb", str(args.baseline_chunk_mb)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{role} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- report ---------------------------------------------------------------------------------------


def _spread(values: list[float], digits: int = 2) -> str:
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.{digits}f}"
    return f"{median:.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def _measure(shape: str, conversations: int, args: argparse.Namespace) -> dict[str, Any]:
    directory = _data_dir(shape, conversations, args)
    base: list[dict[str, Any]] = []
    meas: list[dict[str, Any]] = []
    # Alternate (and swap which side goes first) so that load from elsewhere hits both alike.
    for number in range(args.repeat):
        order = ("baseline", "operator") if number % 2 == 0 else ("operator", "baseline")
        for role in order:
            (base if role == "baseline" else meas).append(_run_child(role, directory, args))
    if {r["rows"] for r in base} != {conversations}:
        raise SystemExit(f"the baseline read {[r['rows'] for r in base]} of {conversations} conversations")
    best = min(r["seconds"] for r in base) / min(r["seconds"] for r in meas)
    ratios = [b["seconds"] / m["seconds"] for b, m in zip(base, meas, strict=True)]
    cpu_ratios = [b["cpu_seconds"] / m["cpu_seconds"] for b, m in zip(base, meas, strict=True)]
    last = meas[-1]
    print(
        f"\n{shape}, {conversations:,} conversations: {last['bytes'] / 1e6:,.1f} MB of pages "
        f"({base[-1]['bytes'] / 1e6:,.1f} MB as JSON Lines), "
        f"{sum(last['rows'].values()):,} table rows, unknown-field occurrences {last['unknown_fields']:,}, "
        f"parquet {last['parquet_bytes'] / 1e6:,.1f} MB"
    )
    for label, runs in (("baseline read_json", base), ("operator execute()", meas)):
        print(
            f"  {label}: seconds {_spread([r['seconds'] for r in runs])}, "
            f"cpu seconds {_spread([r['cpu_seconds'] for r in runs])}, "
            f"peak RSS MB {_spread([r['peak_rss_mb'] for r in runs], 0)}"
        )
    print(
        f"  ratio baseline/operator: {best:.2f} best vs best; per pair {_spread(ratios)}; "
        f"cpu seconds {_spread(cpu_ratios)}"
    )
    return {
        "shape": shape,
        "conversations": conversations,
        "best": best,
        "pairs": statistics.median(ratios),
        "cpu": statistics.median(cpu_ratios),
        "rss": max(r["peak_rss_mb"] for r in meas),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--conversations", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=["sandbox", "lean"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--baseline-chunk-mb", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side, alternating")
    parser.add_argument("--role", choices=["baseline", "operator"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role == "baseline":
        print(json.dumps(_baseline(args.data, args.baseline_chunk_mb)))
        return
    if args.role == "operator":
        print(json.dumps(_operator(args.data)))
        return

    import os

    print(
        "Ratio = baseline seconds / operator seconds: higher is better, target >= 0.6.\n"
        f"Figures: median [min-max] of {args.repeat} alternating runs a side (os.cpu_count="
        f"{os.cpu_count()}). 'best vs best' compares each side's least disturbed run; the cpu-seconds\n"
        "ratio (user+sys of all threads) is the one load from other processes disturbs least."
    )
    summary = [_measure(shape, n, args) for shape in args.shapes for n in args.conversations]
    print("\nsummary (ratios: best vs best / median per pair / median cpu seconds; operator peak RSS):")
    for row in summary:
        print(
            f"  {row['shape']:8s} {row['conversations']:>9,} conversations: "
            f"{row['best']:.2f}x / {row['pairs']:.2f}x / {row['cpu']:.2f}x, peak RSS {row['rss']:.0f} MB"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "provider"))
    main()
