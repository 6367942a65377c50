"""Genesys Cloud export operators: details jobs (deferrable, on the shared base) and details queries.

Both land the vendor's pages unchanged in the raw zone
(``{base}/raw/genesys_cloud/{dataset}/{partition}/``, read through ``_manifest.json``)
and return a small manifest — URIs and counts, never data.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from contact_center_provider.exceptions import DataNotAvailableError
from contact_center_provider.hooks.genesys_cloud import (
    ITEMS_KEY,
    JOB_RESULTS_PAGE_SIZE,
    QUERY_MAX_DAYS_FILTERED,
    QUERY_MAX_DAYS_UNFILTERED,
    QUERY_MAX_PAGE_SIZE,
    QUERY_MAX_RESULTS,
    VENDOR,
    Dataset,
    GenesysCloudHook,
    availability_ref,
    format_interval,
    has_filters,
    split_interval,
)
from contact_center_provider.jobs import JobRef
from contact_center_provider.operators._common import resolve_interval
from contact_center_provider.operators.export_job import VendorExportJobOperator
from contact_center_provider.storage.raw_zone import RawLanding, for_xcom
from contact_center_provider.storage.zones import Partition, raw_prefix

AVAILABILITY_CHOICES = ("wait", "fail", "ignore")


def _check_dataset(task_id: str, dataset: str) -> Dataset:
    if dataset not in ITEMS_KEY:
        raise ValueError(f"{task_id}: dataset must be one of {sorted(ITEMS_KEY)}, got {dataset!r}")
    return "users" if dataset == "users" else "conversations"


class GenesysCloudDetailsJobOperator(VendorExportJobOperator):
    """Export conversation or user details for the run's data interval through an analytics job.

    Submits ``POST /api/v2/analytics/{dataset}/details/jobs``, waits (deferred or in the
    worker), then streams the result pages into the raw zone. Everything else — resuming
    the job on retry, exporting afresh when cleared, refusing to resubmit after an
    ambiguous submit, cancelling on kill — is :class:`VendorExportJobOperator`'s.

    Jobs see only data older than ``dataAvailabilityDate``. ``availability`` decides what
    happens when the interval ends after it: ``"wait"`` (default; deferred too), ``"fail"``
    with a clear message, or ``"ignore"`` (export what exists).

    :param dataset: ``"conversations"`` or ``"users"``.
    :param query: extra fields of the job body (filters, order...); ``interval`` is set from
        the data interval unless given. Templated (as ``job_params``).
    :param genesys_cloud_conn_id: the Genesys Cloud connection. Templated (as ``conn_id``).
    :param availability: ``"wait"``, ``"fail"`` or ``"ignore"`` (see above).
    :param page_size: result page size.
    :param restatement: how far back each run re-exports, so conversations still open when an
        earlier interval was exported reach the tables in their final state: a run for
        ``[start, end)`` exports ``[start - restatement, end)`` and rewrites the partitions of
        that window (each conversation lands in the partition holding its ``conversationStart``).
        A whole number of intervals (e.g. ``timedelta(hours=2)`` on an hourly DAG); default none.

    Every other parameter is :class:`VendorExportJobOperator`'s (``output_base_uri``,
    ``export_name``, ``job_id``, ``wait_for_completion``, ``timeout``, ``deferrable``...).
    Returns ``{"prefix", "manifest_uri", "records", "pages", "job_ids", "interval", ...}``.
    """

    hook_class = GenesysCloudHook
    ui_color = "#ff4f1f"

    def __init__(
        self,
        *,
        dataset: str = "conversations",
        query: dict[str, Any] | None = None,
        genesys_cloud_conn_id: str = GenesysCloudHook.default_conn_name,
        availability: str = "wait",
        page_size: int = JOB_RESULTS_PAGE_SIZE,
        restatement: timedelta = timedelta(0),
        **kwargs: Any,
    ) -> None:
        hook_params = {"results_page_size": page_size, **kwargs.pop("hook_params", {})}
        super().__init__(
            kind=_check_dataset(kwargs.get("task_id", "task"), dataset),
            job_params=query,
            conn_id=genesys_cloud_conn_id,
            hook_params=hook_params,
            **kwargs,
        )
        if availability not in AVAILABILITY_CHOICES:
            raise ValueError(f"{self.task_id}: availability must be one of {AVAILABILITY_CHOICES}")
        self.availability = availability
        if restatement < timedelta(0):
            raise ValueError(f"{self.task_id}: restatement must not be negative, got {restatement}")
        self.restatement = restatement

    def export_interval(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        if not self.restatement:
            return start, end
        step = end - start
        if self.restatement % step:
            raise ValueError(
                f"{self.task_id}: restatement {self.restatement} is not a whole number of intervals "
                f"({step}); the partitions it rewrites must be whole."
            )
        return start - self.restatement, end

    def prerequisite(self, context: Mapping[str, Any], start: datetime, end: datetime) -> JobRef | None:
        if self.availability == "ignore":
            return None
        available = self.hook.get_data_availability(self.kind)
        if available >= end:
            return None
        message = (
            f"{self.task_id}: Genesys Cloud {self.kind} data is complete only up to "
            f"{available.isoformat()}, before the interval end {end.isoformat()}."
        )
        if self.availability == "fail":
            raise DataNotAvailableError(message + " Run later, or set availability='wait'.")
        self.log.info("%s Waiting for the data lake to catch up.", message)
        return availability_ref(self.kind, end)


class _GenesysQueryBase(BaseOperator):
    """Parameters of the details-query operator."""

    template_fields: Sequence[str] = (
        "query",
        "interval_start",
        "interval_end",
        "output_base_uri",
        "output_conn_id",
        "genesys_cloud_conn_id",
    )
    template_fields_renderers = {"query": "json"}

    def __init__(
        self,
        *,
        output_base_uri: str,
        dataset: str = "conversations",
        query: dict[str, Any] | None = None,
        interval_start: str | datetime | None = None,
        interval_end: str | datetime | None = None,
        output_conn_id: str | None = None,
        genesys_cloud_conn_id: str = GenesysCloudHook.default_conn_name,
        export_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.export_name = export_name
        self.dataset: Dataset = _check_dataset(self.task_id, dataset)
        self.query = query or {}
        self.interval_start = interval_start
        self.interval_end = interval_end
        self.output_base_uri = output_base_uri
        self.output_conn_id = output_conn_id
        self.genesys_cloud_conn_id = genesys_cloud_conn_id

    @cached_property
    def hook(self) -> GenesysCloudHook:
        return GenesysCloudHook(self.genesys_cloud_conn_id)

    def _partition(self, context: Mapping[str, Any]) -> Partition:
        start, end = resolve_interval(context, self.interval_start, self.interval_end, task_id=self.task_id)
        return Partition(start, end, self.export_name)


class GenesysCloudDetailsQueryOperator(_GenesysQueryBase):
    """Export details for the data interval through the synchronous query API (fresh data).

    Use it for recent hours the data lake does not hold yet. Results carry no participant
    attributes (enrich them with :class:`GenesysCloudEnrichmentOperator`) and match
    conversations by the UTC day they *started*. Long intervals are split into requests
    of at most 7 days (31 with filters); a piece that would page past 100,000 results is
    split again.

    Pieces are cut at UTC midnights, so no two requests match the same day; a conversation
    that still comes twice (a piece halved for depth) is kept once by the tables operator.

    :param output_base_uri: base URI of the zones. Templated.
    :param dataset: ``"conversations"`` or ``"users"``.
    :param query: extra fields of the query body (filters...). Templated.
    :param interval_start: override of the data interval start (ISO-8601). Templated.
    :param interval_end: override of the data interval end. Templated.
    :param output_conn_id: storage connection. Templated.
    :param genesys_cloud_conn_id: the Genesys Cloud connection. Templated.
    :param export_name: an ``export=<name>`` partition level (see the job operator).
    :param page_size: results per page (at most 100).

    Returns the same kind of manifest as the job operator.
    """

    ui_color = "#ff7f50"

    def __init__(self, *, page_size: int = QUERY_MAX_PAGE_SIZE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 1 <= page_size <= QUERY_MAX_PAGE_SIZE:
            raise ValueError(f"{self.task_id}: page_size must be 1..{QUERY_MAX_PAGE_SIZE}")
        self.page_size = page_size

    def _pieces(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        days = QUERY_MAX_DAYS_FILTERED if has_filters(self.query) else QUERY_MAX_DAYS_UNFILTERED
        return split_interval(start, end, timedelta(days=days))

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any]:
        partition = self._partition(context)
        start, end = partition.start, partition.end
        landing = RawLanding(
            raw_prefix(self.output_base_uri, VENDOR, self.dataset, partition), self.output_conn_id
        )
        pending = self._pieces(start, end)
        while pending:
            piece_start, piece_end = pending.pop(0)
            body = {**self.query, "interval": format_interval(piece_start, piece_end)}
            if self.dataset == "conversations":
                body.setdefault("order", "asc")
                body.setdefault("orderBy", "conversationStart")
            pages = self.hook.iter_query_pages(self.dataset, body, page_size=self.page_size)
            first = next(pages, None)
            if first is None:
                continue
            too_deep = int(first.data.get("totalHits") or 0) > QUERY_MAX_RESULTS
            if too_deep and piece_end - piece_start > timedelta(minutes=1):
                # The API refuses to page past 100,000 results: halve the piece and start it over.
                middle = piece_start + (piece_end - piece_start) / 2
                pending[:0] = [(piece_start, middle), (middle, piece_end)]
                continue
            for page in itertools.chain([first], pages):
                landing.write_page(page.raw, page.items)
        manifest = landing.publish(
            vendor=VENDOR,
            dataset=self.dataset,
            source="query",
            interval=partition.interval,
            items_key=ITEMS_KEY[self.dataset],
            export_name=self.export_name,
        )
        self.log.info(
            "Landed %d %s from queries in %d pages under %s",
            landing.records,
            self.dataset,
            len(landing.pages),
            landing.prefix,
        )
        return for_xcom(manifest)
