"""Streaming table writers that publish atomically and report a :class:`ManifestEntry`.

Each writer owns one :class:`~contact_center_provider.storage.atomic.AtomicWriter`:
nothing appears at the final URI until ``close()`` succeeds, and leaving the
``with`` block with an exception aborts (no object, no temp file, no dangling
multipart upload). Rows and stored bytes are counted as data goes through.

Tables are validated against the declared Arrow schema on every ``write``:
columns are matched by name (order does not matter), cast safely to the
declared types, and a missing column, an undeclared column, an impossible cast
or a null in a non-nullable field raises ``ValueError`` naming the URI and field.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import enum
import json
import uuid
from concurrent.futures import Executor, Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from contact_center_provider.storage.atomic import AtomicWriter
from contact_center_provider.storage.manifest import ManifestEntry

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CsvTableWriter",
    "ParquetTableWriter",
    "conform_table",
    "neutralize_formula_cells",
    "write_table",
]

DEFAULT_ROW_GROUP_SIZE = 128_000
# OWASP "CSV injection": spreadsheet apps treat these leading characters as a formula.
FORMULA_PREFIX_PATTERN = r"^[=+\-@\t\r]"


def conform_table(data: pa.Table | pa.RecordBatch, schema: pa.Schema, uri: str) -> pa.Table:
    """Return ``data`` as a table with exactly ``schema`` (names, order, types, metadata).

    :raises ValueError: naming ``uri`` and the field, for a missing or undeclared
        column, a type that cannot be cast safely, or nulls in a non-nullable field.
    :raises TypeError: if ``data`` is not an Arrow table or record batch.
    """
    import pyarrow as pa

    if isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif isinstance(data, pa.Table):
        table = data
    else:
        raise TypeError(f"{uri}: expected a pyarrow Table or RecordBatch, got {type(data).__name__}")
    names = table.schema.names
    declared = set(schema.names)
    for name in names:
        if name not in declared:
            raise ValueError(f"{uri}: field {name!r} is not in the declared schema")
        if names.count(name) > 1:
            raise ValueError(f"{uri}: field {name!r} appears more than once")
    columns = []
    for field in schema:
        if field.name not in names:
            raise ValueError(f"{uri}: field {field.name!r} ({field.type}) is missing from the data")
        column = table.column(field.name)
        if not column.type.equals(field.type):
            try:
                column = column.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
                raise ValueError(
                    f"{uri}: field {field.name!r} has type {column.type}, which does not cast to the "
                    f"declared {field.type}: {err}"
                ) from err
        if not field.nullable and column.null_count:
            raise ValueError(
                f"{uri}: field {field.name!r} is declared non-nullable but has {column.null_count} null(s)"
            )
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _neutralize_array(array: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        return pa.DictionaryArray.from_arrays(array.indices, _neutralize_array(array.dictionary))
    if pa.types.is_string_view(kind):
        return _neutralize_array(array.cast(pa.string())).cast(kind)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return array
    risky = pc.match_substring_regex(array, FORMULA_PREFIX_PATTERN)
    quoted = pc.binary_join_element_wise(pa.scalar("'", kind), array, pa.scalar("", kind))
    return pc.if_else(risky, quoted, array)


def _is_text(kind: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        return _is_text(kind.value_type)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind))


def neutralize_formula_cells(table: pa.Table) -> pa.Table:
    """Prefix ``'`` to text cells starting with ``=``, ``+``, ``-``, ``@``, tab or CR.

    Only text columns are touched: a negative number in a numeric column is a
    number to a spreadsheet, not a formula. The schema is unchanged.
    """
    import pyarrow as pa

    columns = []
    for column in table.columns:
        if _is_text(column.type):
            column = pa.chunked_array([_neutralize_array(c) for c in column.chunks], type=column.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


class _AtomicTableWriter:
    """Lifecycle shared by the writers: publish on close, discard on abort."""

    format = "binary"

    def __init__(
        self,
        uri: str,
        *,
        conn_id: str | None,
        table_name: str | None,
        transport_params: dict[str, Any] | None,
    ) -> None:
        self.uri = uri
        self.table_name = table_name
        self.rows = 0
        self._entry: ManifestEntry | None = None
        self._prepared = False
        self._atomic = AtomicWriter(uri, "wb", conn_id=conn_id, transport_params=transport_params)

    @property
    def bytes_written(self) -> int:
        """Bytes handed to the store so far (after compression; grows in chunks)."""
        return self._atomic.bytes_written

    @property
    def closed(self) -> bool:
        return self._atomic.state != "open"

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"{self.uri}: writer is {self._atomic.state}")

    def _finish(self) -> None:
        """Flush format-level buffers and footers into the atomic stream."""

    def _drop(self) -> None:
        """Release format-level resources after an abort."""

    def prepare(self) -> None:
        """Finish the file (buffers, footers) without publishing it; :meth:`close` publishes.

        Lets a caller finish several files before publishing any (a set of tables that must
        appear together). Idempotent; a failure aborts the write.
        """
        if self._prepared:
            return
        self._check_open()
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        self._prepared = True

    def close(self) -> ManifestEntry:
        """Finish the file, publish it at :attr:`uri` and return its manifest entry.

        Calling ``close()`` again returns the same entry. If finishing or
        publishing fails, the write is aborted and the error propagates.
        """
        if self._entry is not None:
            return self._entry
        self.prepare()
        self._atomic.commit()
        self._entry = ManifestEntry(
            uri=self.uri,
            rows=self.rows,
            bytes=self._atomic.bytes_written,
            format=self.format,
            table=self.table_name,
        )
        return self._entry

    def abort(self) -> None:
        """Discard everything; nothing is published. Idempotent."""
        if self._atomic.state != "open":
            return
        with contextlib.suppress(Exception):
            self._drop()
        self._atomic.abort()

    @property
    def entry(self) -> ManifestEntry | None:
        """The manifest entry once closed, else ``None``."""
        return self._entry

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class ParquetTableWriter(_AtomicTableWriter):
    """Stream Arrow tables/batches into one Parquet object with a fixed schema.

    Small writes are buffered and written as full row groups of
    ``row_group_size`` rows (the last one may be shorter), so many small pages
    from a vendor still give a well-shaped file. Memory is bounded by about one
    row group (``row_group_bytes`` bounds it for wide rows).

    :param uri: final URI or path (``.parquet``).
    :param schema: the declared Arrow schema; the file carries exactly this schema.
    :param conn_id: Airflow connection id for the object store.
    :param row_group_size: rows per row group.
    :param row_group_bytes: also end a row group as soon as the buffered rows hold this many
        bytes of Arrow data (``None``: rows only). Bounds memory when rows are wide.
    :param executor: encode and compress row groups on this executor (for example a one-thread
        pool shared by a set of tables), so that the caller computes the next rows meanwhile.
        At most one row group of this writer is in flight; an encoding error surfaces at the
        next ``write`` or at ``close``. The last row group is written by the closing thread.
    :param compression: Parquet codec (``zstd``, ``snappy``, ``gzip``, ``none``...).
    :param table_name: logical table name recorded in the manifest entry.
    :param transport_params: extra smart_open transport params.
    :param parquet_options: extra ``pyarrow.parquet.ParquetWriter`` keyword arguments.
    """

    format = "parquet"

    def __init__(
        self,
        uri: str,
        schema: pa.Schema,
        *,
        conn_id: str | None = None,
        row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        row_group_bytes: int | None = None,
        executor: Executor | None = None,
        compression: str = "zstd",
        table_name: str | None = None,
        transport_params: dict[str, Any] | None = None,
        **parquet_options: Any,
    ) -> None:
        import pyarrow.parquet as pq

        if row_group_size < 1:
            raise ValueError(f"{uri}: row_group_size must be positive, got {row_group_size}")
        if row_group_bytes is not None and row_group_bytes < 1:
            raise ValueError(f"{uri}: row_group_bytes must be positive, got {row_group_bytes}")
        super().__init__(uri, conn_id=conn_id, table_name=table_name, transport_params=transport_params)
        self.schema = schema
        self.row_group_size = row_group_size
        self.row_group_bytes = row_group_bytes
        self._executor = executor
        self._in_flight: Future[None] | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        try:
            self._writer = pq.ParquetWriter(
                self._atomic.stream, schema, compression=compression, **parquet_options
            )
        except BaseException:
            self._atomic.abort()
            raise

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        """Validate ``data`` against the schema and queue it for the next row group(s)."""
        self._check_open()
        table = conform_table(data, self.schema, self.uri)
        if table.num_rows == 0:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        if self._pending_rows >= self.row_group_size:
            self._flush(final=False)
        elif self.row_group_bytes is not None:
            self._pending_bytes += table.nbytes
            if self._pending_bytes >= self.row_group_bytes:
                self._flush(final=True)  # all buffered rows: one row group under row_group_size

    def _flush(self, *, final: bool, here: bool = False) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        combined = pa.concat_tables(self._pending)
        offset = 0
        size = self.row_group_size
        while combined.num_rows - offset >= size or (final and offset < combined.num_rows):
            chunk = combined.slice(offset, size)
            self._write_group(chunk, here=here)
            offset += chunk.num_rows
        rest = combined.slice(offset)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows
        self._pending_bytes = rest.nbytes if self.row_group_bytes is not None and rest.num_rows else 0

    def _write_group(self, chunk: pa.Table, *, here: bool) -> None:
        self._wait()  # one group in flight: bounded memory, and groups stay in order
        if self._executor is None or here:
            self._writer.write_table(chunk, row_group_size=chunk.num_rows)
        else:
            self._in_flight = self._executor.submit(
                self._writer.write_table, chunk, row_group_size=chunk.num_rows
            )

    def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def _finish(self) -> None:
        self._flush(final=True, here=True)
        self._wait()
        self._writer.close()

    def _drop(self) -> None:
        self._pending = []
        with contextlib.suppress(Exception):
            self._wait()  # the stream must not be written while it is being discarded
        self._writer.close()


class CsvTableWriter(_AtomicTableWriter):
    """Stream Arrow tables/batches into one CSV object (gzip if the URI ends in ``.gz``).

    Written by ``pyarrow.csv``: RFC 4180 quoting where needed, ``\\n`` line ends,
    nulls as empty cells, timestamps in ISO 8601.

    :param uri: final URI or path (``.csv`` or ``.csv.gz``).
    :param schema: the declared Arrow schema; nested columns (lists, structs) are written as JSON text.
    :param conn_id: Airflow connection id for the object store.
    :param neutralize_formulas: prefix ``'`` to text cells starting with ``=``,
        ``+``, ``-``, ``@``, tab or CR (for CSVs meant to be opened in a spreadsheet).
    :param header: write the header row.
    :param delimiter: one-character cell delimiter.
    :param table_name: logical table name recorded in the manifest entry.
    :param transport_params: extra smart_open transport params.
    """

    format = "csv"

    def __init__(
        self,
        uri: str,
        schema: pa.Schema,
        *,
        conn_id: str | None = None,
        neutralize_formulas: bool = False,
        header: bool = True,
        delimiter: str = ",",
        table_name: str | None = None,
        transport_params: dict[str, Any] | None = None,
    ) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # CSV has no nested values: lists and structs are written as JSON text.
        self._nested = [field.name for field in schema if pa.types.is_nested(field.type)]
        csv_schema = pa.schema(
            [pa.field(f.name, pa.string(), nullable=True) if f.name in self._nested else f for f in schema]
        )
        super().__init__(uri, conn_id=conn_id, table_name=table_name, transport_params=transport_params)
        self.schema = schema
        self.neutralize_formulas = neutralize_formulas
        try:
            options = pacsv.WriteOptions(include_header=header, delimiter=delimiter)
            self._writer = pacsv.CSVWriter(self._atomic.stream, csv_schema, write_options=options)
        except BaseException:
            self._atomic.abort()
            raise

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        """Validate ``data`` against the schema and append its rows."""
        self._check_open()
        import pyarrow as pa

        table = conform_table(data, self.schema, self.uri)
        for name in self._nested:
            index = table.schema.get_field_index(name)
            as_json = [
                None if v is None else json.dumps(v, default=_json_default) for v in table[name].to_pylist()
            ]
            table = table.set_column(index, pa.field(name, pa.string()), pa.array(as_json, pa.string()))
        if self.neutralize_formulas:
            table = neutralize_formula_cells(table)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def _finish(self) -> None:
        self._writer.close()

    def _drop(self) -> None:
        self._writer.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_table(
    uri: str,
    table: pa.Table,
    *,
    fmt: Literal["parquet", "csv"] = "parquet",
    conn_id: str | None = None,
    schema: pa.Schema | None = None,
    table_name: str | None = None,
    **writer_options: Any,
) -> ManifestEntry:
    """Write a whole table to ``uri`` atomically in one call; return its manifest entry.

    :param schema: declared schema (defaults to ``table.schema``).
    :param writer_options: passed to :class:`ParquetTableWriter` or :class:`CsvTableWriter`.
    """
    declared = schema if schema is not None else table.schema
    writer: ParquetTableWriter | CsvTableWriter
    if fmt == "parquet":
        writer = ParquetTableWriter(uri, declared, conn_id=conn_id, table_name=table_name, **writer_options)
    elif fmt == "csv":
        writer = CsvTableWriter(uri, declared, conn_id=conn_id, table_name=table_name, **writer_options)
    else:
        raise ValueError(f"{uri}: unknown table format {fmt!r} (expected 'parquet' or 'csv')")
    with writer:
        writer.write(table)
    return writer.close()
