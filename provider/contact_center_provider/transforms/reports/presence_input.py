"""Presence and routing-status records grouped by user, in memory bounded by a row budget.

The tables are in whatever order the export wrote them. To hand out one user's records
at a time without loading a whole day of an organisation, rows are first spread over
*buckets* by a hash of the user id, a batch at a time, into Arrow IPC files in a
scratch folder; then each bucket (a slice of the users, with all their records) is
read back, sorted by user and handed out user by user. With fewer rows than the budget
there is one bucket and nothing is spilled. Memory is one batch while spreading and
one bucket while grouping, whatever the number of users.
"""

from __future__ import annotations

import math
import os
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from contact_center_provider.transforms.reports.sources import TableSource, present

__all__ = ["DEFAULT_MAX_ROWS", "PRESENCE_COLUMNS", "ROUTING_COLUMNS", "UserRecords", "iter_user_records"]

#: Rows (presence + routing) held in memory at once; about 25 MB of Arrow data.
DEFAULT_MAX_ROWS = 250_000
PRESENCE_COLUMNS = ("user_id", "start_time", "end_time", "system_presence", "organization_presence_id")
ROUTING_COLUMNS = ("user_id", "start_time", "end_time", "routing_status")
_MS = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True)
class UserRecords:
    """One user's records in table order: ``(start_ms, end_ms, status, definition id)``.

    ``start_ms``/``end_ms`` are epoch milliseconds or ``None`` (missing start, open end).
    Routing records carry ``None`` as definition id.
    """

    user_id: str
    presence: list[tuple[int | None, int | None, str | None, str | None]]
    routing: list[tuple[int | None, int | None, str | None, str | None]]


def _normalise(batch: pa.RecordBatch | pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """Keep ``columns`` (missing ones null), times as int64 epoch ms, rows with a user id."""
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    arrays: list[Any] = []
    for name in columns:
        if name in table.column_names:
            column = table.column(name)
            if name in ("start_time", "end_time"):
                column = column.cast(_MS).cast(pa.int64())
            elif column.type != pa.string():
                column = column.cast(pa.string())
        else:
            column = pa.nulls(table.num_rows, pa.int64() if name.endswith("_time") else pa.string())
        arrays.append(column)
    out = pa.Table.from_arrays(arrays, names=list(columns))
    return out.filter(pc.is_valid(out.column("user_id")))


def _records(table: pa.Table, kind: str) -> list[tuple[int | None, int | None, str | None, str | None]]:
    starts = table.column("start_time").to_pylist()
    ends = table.column("end_time").to_pylist()
    if kind == "presence":
        statuses = table.column("system_presence").to_pylist()
        ids = table.column("organization_presence_id").to_pylist()
    else:
        statuses = table.column("routing_status").to_pylist()
        ids = [None] * len(starts)
    return list(zip(starts, ends, statuses, ids, strict=True))


def _runs(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    """``(user_id, rows)`` per user of a table sorted by user id."""
    if table.num_rows == 0:
        return
    encoded = pc.run_end_encode(table.column("user_id").combine_chunks())
    offset = 0
    for user_id, run_end in zip(encoded.values.to_pylist(), encoded.run_ends.to_pylist(), strict=True):
        yield user_id, table.slice(offset, run_end - offset)
        offset = run_end


def _group(presence: pa.Table, routing: pa.Table) -> Iterator[UserRecords]:
    """Hand out the users of one bucket (stable sort: each user's rows keep table order)."""
    by_user = [("user_id", "ascending")]
    p_runs = _runs(presence.take(pc.sort_indices(presence, sort_keys=by_user)))
    r_runs = _runs(routing.take(pc.sort_indices(routing, sort_keys=by_user)))
    p_next, r_next = next(p_runs, None), next(r_runs, None)
    while p_next is not None or r_next is not None:
        user = min(run[0] for run in (p_next, r_next) if run is not None)
        p_rows = r_rows = None
        if p_next is not None and p_next[0] == user:
            p_rows, p_next = p_next[1], next(p_runs, None)
        if r_next is not None and r_next[0] == user:
            r_rows, r_next = r_next[1], next(r_runs, None)
        yield UserRecords(
            user,
            _records(p_rows, "presence") if p_rows is not None else [],
            _records(r_rows, "routing") if r_rows is not None else [],
        )


def _bucket_of(user_ids: pa.Array, buckets: int) -> pa.Array:
    encoded = pc.dictionary_encode(user_ids)
    # crc32, not hash(): the spread (and so the work per bucket) is the same on every run.
    of_value = pa.array(
        [zlib.crc32(u.encode()) % buckets for u in encoded.dictionary.to_pylist()], pa.int32()
    )
    return pc.take(of_value, encoded.indices)


def _spill(
    source: TableSource, columns: tuple[str, ...], buckets: int, directory: str, kind: str
) -> list[str]:
    paths = [os.path.join(directory, f"{kind}-{b:04d}.arrow") for b in range(buckets)]
    writers: list[ipc.RecordBatchFileWriter | None] = [None] * buckets
    try:
        for batch in source.iter_batches(present(source, columns)):
            table = _normalise(batch, columns)
            if table.num_rows == 0:
                continue
            assignment = _bucket_of(table.column("user_id").combine_chunks(), buckets)
            for b in range(buckets):
                part = table.filter(pc.equal(assignment, b))
                if part.num_rows:
                    writer = writers[b]
                    if writer is None:
                        writer = writers[b] = ipc.new_file(paths[b], part.schema)
                    writer.write_table(part)
    finally:
        for writer in writers:
            if writer is not None:
                writer.close()
    return paths


def _empty(columns: tuple[str, ...]) -> pa.Table:
    return _normalise(pa.table({"user_id": pa.array([], pa.string())}), columns)


def _read_spilled(path: str, columns: tuple[str, ...]) -> pa.Table:
    if not os.path.exists(path):
        return _empty(columns)
    with pa.OSFile(path) as source:
        return ipc.open_file(source).read_all()


def iter_user_records(
    presence: TableSource,
    routing: TableSource,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    spill_dir: str | None = None,
) -> Iterator[UserRecords]:
    """Yield every user's presence and routing records, one user at a time.

    Users come bucket by bucket (in an order fixed by their ids, not sorted by name).

    :param max_rows: rows held in memory at once; above it, rows are spilled to ``spill_dir``.
    :param spill_dir: scratch folder for the spilled buckets (default: the system temp folder).
    """
    total = presence.num_rows + routing.num_rows
    if total <= max_rows:
        p_all = [_normalise(b, PRESENCE_COLUMNS) for b in presence.iter_batches(PRESENCE_COLUMNS)]
        r_all = [_normalise(b, ROUTING_COLUMNS) for b in routing.iter_batches(ROUTING_COLUMNS)]
        yield from _group(
            pa.concat_tables(p_all) if p_all else _empty(PRESENCE_COLUMNS),
            pa.concat_tables(r_all) if r_all else _empty(ROUTING_COLUMNS),
        )
        return
    # Twice the minimum: hashing spreads users unevenly.
    buckets = max(2, math.ceil(2 * total / max_rows))
    with tempfile.TemporaryDirectory(prefix="cc-presence-", dir=spill_dir) as directory:
        pool = pa.default_memory_pool()
        p_paths = _spill(presence, PRESENCE_COLUMNS, buckets, directory, "presence")
        r_paths = _spill(routing, ROUTING_COLUMNS, buckets, directory, "routing")
        # Arrow's allocator keeps freed memory for reuse; hand it back between phases so the
        # process's footprint is one bucket, not the high-water mark of every step.
        pool.release_unused()
        for p_path, r_path in zip(p_paths, r_paths, strict=True):
            p_table, r_table = _read_spilled(p_path, PRESENCE_COLUMNS), _read_spilled(r_path, ROUTING_COLUMNS)
            yield from _group(p_table, r_table)
            del p_table, r_table
            pool.release_unused()
            for path in (p_path, r_path):
                if os.path.exists(path):
                    os.unlink(path)
