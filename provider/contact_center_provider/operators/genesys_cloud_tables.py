"""Turn landed Genesys Cloud pages into Parquet (and CSV) tables in the tables zone.

Reads the raw landing's manifest, streams its pages through the pure transforms in
:mod:`contact_center_provider.transforms` (one page in memory at a time), and writes
one file per table under ``{base}/tables/genesys_cloud/{table}/interval_start=.../``.
Each file is published atomically: readers see the previous version or the new one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from airflow.sdk import BaseOperator

from contact_center_provider.operators._common import as_utc_datetime, resolve_interval
from contact_center_provider.storage.raw_zone import iter_pages, read_manifest
from contact_center_provider.storage.zones import table_uri

VENDOR = "genesys_cloud"
FORMATS = ("parquet", "csv")


def partition_start(
    context: Mapping[str, Any], manifest: Mapping[str, Any], override: Any = None, *, task_id: str = "task"
) -> datetime:
    """The partition of what derives from a landing: the landing's own interval.

    An export may override its interval (e.g. nine days ending at the run's end); the
    tables and enrichment made from it must land in the same partition, not the run's.
    """
    if override:
        return as_utc_datetime(override, "interval_start")
    if manifest.get("interval"):
        return as_utc_datetime(str(manifest["interval"]).split("/")[0], "interval")
    return resolve_interval(context, task_id=task_id)[0]


def _manifest_prefix(manifest: Mapping[str, Any] | str) -> str:
    if isinstance(manifest, str):
        return manifest.removesuffix("/_manifest.json")
    return str(manifest["prefix"])


class _TableSink:
    """Lazily opened writers, one per (table, format), all aborted if anything fails."""

    def __init__(
        self,
        stack: ExitStack,
        base: str,
        interval_start: datetime,
        formats: Sequence[str],
        conn_id: str | None,
        export: str | None,
    ) -> None:
        self.stack = stack
        self.base = base
        self.interval_start = interval_start
        self.formats = formats
        self.conn_id = conn_id
        self.export = export
        self.writers: dict[tuple[str, str], Any] = {}

    def write(self, name: str, table: Any) -> None:
        from contact_center_provider.storage.writers import CsvTableWriter, ParquetTableWriter

        for fmt in self.formats:
            writer: Any = self.writers.get((name, fmt))
            if writer is None:
                uri = table_uri(self.base, VENDOR, name, self.interval_start, fmt, self.export)
                cls = ParquetTableWriter if fmt == "parquet" else CsvTableWriter
                writer = self.stack.enter_context(cls(uri, table.schema, conn_id=self.conn_id))
                self.writers[(name, fmt)] = writer
            writer.write(table)


class GenesysCloudTablesOperator(BaseOperator):
    """Flatten a landed conversation or user details export into analysis-ready tables.

    Conversations give ``conversations``, ``participants``, ``sessions``, ``segments``,
    ``session_metrics`` and ``participant_attributes``; user details give ``presence`` and
    ``routing_status``. Schemas are in :mod:`contact_center_provider.transforms.genesys_schemas`.
    Every table is written even when empty, so a re-run of an interval that lost its
    data replaces the old partition instead of leaving it behind.

    Fields the vendor sent that the schemas do not map are counted (``unknown_fields`` in
    the result) and kept in the raw zone; they never fail the task.

    :param raw_manifest: the export task's result (its ``prefix`` is read) or the raw
        prefix / ``_manifest.json`` URI. Templated.
    :param output_base_uri: base URI of the zones. Templated.
    :param entities_manifest: the enrichment task's result; when set, ``participant_attributes``
        come from the fetched conversations instead of the pages. Templated.
    :param formats: any of ``"parquet"``, ``"csv"``.
    :param output_conn_id: storage connection. Templated.
    :param interval_start: override of the partition (default: the landing's interval start). Templated.

    Returns ``{"tables": {name: {format: uri}}, "rows": {name: n}, "unknown_fields": {...}}``.
    """

    template_fields: Sequence[str] = (
        "raw_manifest",
        "entities_manifest",
        "output_base_uri",
        "output_conn_id",
        "interval_start",
    )

    def __init__(
        self,
        *,
        raw_manifest: Mapping[str, Any] | str,
        output_base_uri: str,
        entities_manifest: Mapping[str, Any] | str | None = None,
        formats: Sequence[str] = ("parquet",),
        output_conn_id: str | None = None,
        interval_start: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        unknown = set(formats) - set(FORMATS)
        if unknown or not formats:
            raise ValueError(
                f"{self.task_id}: formats must be a non-empty subset of {FORMATS}, got {formats}"
            )
        self.raw_manifest = raw_manifest
        self.entities_manifest = entities_manifest
        self.output_base_uri = output_base_uri
        self.formats = tuple(formats)
        self.output_conn_id = output_conn_id
        self.interval_start = interval_start

    def _results(self, manifest: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], Counter[str]]]:
        pages = iter_pages(dict(manifest), self.output_conn_id)
        if manifest.get("dataset") == "users":
            from contact_center_provider.transforms.genesys_users import flatten_user_details_page

            for raw in pages:
                yield flatten_user_details_page(raw), Counter()
            return
        from contact_center_provider.transforms.genesys_conversations import iter_flatten

        for result in iter_flatten(pages):
            yield result.tables, result.unknown_fields

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any]:
        manifest = read_manifest(_manifest_prefix(self.raw_manifest), self.output_conn_id)
        start = partition_start(context, manifest, self.interval_start, task_id=self.task_id)
        entities = None
        if self.entities_manifest:
            entities = read_manifest(_manifest_prefix(self.entities_manifest), self.output_conn_id)
        unknown: Counter[str] = Counter()
        rows: Counter[str] = Counter()
        with ExitStack() as stack:
            sink = _TableSink(
                stack,
                self.output_base_uri,
                start,
                self.formats,
                self.output_conn_id,
                manifest.get("export_name"),
            )
            for tables, unknown_fields in self._results(manifest):
                unknown.update(unknown_fields)
                for name, table in tables.items():
                    if name == "participant_attributes" and entities is not None:
                        continue
                    sink.write(name, table)
                    rows[name] += table.num_rows
            if entities is not None:
                from contact_center_provider.transforms.genesys_conversations import (
                    participant_attributes_from_entities,
                )

                for raw in iter_pages(entities, self.output_conn_id):
                    table = participant_attributes_from_entities(raw.splitlines())
                    sink.write("participant_attributes", table)
                    rows["participant_attributes"] += table.num_rows
            for name, table in self._empty_tables(manifest, sink).items():
                sink.write(name, table)
            uris: dict[str, dict[str, str]] = {}
            for (name, fmt), writer in sink.writers.items():
                uris.setdefault(name, {})[fmt] = writer.uri
        if unknown:
            self.log.warning("Fields not mapped by the table schemas (kept in raw): %s", dict(unknown))
        self.log.info("Wrote tables %s", dict(rows))
        return {"tables": uris, "rows": dict(rows), "unknown_fields": dict(unknown)}

    @staticmethod
    def _empty_tables(manifest: Mapping[str, Any], sink: _TableSink) -> dict[str, Any]:
        from contact_center_provider.transforms import genesys_schemas as schemas

        expected = (
            schemas.USER_DETAIL_TABLES if manifest.get("dataset") == "users" else schemas.CONVERSATION_TABLES
        )
        opened = {name for name, _ in sink.writers}
        return {name: schema.empty_table() for name, schema in expected.items() if name not in opened}
