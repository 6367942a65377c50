"""Report inputs read in batches: an in-memory Arrow table, or Parquet files read a row group at a time.

The report builders that must scale (presence, call detail) take :class:`TableSource`
objects instead of whole tables, ask only for the columns they use, and never hold
more than a batch (or an Arrow aggregate) of an input at once. Opening a file is left
to the caller (a path, or a callable returning a seekable binary stream), so this
module does no storage I/O of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["DEFAULT_BATCH_ROWS", "ArrowSource", "ParquetSource", "TableSource"]

#: Rows per batch: large enough for Arrow kernels to pay off, small enough to bound memory.
DEFAULT_BATCH_ROWS = 65_536

Opener = str | Callable[[], IO[bytes]]


class TableSource(Protocol):
    """One input table, readable in batches of the columns a builder needs."""

    @property
    def name(self) -> str: ...

    @property
    def schema(self) -> pa.Schema: ...

    @property
    def num_rows(self) -> int: ...

    def iter_batches(
        self, columns: Sequence[str], batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]: ...


def present(source: TableSource, columns: Sequence[str]) -> list[str]:
    """The subset of ``columns`` the source has (optional columns may be missing)."""
    names = set(source.schema.names)
    return [c for c in columns if c in names]


def read_columns(source: TableSource, columns: Sequence[str]) -> pa.Table:
    """Read ``columns`` of ``source`` into one table (for inputs an Arrow aggregate needs whole)."""
    wanted = present(source, columns)
    schema = pa.schema([source.schema.field(c) for c in wanted])
    batches = list(source.iter_batches(wanted))
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()


class ArrowSource:
    """A source over a table already in memory (tests, small lookups, custom builders)."""

    def __init__(self, table: pa.Table, name: str = "table") -> None:
        self._table = table
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def schema(self) -> pa.Schema:
        return self._table.schema

    @property
    def num_rows(self) -> int:
        return int(self._table.num_rows)

    def iter_batches(
        self, columns: Sequence[str], batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        yield from self._table.select(present(self, columns)).to_batches(max_chunksize=batch_rows)


class ParquetSource:
    """Parquet files read a batch at a time (row groups are never loaded whole into Python).

    :param name: the input's name, for error messages.
    :param files: local paths, or callables that open a seekable binary stream (closed after use).
    """

    def __init__(self, name: str, files: Sequence[Opener]) -> None:
        if not files:
            raise ValueError(f"input {name!r} has no Parquet files")
        self._name = name
        self._files = list(files)
        self._schema: pa.Schema | None = None
        self._rows: int | None = None

    @property
    def name(self) -> str:
        return self._name

    def _open(self, opener: Opener) -> tuple[pq.ParquetFile, IO[bytes] | None]:
        if isinstance(opener, str):
            return pq.ParquetFile(opener), None
        handle = opener()
        try:
            return pq.ParquetFile(handle), handle
        except BaseException:
            handle.close()
            raise

    def _inspect(self) -> None:
        schema: pa.Schema | None = None
        rows = 0
        for opener in self._files:
            parquet, handle = self._open(opener)
            try:
                file_schema = parquet.schema_arrow
                rows += parquet.metadata.num_rows
            finally:
                if handle is not None:
                    handle.close()
            if schema is None:
                schema = file_schema
            else:
                extra = [f for f in file_schema if f.name not in schema.names]
                for f in extra:
                    schema = schema.append(f)
        self._schema, self._rows = schema, rows

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:
            self._inspect()
        assert self._schema is not None
        return self._schema

    @property
    def num_rows(self) -> int:
        if self._rows is None:
            self._inspect()
        assert self._rows is not None
        return self._rows

    def iter_batches(
        self, columns: Sequence[str], batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        wanted = present(self, columns)
        target = pa.schema([self.schema.field(c) for c in wanted])
        for opener in self._files:
            parquet, handle = self._open(opener)
            try:
                have = [c for c in wanted if c in parquet.schema_arrow.names]
                # One decoding thread: Arrow's per-thread allocator caches cost more memory
                # than the parallel decode of a row group saves time here.
                for batch in parquet.iter_batches(batch_size=batch_rows, columns=have, use_threads=False):
                    yield _conform(batch, target)
            finally:
                if handle is not None:
                    handle.close()


def _conform(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """Give a batch the target's columns and types (a column a file lacks becomes null)."""
    arrays: list[Any] = []
    for field in target:
        index = batch.schema.get_field_index(field.name)
        column = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, field.type)
        arrays.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=target)
