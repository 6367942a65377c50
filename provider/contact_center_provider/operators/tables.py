"""The one tables operator every vendor subclasses: a raw landing in, a set of tables out.

:class:`VendorTablesOperator` reads a published raw landing (through its manifest),
streams its objects through the vendor's pure transforms one at a time, and writes
``{base}/tables/{vendor}/{table}/{partition}/part-00000.{parquet,csv}`` for every table,
published together (:class:`~contact_center_provider.storage.table_set.TableSet`): a
failure half-way leaves the previous complete set, not a mix of old and new tables.
Every expected table is written even when empty, so a re-run of an interval that lost
its data replaces the old partition. Unknown vendor fields are counted, never a crash.

What a new vendor writes::

    class MyVendorTablesOperator(VendorTablesOperator):
        vendor = "my_vendor"

        def expected_tables(self, manifest) -> dict[str, pa.Schema]: ...
        def iter_tables(self, manifest, pages) -> Iterator[TableRows]: ...   # pure transforms

A :class:`TableRows` may name another partition than the landing's (a restatement
window re-exports earlier intervals and rewrites their partitions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from contact_center_provider.operators._common import LineageMixin, emit_asset_event, zone_asset
from contact_center_provider.storage.raw_zone import iter_pages, manifest_prefix, read_manifest
from contact_center_provider.storage.table_set import FORMATS, TableSet
from contact_center_provider.storage.zones import Partition

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class TableRows:
    """Rows for some tables, from one landed object (or part of one).

    :param tables: table name -> rows (an Arrow table with the table's schema).
    :param partition: where they belong (``None``: the landing's own partition).
    :param unknown_fields: vendor fields the schemas do not map, counted.
    """

    tables: Mapping[str, pa.Table]
    partition: Partition | None = None
    unknown_fields: Mapping[str, int] = field(default_factory=dict)


def landing_partition(manifest: Mapping[str, Any]) -> Partition:
    """The partition of a published landing (its ``interval`` and ``export_name``)."""
    if not manifest.get("interval"):
        raise ValueError(f"The landing at {manifest.get('prefix')} does not say its interval")
    return Partition.parse(str(manifest["interval"]), manifest.get("export_name"))


class VendorTablesOperator(LineageMixin, BaseOperator):
    """Turn a landed export into analysis-ready tables.

    :param raw_manifest: the export task's result (its ``prefix`` is read) or the raw prefix /
        ``_manifest.json`` URI. Templated.
    :param output_base_uri: base URI of the zones. Templated.
    :param formats: any of ``"parquet"``, ``"csv"``.
    :param output_conn_id: storage connection. Templated.

    Returns ``{"tables": {name: {format: uri}}, "rows": {name: n}, "partitions": [...],
    "unknown_fields": {...}}``, where ``tables`` and ``rows`` are those of the landing's own
    partition and ``partitions`` lists every partition written.
    """

    #: The vendor key (a level of the tables zone).
    vendor: ClassVar[str]

    template_fields: Sequence[str] = ("raw_manifest", "output_base_uri", "output_conn_id")

    def __init__(
        self,
        *,
        raw_manifest: Mapping[str, Any] | str,
        output_base_uri: str,
        formats: Sequence[str] = ("parquet",),
        output_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        unknown = set(formats) - set(FORMATS)
        if unknown or not formats:
            raise ValueError(
                f"{self.task_id}: formats must be a non-empty subset of {FORMATS}, got {formats}"
            )
        self.raw_manifest = raw_manifest
        self.output_base_uri = output_base_uri
        self.formats = tuple(formats)
        self.output_conn_id = output_conn_id
        #: Every published table set is announced on it (see emit_asset_event).
        self.tables_asset = zone_asset("tables", self.vendor, self.task_id)
        self.outlets = [*self.outlets, self.tables_asset]

    # -- what a vendor writes -----------------------------------------------------------------
    def expected_tables(self, manifest: Mapping[str, Any]) -> dict[str, pa.Schema]:
        """Every table this landing produces, with its schema (written even when empty)."""
        raise NotImplementedError

    def iter_tables(self, manifest: Mapping[str, Any], pages: Iterator[bytes]) -> Iterator[TableRows]:
        """Turn the landed objects (bytes, in landing order) into rows, one batch at a time."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------------------
    def read_landing(self) -> dict[str, Any]:
        raw = self.raw_manifest
        return read_manifest(manifest_prefix(raw if isinstance(raw, str) else dict(raw)), self.output_conn_id)

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any]:
        manifest = self.read_landing()
        own = landing_partition(manifest)
        unknown: Counter[str] = Counter()
        touched: dict[Partition, None] = {own: None}
        with TableSet(self.output_base_uri, self.vendor, self.formats, self.output_conn_id) as tables:
            for batch in self.iter_tables(manifest, iter_pages(manifest, self.output_conn_id)):
                partition = batch.partition or own
                touched[partition] = None
                unknown.update(batch.unknown_fields)
                for name, table in batch.tables.items():
                    tables.write(partition, name, table)
            tables.fill_empty(touched, self.expected_tables(manifest))
            uris = tables.publish()
        rows = {name: n for (partition, name), n in tables.rows.items() if partition == own}
        if unknown:
            self.log.warning("Fields not mapped by the table schemas (kept in raw): %s", dict(unknown))
        self.log.info("Wrote tables %s for %d partition(s)", rows, len(touched))
        base = self.output_base_uri.rstrip("/")
        self.lineage_inputs = [f"{base}/raw/{manifest.get('vendor', self.vendor)}/{manifest.get('dataset')}"]
        self.lineage_outputs = [f"{base}/tables/{self.vendor}/{name}" for name in uris[own]]
        emit_asset_event(
            context,
            self.tables_asset,
            f"{base}/tables/{self.vendor}",
            {
                "rows": rows,
                "interval": own.interval,
                "export": own.export,
                "partitions": [p.interval for p in touched],
                "source_jobs": manifest.get("job_ids"),
            },
        )
        return {
            "tables": uris[own],
            "rows": rows,
            "partitions": [p.to_dict() for p in touched],
            "unknown_fields": dict(unknown),
        }
