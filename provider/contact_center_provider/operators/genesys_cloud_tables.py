"""Turn landed Genesys Cloud pages into Parquet (and CSV) tables, each conversation exactly once.

A thin subclass of :class:`~contact_center_provider.operators.tables.VendorTablesOperator`:
the pure transforms of :mod:`contact_center_provider.transforms` flatten each page, and
every conversation lands in the partition holding its ``conversationStart`` — not in
every interval its lifetime overlaps (details jobs return those), and once even when
two split queries or pages both return it. A landing whose export reached back before
its own interval (a restatement window) rewrites those earlier partitions too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from contact_center_provider.hooks.genesys_cloud import VENDOR
from contact_center_provider.operators.tables import TableRows, VendorTablesOperator, landing_partition
from contact_center_provider.storage.raw_zone import iter_pages, manifest_prefix, read_manifest
from contact_center_provider.storage.zones import Partition

if TYPE_CHECKING:
    import pyarrow as pa


def restated_partitions(manifest: Mapping[str, Any]) -> list[Partition]:
    """The partitions a landing's export covers: its own, plus the earlier ones of the same
    length that a restatement window reached back into (oldest first)."""
    own = landing_partition(manifest)
    export = manifest.get("export_interval")
    if not export:
        return [own]
    export_start = Partition.parse(str(export)).start
    step = own.end - own.start
    partitions = [own]
    while partitions[0].start - step >= export_start:
        first = partitions[0]
        partitions.insert(0, Partition(first.start - step, first.start, own.export))
    return partitions


class GenesysCloudTablesOperator(VendorTablesOperator):
    """Flatten a landed conversation or user details export into analysis-ready tables.

    Conversations give ``conversations``, ``participants``, ``sessions``, ``segments``,
    ``session_metrics`` and ``participant_attributes``; user details give ``presence`` and
    ``routing_status``. Schemas are in :mod:`contact_center_provider.transforms.genesys_schemas`.

    :param raw_manifest: the export task's result (or its raw prefix). Templated.
    :param output_base_uri: base URI of the zones. Templated.
    :param entities_manifest: the enrichment task's result; when set, ``participant_attributes``
        come from the fetched conversations instead of the pages. Templated.
    :param formats: any of ``"parquet"``, ``"csv"``.
    :param output_conn_id: storage connection. Templated.
    """

    vendor = VENDOR
    template_fields: Sequence[str] = (*VendorTablesOperator.template_fields, "entities_manifest")

    def __init__(self, *, entities_manifest: Mapping[str, Any] | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entities_manifest = entities_manifest

    def expected_tables(self, manifest: Mapping[str, Any]) -> dict[str, pa.Schema]:
        from contact_center_provider.transforms import genesys_schemas as schemas

        if manifest.get("dataset") == "users":
            return dict(schemas.USER_DETAIL_TABLES)
        return dict(schemas.CONVERSATION_TABLES)

    def iter_tables(self, manifest: Mapping[str, Any], pages: Iterator[bytes]) -> Iterator[TableRows]:
        if manifest.get("dataset") == "users":
            from contact_center_provider.transforms.genesys_users import flatten_user_details_page

            for raw in pages:
                yield TableRows(flatten_user_details_page(raw))
            return
        yield from self._conversation_tables(manifest, pages)

    def _conversation_tables(
        self, manifest: Mapping[str, Any], pages: Iterator[bytes]
    ) -> Iterator[TableRows]:
        import pyarrow as pa

        from contact_center_provider.transforms.genesys_conversations import iter_flatten, partition_result
        from contact_center_provider.transforms.genesys_entities import (
            participant_attributes_from_entities,
            split_by_conversation,
        )

        partitions = restated_partitions(manifest)
        windows = [(p.start, p.end) for p in partitions]
        seen: set[str] = set()
        kept: list[list[pa.ChunkedArray]] = [[] for _ in partitions]
        entities = self._entities()
        for result in iter_flatten(pages):
            unknown: Mapping[str, int] = result.unknown_fields
            for index, part in enumerate(partition_result(result, windows, seen)):
                tables = dict(part.tables)
                if entities is not None:  # (only then are the ids needed again; they add up)
                    kept[index].append(tables["conversations"].column("conversation_id"))
                    tables.pop("participant_attributes", None)
                yield TableRows(tables, partitions[index], unknown)
                unknown = {}
        if entities is None:
            return
        ids = [pa.chunked_array([c for ids in chunks for c in ids.chunks], pa.string()) for chunks in kept]
        for raw in iter_pages(entities, self.output_conn_id):
            table = participant_attributes_from_entities(raw.splitlines())
            for partition, part in zip(partitions, split_by_conversation(table, ids), strict=True):
                yield TableRows({"participant_attributes": part}, partition)

    def _entities(self) -> dict[str, Any] | None:
        if not self.entities_manifest:
            return None
        raw = self.entities_manifest
        return read_manifest(manifest_prefix(raw if isinstance(raw, str) else dict(raw)), self.output_conn_id)
