"""Benchmark: Genesys Cloud conversation pages -> six Parquet tables, against pyarrow's JSON reader.

Generates a conversation export with the sandbox's generator (cached by arguments): raw
pages of ``--page-size`` conversations as compact JSON, like the raw zone, and the same
conversations as one JSON Lines file. Then, each in its own subprocess so their memory is
measured apart:

- baseline: ``pyarrow.json.read_json`` of the JSON Lines file (the same conversation bytes);
  files over ``--baseline-chunk-mb`` are read in chunks of whole lines so the baseline's
  memory stays bounded too (the parser and its threads are the same);
- measured: ``iter_flatten`` over the page files plus writing all six tables with
  ``ParquetTableWriter`` (zstd, 128k-row row groups), as the transform task does.

Prints MB, MB/s, the ratio measured/baseline and the measured part's peak RSS.

    PYTHONPATH=provider python benchmarks/genesys_transform.py --conversations 50000
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PER_DAY = 10_000
#: Dictionary encoding buys nothing on these id-heavy tables under zstd: files come out
#: ~15% smaller without it, and writing takes ~20% less CPU.
WRITER_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": False}
CACHE_ROOT = Path(tempfile.gettempdir()) / "cc-bench-genesys-transform"


def _generate(directory: Path, conversations: int, seed: int, page_size: int) -> None:
    from contact_center_provider.sandbox.genesys_cloud import data

    tmp = directory.with_name(directory.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "pages").mkdir(parents=True)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    end = start + timedelta(days=conversations // PER_DAY + 2)
    records = itertools.islice(data.generate_conversations(seed, start, end, per_day=PER_DAY), conversations)
    written = 0
    with open(tmp / "conversations.jsonl", "wb") as lines:
        for number in itertools.count():
            page = list(itertools.islice(records, page_size))
            if not page:
                break
            encoded = [json.dumps(r, separators=(",", ":")) for r in page]
            lines.write(("\n".join(encoded) + "\n").encode())
            body = (
                '{"conversations":['
                + ",".join(encoded)
                + f'],"cursor":"c{number}","dataAvailabilityDate":"2030-01-01T00:00:00.000Z"}}'
            )
            (tmp / "pages" / f"page-{number:06d}.json").write_bytes(body.encode())
            written += len(page)
            if number % 50 == 0:
                data.conversations_for_day.cache_clear()  # the generator caches whole days
                print(f"  generated {written} conversations", file=sys.stderr)
    if written < conversations:
        raise SystemExit(f"the generator produced only {written} of {conversations} conversations")
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)


def _data_dir(args: argparse.Namespace) -> Path:
    directory = CACHE_ROOT / f"seed{args.seed}-n{args.conversations}-p{args.page_size}"
    if not (directory / "conversations.jsonl").exists():
        print(f"generating {args.conversations} conversations into {directory} ...", file=sys.stderr)
        _generate(directory, args.conversations, args.seed, args.page_size)
    return directory


def _peak_rss_mb() -> float:
    # VmHWM belongs to this process image; ru_maxrss would also count the parent before exec.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _baseline(directory: Path, chunk_mb: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.json as pj

    path = directory / "conversations.jsonl"
    size = path.stat().st_size
    rows = 0
    started = time.perf_counter()
    # Whole-file reads of a multi-GB export would need several times its size in RAM.
    if size <= chunk_mb << 20:
        rows = pj.read_json(path).num_rows
    else:
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
    return {"bytes": size, "seconds": seconds, "rows": rows, "peak_rss_mb": _peak_rss_mb()}


def _measured(directory: Path, workers: int) -> dict[str, Any]:
    from contact_center_provider.storage.writers import ParquetTableWriter
    from contact_center_provider.transforms import genesys_schemas as gs
    from contact_center_provider.transforms.genesys_conversations import (
        flatten_conversation_page,
        iter_flatten,
    )

    files = sorted((directory / "pages").glob("page-*.json"))
    size = sum(f.stat().st_size for f in files)
    out = Path(tempfile.mkdtemp(prefix="cc-bench-out-"))
    # Warm up lazy imports (pandas shims, smart_open) outside the timing.
    warm = flatten_conversation_page(files[0].read_bytes())
    for name, table in warm.tables.items():
        with ParquetTableWriter(str(out / f"warm-{name}.parquet"), table.schema, **WRITER_OPTIONS) as scratch:
            scratch.write(table)

    def pages() -> Any:
        for f in files:
            yield f.read_bytes()

    # Writing runs on its own thread so Parquet encoding overlaps parsing (both release the GIL).
    results: queue.Queue[Any] = queue.Queue(maxsize=2)
    counts = {"conversations": 0, "unknown_fields": 0}
    errors: list[BaseException] = []

    def write_all() -> None:
        try:
            writers = {
                name: ParquetTableWriter(
                    str(out / f"{name}.parquet"), schema, table_name=name, **WRITER_OPTIONS
                )
                for name, schema in gs.CONVERSATION_TABLES.items()
            }
            while (result := results.get()) is not None:
                for name, table in result.tables.items():
                    writers[name].write(table)
            for writer in writers.values():
                writer.close()
        except BaseException as exc:
            errors.append(exc)
            while results.get() is not None:
                pass

    started = time.perf_counter()
    writer = threading.Thread(target=write_all)
    writer.start()
    try:
        for result in iter_flatten(pages(), workers=workers):
            counts["conversations"] += result.conversations
            counts["unknown_fields"] += sum(result.unknown_fields.values())
            results.put(result)
    finally:
        results.put(None)
        writer.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    stored = {p.stem: p.stat().st_size for p in out.glob("*.parquet") if not p.name.startswith("warm-")}
    shutil.rmtree(out, ignore_errors=True)
    return {
        "bytes": size,
        "seconds": seconds,
        "pages": len(files),
        "parquet_bytes": sum(stored.values()),
        "peak_rss_mb": _peak_rss_mb(),
        **counts,
    }


def _run_child(role: str, directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--role", role, "--data", str(directory)]
    command += ["--workers", str(args.workers), "--baseline-chunk-mb", str(args.baseline_chunk_mb)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="iter_flatten workers")
    parser.add_argument("--baseline-chunk-mb", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best is kept")
    parser.add_argument("--role", choices=["baseline", "measured"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role == "baseline":
        print(json.dumps(_baseline(args.data, args.baseline_chunk_mb)))
        return
    if args.role == "measured":
        print(json.dumps(_measured(args.data, args.workers)))
        return

    directory = _data_dir(args)
    # Alternate the two sides so that load from elsewhere on the machine hits both alike.
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "measured": []}
    for _ in range(args.repeat):
        for role, results in runs.items():
            results.append(_run_child(role, directory, args))
    base = min(runs["baseline"], key=lambda r: r["seconds"])
    meas = min(runs["measured"], key=lambda r: r["seconds"])
    base_rate = base["bytes"] / 1e6 / base["seconds"]
    meas_rate = meas["bytes"] / 1e6 / meas["seconds"]
    print(f"conversations: {meas['conversations']} in {meas['pages']} pages (os.cpu_count={os.cpu_count()})")
    print(
        f"baseline  pyarrow.json.read_json(JSON Lines): {base['bytes'] / 1e6:8.1f} MB in {base['seconds']:6.2f} s"
        f" = {base_rate:7.1f} MB/s, peak RSS {base['peak_rss_mb']:.0f} MB"
    )
    print(
        f"measured  iter_flatten + Parquet (6 tables):  {meas['bytes'] / 1e6:8.1f} MB in {meas['seconds']:6.2f} s"
        f" = {meas_rate:7.1f} MB/s, peak RSS {meas['peak_rss_mb']:.0f} MB"
        f" (parquet {meas['parquet_bytes'] / 1e6:.1f} MB, unknown-field occurrences {meas['unknown_fields']})"
    )
    print(
        f"ratio measured/baseline: {meas_rate / base_rate:.2f}x  (target >= 0.5x, aim 0.75x; peak RSS < 512 MB)"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "provider"))
    main()
