"""Genesys Cloud export operators: details jobs (deferrable) and details queries.

Both land the vendor's pages unchanged in the raw zone
(``{base}/raw/genesys_cloud/{dataset}/interval_start=.../page-NNNNN.json`` plus
``_manifest.json``) and return a small manifest — URIs and counts, never data.
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
    Dataset,
    GenesysCloudHook,
    availability_ref,
    format_interval,
    has_filters,
    job_ref,
    split_interval,
)
from contact_center_provider.http.errors import VendorNotFoundError
from contact_center_provider.operators._common import default_deferrable, raise_for_event, resolve_interval
from contact_center_provider.storage.raw_zone import RawLanding, for_xcom
from contact_center_provider.storage.zones import raw_prefix
from contact_center_provider.triggers.job_poll import JobPollTrigger
from contact_center_provider.triggers.job_state import JobEvent, JobOutcome
from contact_center_provider.triggers.polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    PollSchedule,
)

HOOK_CLASS = f"{GenesysCloudHook.__module__}.{GenesysCloudHook.__qualname__}"
VENDOR = "genesys_cloud"
AVAILABILITY_CHOICES = ("wait", "fail", "ignore")


class _GenesysExportBase(BaseOperator):
    """Parameters shared by the job and query operators."""

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
        dataset: Dataset = "conversations",
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
        if dataset not in ITEMS_KEY:
            raise ValueError(f"{self.task_id}: dataset must be one of {sorted(ITEMS_KEY)}, got {dataset!r}")
        self.dataset: Dataset = dataset
        self.query = query or {}
        self.interval_start = interval_start
        self.interval_end = interval_end
        self.output_base_uri = output_base_uri
        self.output_conn_id = output_conn_id
        self.genesys_cloud_conn_id = genesys_cloud_conn_id

    @cached_property
    def hook(self) -> GenesysCloudHook:
        return GenesysCloudHook(self.genesys_cloud_conn_id)

    def _interval(self, context: Mapping[str, Any]) -> tuple[datetime, datetime]:
        return resolve_interval(context, self.interval_start, self.interval_end, task_id=self.task_id)

    def _landing(self, start: datetime) -> RawLanding:
        prefix = raw_prefix(self.output_base_uri, VENDOR, self.dataset, start, self.export_name)
        return RawLanding(prefix, self.output_conn_id)


class GenesysCloudDetailsJobOperator(_GenesysExportBase):
    """Export conversation or user details for the run's data interval through an analytics job.

    Submits ``POST /api/v2/analytics/{dataset}/details/jobs`` in the worker, waits (deferred
    to :class:`~contact_center_provider.triggers.job_poll.JobPollTrigger`, or polling in the
    worker when not deferrable), then streams the result pages into the raw zone.

    Jobs see only data older than ``dataAvailabilityDate``. ``availability`` decides what
    happens when the interval ends after it: ``"wait"`` (default; deferrable too), ``"fail"``
    with a clear message, or ``"ignore"`` (export what exists).

    A task retry or a triggerer restart never submits a second job for the interval while
    the first is still running or fulfilled: the job id is kept in the task's
    ``task_state_store`` and resumed.

    :param output_base_uri: base URI of the zones (``s3://bucket/cc``, ``file:///data``...). Templated.
    :param dataset: ``"conversations"`` or ``"users"``.
    :param query: extra fields of the job body (filters, order...). ``interval`` is set from the
        data interval unless given. Templated.
    :param interval_start: override of the data interval start (ISO-8601). Templated.
    :param interval_end: override of the data interval end. Templated.
    :param output_conn_id: storage connection (e.g. AWS) for ``output_base_uri``. Templated.
    :param genesys_cloud_conn_id: the Genesys Cloud connection. Templated.
    :param export_name: names this selection when several DAGs export the same dataset with
        different filters; it becomes an ``export=<name>`` partition level of the raw zone and
        of every table made from it, so they never overwrite each other.
    :param job_id: download an already submitted job instead of submitting (pair with
        ``wait_for_completion=False`` upstream and a job sensor). Templated.
    :param wait_for_completion: when False, return right after submitting.
    :param availability: ``"wait"``, ``"fail"`` or ``"ignore"`` (see above).
    :param page_size: result page size.
    :param poll_interval: first wait between polls (grows to ``max_poll_interval``).
    :param max_poll_interval: longest wait between polls.
    :param timeout: seconds to wait for availability and for the job, each; an absolute
        deadline that also bounds time spent deferred.
    :param deferrable: defer while waiting (default ``[operators] default_deferrable``).

    Returns ``{"prefix", "manifest_uri", "records", "pages", "job_id", "interval", ...}``.
    """

    template_fields: Sequence[str] = (*_GenesysExportBase.template_fields, "job_id")
    ui_color = "#ff4f1f"

    def __init__(
        self,
        *,
        job_id: str | None = None,
        wait_for_completion: bool = True,
        availability: str = "wait",
        page_size: int = JOB_RESULTS_PAGE_SIZE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        deferrable: bool = default_deferrable(),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if availability not in AVAILABILITY_CHOICES:
            raise ValueError(f"{self.task_id}: availability must be one of {AVAILABILITY_CHOICES}")
        self.job_id = job_id
        self.wait_for_completion = wait_for_completion
        self.availability = availability
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.timeout = timeout
        self.deferrable = deferrable
        self._job: dict[str, Any] | None = None

    # -- waiting ------------------------------------------------------------------------
    def _trigger(self, job: dict[str, Any]) -> JobPollTrigger:
        schedule = PollSchedule.starting_now(
            self.timeout, interval=self.poll_interval, max_interval=self.max_poll_interval
        )
        return JobPollTrigger(
            hook_class=HOOK_CLASS, conn_id=self.genesys_cloud_conn_id, job=job, schedule=schedule.to_dict()
        )

    def _wait(self, context: Mapping[str, Any], job: dict[str, Any], method_name: str) -> Any:
        trigger = self._trigger(job)
        if self.deferrable:
            # The trigger enforces the absolute deadline itself; the defer timeout is a backstop.
            self.defer(
                trigger=trigger, method_name=method_name, timeout=timedelta(seconds=self.timeout + 120)
            )
        return getattr(self, method_name)(context, trigger.poll_in_worker().to_payload())

    # -- execution ----------------------------------------------------------------------
    def execute(self, context: Mapping[str, Any]) -> Any:
        start, end = self._interval(context)
        if self.job_id:
            return self._wait(context, job_ref(self.dataset, self.job_id), "execute_complete")
        if self.availability != "ignore":
            available = self.hook.get_data_availability(self.dataset)
            if available < end:
                message = (
                    f"{self.task_id}: Genesys Cloud {self.dataset} data is complete only up to "
                    f"{available.isoformat()}, before the interval end {end.isoformat()}."
                )
                if self.availability == "fail":
                    raise DataNotAvailableError(message + " Run later, or set availability='wait'.")
                self.log.info("%s Waiting for the data lake to catch up.", message)
                return self._wait(context, availability_ref(self.dataset, end), "availability_reached")
        return self._submit_and_wait(context, start, end)

    def availability_reached(self, context: Mapping[str, Any], event: dict[str, Any] | None = None) -> Any:
        """Resume point after waiting for ``dataAvailabilityDate``."""
        raise_for_event(JobEvent.from_payload(event), f"Genesys Cloud {self.dataset} data availability")
        start, end = self._interval(context)
        return self._submit_and_wait(context, start, end)

    def _state_key(self) -> str:
        return f"{VENDOR}:{self.export_name or self.dataset}:job"

    def _resume_or_submit(self, context: Mapping[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
        interval = format_interval(start, end)
        store = context.get("task_state_store")
        stored = store.get(self._state_key()) if store is not None else None
        if isinstance(stored, dict) and stored.get("interval") == interval and stored.get("job_id"):
            job = job_ref(self.dataset, stored["job_id"])
            try:
                status = self.hook.get_job_status(job)
            except VendorNotFoundError:
                status = None
            if status is not None and status.outcome in (JobOutcome.RUNNING, JobOutcome.SUCCEEDED):
                self.log.info(
                    "Resuming %s job %s (%s) for %s",
                    self.dataset,
                    job["job_id"],
                    status.vendor_state,
                    interval,
                )
                return job
            self.log.info("Stored job %s is no longer usable; submitting a new one.", stored["job_id"])
        body = {"interval": interval, "order": "asc", "orderBy": "conversationStart", **self.query}
        if self.dataset == "users":
            body.pop("orderBy", None)
        job_id = self.hook.submit_details_job(self.dataset, body)
        if store is not None:
            store.set(self._state_key(), {"job_id": job_id, "interval": interval})
        else:
            self.log.warning("No task_state_store: a retry of this task cannot resume job %s.", job_id)
        self.log.info("Submitted Genesys Cloud %s job %s for %s", self.dataset, job_id, interval)
        return job_ref(self.dataset, job_id)

    def _submit_and_wait(self, context: Mapping[str, Any], start: datetime, end: datetime) -> Any:
        job = self._resume_or_submit(context, start, end)
        self._job = job
        context["ti"].xcom_push(key="job_id", value=job["job_id"])
        if not self.wait_for_completion:
            return {"job_id": job["job_id"], "dataset": self.dataset, "interval": format_interval(start, end)}
        return self._wait(context, job, "execute_complete")

    def execute_complete(
        self, context: Mapping[str, Any], event: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume point after the job ended: raise on failure, else land the results."""
        parsed = JobEvent.from_payload(event)
        self._job = parsed.job
        raise_for_event(parsed, f"Genesys Cloud {self.dataset} job {parsed.job.get('job_id')}")
        start, end = self._interval(context)
        landing = self._landing(start)
        landing.clear()
        job_id = parsed.job["job_id"]
        for page in self.hook.iter_job_results(self.dataset, job_id, page_size=self.page_size):
            landing.write_page(page.raw, page.items)
        manifest = landing.finish(
            vendor=VENDOR,
            dataset=self.dataset,
            source="job",
            job_id=job_id,
            interval=format_interval(start, end),
            items_key=ITEMS_KEY[self.dataset],
            export_name=self.export_name,
        )
        self.log.info(
            "Landed %d %s from job %s in %d pages under %s",
            landing.records,
            self.dataset,
            job_id,
            len(landing.pages),
            landing.prefix,
        )
        return for_xcom(manifest)

    def on_kill(self) -> None:
        if self._job is not None:
            self.hook.cancel_job(self._job)
            self.log.info("Cancelled Genesys Cloud job %s", self._job)


class GenesysCloudDetailsQueryOperator(_GenesysExportBase):
    """Export details for the data interval through the synchronous query API (fresh data).

    Use it for recent hours the data lake does not hold yet. Results carry no participant
    attributes (enrich them with :class:`GenesysCloudEnrichmentOperator`) and match
    conversations by the UTC day they *started*. Long intervals are split into requests
    of at most 7 days (31 with filters); a piece that would page past 100,000 results is
    split again.

    Parameters as :class:`GenesysCloudDetailsJobOperator` (no job or wait options), plus
    ``page_size`` (at most 100). Returns the same kind of manifest.
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
        start, end = self._interval(context)
        landing = self._landing(start)
        landing.clear()
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
        manifest = landing.finish(
            vendor=VENDOR,
            dataset=self.dataset,
            source="query",
            interval=format_interval(start, end),
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
