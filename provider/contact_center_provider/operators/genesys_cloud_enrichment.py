"""Genesys Cloud enrichment: participant attributes and the small lookup tables.

* :class:`GenesysCloudEnrichmentOperator` fetches ``GET /api/v2/conversations/{id}`` for
  every conversation of a *query* export (query results carry no participant
  attributes), concurrently within the token's request budget. A *job* export already
  carries them, so then it sends no request at all.
* :class:`GenesysCloudLookupsOperator` lands users, queues, wrap-up codes, presence
  definitions and the organization as small tables.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from contact_center_provider.hooks.genesys_cloud import DEFAULT_REQUESTS_PER_MINUTE, GenesysCloudHook, Page
from contact_center_provider.operators._common import resolve_interval
from contact_center_provider.operators.tables import landing_partition
from contact_center_provider.storage.raw_zone import (
    RawLanding,
    for_xcom,
    iter_pages,
    manifest_prefix,
    read_manifest,
)
from contact_center_provider.storage.zones import Partition, raw_prefix, table_uri

VENDOR = "genesys_cloud"
#: Conversations per landed JSON Lines page of fetched conversations.
ENTITIES_PER_PAGE = 1000
LOOKUPS = ("users", "queues", "wrapup_codes", "presence_definitions", "organization")


def conversation_ids(pages: Iterable[bytes]) -> list[str]:
    """Conversation ids of landed details pages, in order, without duplicates."""
    ids: dict[str, None] = {}
    for raw in pages:
        for conversation in json.loads(raw).get("conversations") or []:
            ids[conversation["conversationId"]] = None
    return list(ids)


class _GenesysTask(BaseOperator):
    template_fields: Sequence[str] = ("output_base_uri", "output_conn_id", "genesys_cloud_conn_id")

    def __init__(
        self,
        *,
        output_base_uri: str,
        output_conn_id: str | None = None,
        genesys_cloud_conn_id: str = GenesysCloudHook.default_conn_name,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_base_uri = output_base_uri
        self.output_conn_id = output_conn_id
        self.genesys_cloud_conn_id = genesys_cloud_conn_id
        self.requests_per_minute = requests_per_minute

    @cached_property
    def hook(self) -> GenesysCloudHook:
        return GenesysCloudHook(self.genesys_cloud_conn_id, requests_per_minute=self.requests_per_minute)


class GenesysCloudEnrichmentOperator(_GenesysTask):
    """Fetch participant attributes for every conversation of a query export.

    Lands the conversations as JSON Lines under
    ``{base}/raw/genesys_cloud/conversation_entities/interval_start=.../`` and returns that
    landing's manifest; pass it to :class:`GenesysCloudTablesOperator` as
    ``entities_manifest``. For a job export it returns ``None`` without any request.

    :param conversations_manifest: the export task's result. Templated.
    :param output_base_uri: base URI of the zones. Templated.
    :param concurrency: requests in flight at once.
    :param requests_per_minute: the token's budget (300 unless Genesys raised it).
    """

    template_fields: Sequence[str] = (*_GenesysTask.template_fields, "conversations_manifest")

    def __init__(
        self, *, conversations_manifest: Mapping[str, Any] | str, concurrency: int = 16, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.conversations_manifest = conversations_manifest
        self.concurrency = concurrency

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any] | None:
        raw = self.conversations_manifest
        manifest = read_manifest(
            manifest_prefix(raw if isinstance(raw, str) else dict(raw)), self.output_conn_id
        )
        if manifest.get("source") == "job":
            self.log.info("Job results already carry participant attributes: no request needed.")
            return None
        ids = conversation_ids(iter_pages(manifest, self.output_conn_id))
        landing = RawLanding(
            raw_prefix(self.output_base_uri, VENDOR, "conversation_entities", landing_partition(manifest)),
            self.output_conn_id,
            extension=".jsonl",
        )
        asyncio.run(self._fetch(ids, landing))
        self.log.info("Fetched %d conversations for their participant attributes", landing.records)
        summary = landing.publish(
            vendor=VENDOR,
            dataset="conversation_entities",
            source="enrichment",
            interval=manifest.get("interval"),
            export_name=manifest.get("export_name"),
        )
        return for_xcom(summary)

    async def _fetch(self, ids: list[str], landing: RawLanding) -> None:
        """Fetch every conversation and land them in the order of ``ids``, whatever order they arrive in.

        A re-run then writes identical bytes. Only the conversations that arrived ahead of a
        slower one are held (a reorder buffer), not the whole export.
        """
        arrived: dict[str, bytes] = {}
        buffer: list[bytes] = []
        position = 0
        try:
            async for cid, raw in self.hook.aiter_conversations(ids, concurrency=self.concurrency):
                arrived[cid] = raw.strip()
                while position < len(ids) and ids[position] in arrived:
                    buffer.append(arrived.pop(ids[position]))
                    position += 1
                    if len(buffer) >= ENTITIES_PER_PAGE:
                        landing.write_page(b"\n".join(buffer) + b"\n", len(buffer))
                        buffer = []
            if buffer:
                landing.write_page(b"\n".join(buffer) + b"\n", len(buffer))
        finally:
            await self.hook.aclose()


class GenesysCloudLookupsOperator(_GenesysTask):
    """Land the lookup tables reports join to: users, queues, wrap-up codes, presence definitions, organization.

    Raw pages go to ``{base}/raw/genesys_cloud/lookup_<lookup>/{partition}/`` (apart from the
    details exports, which have datasets of the same names) and one Parquet file per lookup to
    ``{base}/tables/genesys_cloud/<lookup>/{partition}/`` (partitioned by the data interval,
    so a report reads the names as they were when it ran).

    :param lookups: which of ``users``, ``queues``, ``wrapup_codes``, ``presence_definitions``,
        ``organization`` to land.
    :param output_base_uri: base URI of the zones. Templated.
    """

    def __init__(self, *, lookups: Sequence[str] = LOOKUPS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        unknown = set(lookups) - set(LOOKUPS)
        if unknown:
            raise ValueError(f"{self.task_id}: unknown lookups {sorted(unknown)}; known: {LOOKUPS}")
        self.lookups = tuple(lookups)

    def _pages(self, lookup: str) -> Iterable[Page]:
        hook = self.hook
        if lookup == "users":
            return hook.iter_users()
        if lookup == "queues":
            return hook.iter_entity_pages("/api/v2/routing/queues")
        if lookup == "wrapup_codes":
            return hook.iter_entity_pages("/api/v2/routing/wrapupcodes")
        if lookup == "presence_definitions":
            return [hook.get_presence_definitions()]
        response = hook.client.request("GET", "/api/v2/organizations/me")
        return [Page(response.json(), response.content, 1)]

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any]:
        from contact_center_provider.storage.writers import write_table
        from contact_center_provider.transforms import genesys_users as lookups

        builders = {
            "users": lookups.users_table,
            "queues": lookups.queues_table,
            "wrapup_codes": lookups.wrapup_codes_table,
            "presence_definitions": lookups.presence_definitions_table,
        }
        partition = Partition(*resolve_interval(context, task_id=self.task_id))
        result: dict[str, Any] = {}
        for lookup in self.lookups:
            landing = RawLanding(
                raw_prefix(self.output_base_uri, VENDOR, f"lookup_{lookup}", partition), self.output_conn_id
            )
            entities: list[Any] = []
            for page in self._pages(lookup):
                landing.write_page(page.raw, page.items)
                entities.extend([page.data] if lookup == "organization" else page.data.get("entities") or [])
            landing.publish(
                vendor=VENDOR, dataset=f"lookup_{lookup}", source="lookup", interval=partition.interval
            )
            table = (
                lookups.organization_table(entities[0])
                if lookup == "organization"
                else builders[lookup](entities)
            )
            uri = table_uri(self.output_base_uri, VENDOR, lookup, partition)
            write_table(uri, table, fmt="parquet", conn_id=self.output_conn_id)
            result[lookup] = {"uri": uri, "rows": table.num_rows}
            if lookup == "organization":
                result[lookup]["name"] = entities[0].get("name")
        return result
