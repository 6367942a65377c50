"""A set of tables written together and published together.

The tables an interval produces (conversations, participants, sessions...) are read
side by side, so a reader must never see new ``participants`` beside old
``conversations``. :class:`TableSet` streams every (partition, table, format) into its
own atomic writer, then :meth:`TableSet.publish` finishes *every* file before
publishing *any*: a failure while computing or writing any table (bad vendor data, a
full disk) publishes nothing and leaves the previous complete set readable. What is
left is the publication itself — one rename (local) or multipart completion (object
stores) per file, back to back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from contact_center_provider.storage.zones import Partition, table_uri

if TYPE_CHECKING:
    import pyarrow as pa

#: Table formats a set can hold.
FORMATS = ("parquet", "csv")

#: Parquet settings of every table in a set. No dictionary encoding: the tables repeat ids
#: (UUIDs) on every child row, where dictionaries overflow and fall back page by page; without
#: them the Genesys tables come out ~12% smaller under zstd and encode with 15-20% less CPU
#: (measured with ``benchmarks/genesys_transform.py``'s data). A row group ends at 128k rows or
#: 8 MB of Arrow data, so what a set buffers stays bounded (about 8 MB a table, plus one group
#: a table being encoded) however wide the rows are.
PARQUET_OPTIONS: dict[str, Any] = {"use_dictionary": False, "row_group_bytes": 8 << 20}
#: Files finished side by side at publication (their last row groups are encoded then).
_FINISH_THREADS = 2


@dataclass
class TableSet:
    """Writers for ``{base}/tables/{vendor}/{table}/{partition}/part-00000.{fmt}``.

    :param base: base URI of the zones.
    :param vendor: vendor key (a level of the tables zone).
    :param formats: any of ``"parquet"``, ``"csv"``.
    :param conn_id: storage connection.
    """

    base: str
    vendor: str
    formats: tuple[str, ...] = ("parquet",)
    conn_id: str | None = None
    _writers: dict[tuple[Partition, str, str], Any] = field(default_factory=dict)
    rows: dict[tuple[Partition, str], int] = field(default_factory=dict)
    #: Encodes full Parquet row groups while the caller computes the next rows.
    _encoder: ThreadPoolExecutor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.formats) - set(FORMATS)
        if unknown or not self.formats:
            raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {self.formats}")

    def write(self, partition: Partition, name: str, table: pa.Table) -> None:
        """Append ``table`` to table ``name`` of ``partition`` (the first call fixes its schema)."""
        from contact_center_provider.storage.writers import CsvTableWriter, ParquetTableWriter

        for fmt in self.formats:
            key = (partition, name, fmt)
            writer = self._writers.get(key)
            if writer is None:
                uri = table_uri(self.base, self.vendor, name, partition, fmt)
                if fmt == "parquet":
                    if self._encoder is None:
                        self._encoder = ThreadPoolExecutor(1, thread_name_prefix="table-set-encoder")
                    writer = ParquetTableWriter(
                        uri,
                        table.schema,
                        conn_id=self.conn_id,
                        table_name=name,
                        executor=self._encoder,
                        **PARQUET_OPTIONS,
                    )
                else:
                    writer = CsvTableWriter(uri, table.schema, conn_id=self.conn_id, table_name=name)
                self._writers[key] = writer
            writer.write(table)
        self.rows[(partition, name)] = self.rows.get((partition, name), 0) + table.num_rows

    def has(self, partition: Partition, name: str) -> bool:
        return (partition, name, self.formats[0]) in self._writers

    def fill_empty(self, partitions: Iterable[Partition], schemas: Mapping[str, pa.Schema]) -> None:
        """Write every expected table that got no rows, so a re-run replaces a stale partition."""
        import pyarrow as pa

        for partition in partitions:
            for name, schema in schemas.items():
                if not self.has(partition, name):
                    self.write(partition, name, pa.Table.from_batches([], schema=schema))

    def publish(self) -> dict[Partition, dict[str, dict[str, str]]]:
        """Finish every file, then publish them all; return ``{partition: {table: {fmt: uri}}}``."""
        with ThreadPoolExecutor(_FINISH_THREADS, thread_name_prefix="table-set-finish") as pool:
            for finished in [pool.submit(writer.prepare) for writer in self._writers.values()]:
                finished.result()
        self._stop_encoder()
        uris: dict[Partition, dict[str, dict[str, str]]] = {}
        for (partition, name, fmt), writer in self._writers.items():
            writer.close()
            uris.setdefault(partition, {}).setdefault(name, {})[fmt] = writer.uri
        return uris

    def abort(self) -> None:
        """Discard every unpublished file (nothing appears where readers look)."""
        for writer in self._writers.values():
            writer.abort()
        self._stop_encoder()

    def _stop_encoder(self) -> None:
        if self._encoder is not None:
            self._encoder.shutdown()
            self._encoder = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
