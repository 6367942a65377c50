"""NICE CXone Data Extraction result files (CSV) -> Arrow tables with explicit schemas.

* **QM Workflows** (``qm-workflows``, any version): the 37 columns the vendor documents, typed —
  UTC timestamps, booleans (``Auto Acknowledged`` is empty for self-assessments, hence
  nullable), numbers — under the snake_case names of :data:`QM_WORKFLOWS_COLUMNS`. Columns
  are matched by header (case, spacing and dash style do not matter), never by position. A
  column the document does not list is left out of the table, kept in the raw zone and counted
  (``unknown_columns``); a documented column the file lacks is null and reported
  (``missing_columns``).
* **Any other entity or version** (recording interaction metadata, WFM payroll, ...): every
  column as nullable text, named by :func:`snake_case` of its header, so a new entity needs
  no code.

An empty cell is null (CSV cannot tell an empty string from a missing value). A value that
does not fit its declared type fails with the column, the data row number and the value.
The whole file is never held in memory: batches are read and converted one at a time.

Format facts the document does not give, and the choices made (all unverified): UTF-8 with
or without a byte-order mark; RFC 4180 quoting (values may hold separators, quotes and line
breaks); timestamps in ISO 8601 (``2024-05-01T09:13:27.123Z``), also accepted as
``YYYY-MM-DD HH:MM:SS[.fff]`` and US ``M/D/YYYY h:mm[:ss] [AM|PM]``, read as UTC when they
carry no offset (the document says every date is UTC); booleans ``TRUE/FALSE`` in any case
(also ``1/0``, ``yes/no``).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from contact_center_provider.transforms.nice_cxone_columns import (
    HEADER_PROBE,
    QM_BY_HEADER,
    QM_WORKFLOWS_COLUMNS,
    QM_WORKFLOWS_ENTITY,
    CsvRowCounter,
    Kind,
    is_typed_entity,
    normalize_header,
    snake_case,
    table_name,
)

__all__ = [
    "QM_WORKFLOWS_COLUMNS",
    "QM_WORKFLOWS_ENTITY",
    "QM_WORKFLOWS_SCHEMA",
    "CsvRowCounter",
    "ExtractReader",
    "ExtractStats",
    "is_typed_entity",
    "read_extract_table",
    "snake_case",
    "table_name",
]

_ARROW_TYPES: dict[Kind, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
}

QM_WORKFLOWS_SCHEMA = pa.schema(
    [pa.field(name, _ARROW_TYPES[kind], nullable=True) for _, name, kind in QM_WORKFLOWS_COLUMNS],
    metadata={b"vendor": b"nice_cxone", b"entity": QM_WORKFLOWS_ENTITY.encode()},
)

_BATCH_BYTES = 4 * 1024 * 1024
_TRUE = ("true", "1", "yes", "y")
_FALSE = ("false", "0", "no", "n")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_TIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")


@dataclass
class ExtractStats:
    """What a read found besides rows.

    :param rows: data rows read.
    :param unknown_columns: headers the typed schema does not hold (kept in raw only).
    :param missing_columns: documented headers the file lacks (null in the table).
    """

    rows: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


class _Prefixed(io.RawIOBase):
    """A binary stream that first replays bytes already read from another stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._head.nbytes:
            n = min(len(view), self._head.nbytes)
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _read_header(stream: IO[bytes], what: str) -> tuple[list[str], bytes, bool]:
    """The header row (parsed like the data), every byte read so far, and whether rows follow."""
    head = b""
    while True:
        chunk = stream.read(HEADER_PROBE)
        head += chunk
        text = codecs.getincrementaldecoder("utf-8")("replace").decode(head)
        if text.startswith("\ufeff"):
            text = text[1:]
        rows = csv.reader(io.StringIO(text, newline=""))
        first = next(rows, None)
        following = next((row for row in rows if row), None)  # blank lines are no rows
        if first is not None and (following is not None or not chunk):
            return first, head, following is not None
        if not chunk:
            raise ValueError(f"{what}: the result file is empty (not even a header row)")


def _parse_timestamp(value: str) -> datetime:
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class ExtractReader:
    """Read one Data Extraction result file batch by batch, converted to its table schema.

    :param source: the file's bytes, or a binary stream positioned at its start.
    :param entity: the entity name (``qm-workflows``...), which decides typed or text columns.
    :param version: the entity version (recorded in the schema metadata).
    :param what: how to name the file in errors (e.g. the raw object's URI).
    :param block_size: bytes of CSV per batch (memory use is a small multiple of it).

    Iterate for :class:`pyarrow.RecordBatch` objects of :attr:`schema`; :attr:`stats` is
    complete once the iteration ends.
    """

    def __init__(
        self,
        source: bytes | IO[bytes],
        entity: str,
        version: str,
        *,
        what: str = "",
        block_size: int = _BATCH_BYTES,
    ) -> None:
        self.block_size = block_size
        self.entity = entity
        self.version = version
        self.what = what or f"NICE CXone {entity} v{version} result"
        stream: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
        self.headers, head, self._has_rows = _read_header(stream, self.what)
        self._stream = io.BufferedReader(_Prefixed(head, stream), buffer_size=_BATCH_BYTES)
        self.stats = ExtractStats()
        self._plan: list[tuple[str, Kind, int | None]] = []  # (column, kind, source position)
        if is_typed_entity(entity):
            positions: dict[str, int] = {}
            for index, header in enumerate(self.headers):
                known = QM_BY_HEADER.get(normalize_header(header))
                if known is None or known[0] in positions:
                    self.stats.unknown_columns.append(header)
                else:
                    positions[known[0]] = index
            for header, name, kind in QM_WORKFLOWS_COLUMNS:
                if name not in positions:
                    self.stats.missing_columns.append(header)
                self._plan.append((name, kind, positions.get(name)))
            base = QM_WORKFLOWS_SCHEMA
        else:
            seen: dict[str, int] = {}
            for index, header in enumerate(self.headers):
                name = snake_case(header)
                seen[name] = seen.get(name, 0) + 1
                self._plan.append((name if seen[name] == 1 else f"{name}_{seen[name]}", "string", index))
            base = pa.schema([pa.field(name, pa.string(), nullable=True) for name, _, _ in self._plan])
        self.schema = base.with_metadata(
            {b"vendor": b"nice_cxone", b"entity": entity.encode(), b"version": version.encode()}
        )

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if not self._has_rows:
            return  # Arrow cannot read a file that holds nothing after its skipped header
        width = len(self.headers)
        options = {
            "read_options": pacsv.ReadOptions(
                skip_rows=1, autogenerate_column_names=True, block_size=self.block_size
            ),
            "parse_options": pacsv.ParseOptions(newlines_in_values=True),
            "convert_options": pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(width)},
                # Only an empty cell is null: Arrow's default list would turn a comment reading
                # "N/A", "NULL" or "nan" into a missing value.
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        }
        try:
            reader = pacsv.open_csv(self._stream, **options)
        except pa.ArrowInvalid as exc:
            raise self._malformed(exc) from None
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise self._malformed(exc) from None
            yield self._convert(batch)
            self.stats.rows += batch.num_rows

    def _malformed(self, exc: Exception) -> ValueError:
        detail = str(exc) if len(str(exc)) <= 200 else str(exc)[:197] + "..."
        return ValueError(
            f"{self.what}: the CSV is malformed after data row {self.stats.rows}: {detail}. "
            "The file is kept unchanged in the raw zone."
        )

    def _convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays = []
        for name, kind, position in self._plan:
            if position is None:
                arrays.append(pa.nulls(batch.num_rows, _ARROW_TYPES[kind]))
            else:
                arrays.append(self._cast(batch.column(position), name, kind))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _fail(self, name: str, kind: str, index: int, value: object) -> ValueError:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        return ValueError(
            f"{self.what}: column {name!r} expects {kind}, data row {self.stats.rows + index + 1} holds "
            f"{shown}. The file is kept unchanged in the raw zone."
        )

    def _cast(self, column: pa.Array, name: str, kind: Kind) -> pa.Array:
        if kind == "string":
            return column
        if kind == "bool":
            lowered = pc.utf8_lower(pc.utf8_trim_whitespace(column))
            truthy = pc.is_in(lowered, value_set=pa.array(_TRUE))
            falsy = pc.is_in(lowered, value_set=pa.array(_FALSE))
            bad = pc.and_(pc.is_valid(column), pc.invert(pc.or_(truthy, falsy)))
            if pc.any(bad).as_py():
                index = pc.index(bad, True).as_py()
                raise self._fail(name, "a boolean (TRUE/FALSE)", index, column[index].as_py())
            return pc.if_else(pc.is_valid(column), truthy, pa.scalar(None, pa.bool_()))
        if kind in ("int", "double"):
            target = _ARROW_TYPES[kind]
            trimmed = pc.utf8_trim_whitespace(column)
            try:
                return pc.cast(trimmed, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                for index, value in enumerate(trimmed.to_pylist()):
                    try:
                        pc.cast(pa.array([value]), target)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        raise self._fail(
                            name, "an integer" if kind == "int" else "a number", index, value
                        ) from None
                raise
        values: list[int | None] = []
        for index, value in enumerate(column.to_pylist()):
            if value is None:
                values.append(None)
                continue
            try:
                stamp = _parse_timestamp(value)
            except ValueError:
                raise self._fail(name, "a UTC timestamp", index, value) from None
            values.append((stamp - _EPOCH) // _MILLISECOND)
        return pa.array(values, type=pa.int64()).cast(_ARROW_TYPES["timestamp"])


def read_extract_table(
    source: bytes | IO[bytes], entity: str, version: str, *, what: str = ""
) -> tuple[pa.Table, ExtractStats]:
    """Read a whole result file into one table (convenience for small files and tests)."""
    reader = ExtractReader(source, entity, version, what=what)
    batches = list(reader)
    return pa.Table.from_batches(batches, schema=reader.schema), reader.stats
