"""Genesys Cloud: OAuth client credentials, analytics detail jobs and queries, entity lookups.

Two ways to export conversation and user details, and they differ:

* **Jobs** (``POST /api/v2/analytics/{dataset}/details/jobs``): asynchronous, read the
  data lake, return conversations whose lifetime *overlaps* the interval, and carry
  participant ``attributes``. They only see data older than ``dataAvailabilityDate``.
* **Queries** (``POST .../details/query``): synchronous and fresh, but match by the UTC
  *start day*, carry no attributes, are limited to 7 days per request without filters
  (31 with) and to 100,000 results deep; :func:`split_interval` keeps requests inside.

Connection (type ``genesys_cloud``): login = client id, password = client secret; extra
``region`` (a domain such as ``mypurecloud.ie``), or ``api_base_url`` and
``login_base_url`` to override (the sandbox, a proxy).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from contact_center_provider.hooks.base import ClientConfig, VendorHook
from contact_center_provider.http.auth import OAuth2ClientCredentials
from contact_center_provider.http.errors import VendorNotFoundError
from contact_center_provider.http.paging import CursorPaginator, PageNumberPaginator, iter_pages
from contact_center_provider.http.ratelimit import AsyncRateLimiter
from contact_center_provider.jobs import JobOutcome, JobRef, JobStatus, LandingSink, job_ref, map_state

Dataset = Literal["conversations", "users"]
DATASETS: tuple[Dataset, ...] = ("conversations", "users")

#: Genesys job states -> common outcome (an unknown state is an error naming it).
GENESYS_CLOUD_STATES: dict[str, JobOutcome] = {
    "QUEUED": JobOutcome.RUNNING,
    "PENDING": JobOutcome.RUNNING,
    "FULFILLED": JobOutcome.SUCCEEDED,
    "FAILED": JobOutcome.FAILED,
    "CANCELLED": JobOutcome.CANCELLED,
    "EXPIRED": JobOutcome.EXPIRED,
}

#: Items key of each dataset's result pages.
ITEMS_KEY: dict[Dataset, str] = {"conversations": "conversations", "users": "userDetails"}

#: Documented limits of the synchronous detail queries.
QUERY_MAX_DAYS_UNFILTERED = 7
QUERY_MAX_DAYS_FILTERED = 31
QUERY_MAX_RESULTS = 100_000
QUERY_MAX_PAGE_SIZE = 100
#: Default page size of job results (the largest peers use; the API caps it server-side).
JOB_RESULTS_PAGE_SIZE = 1000
#: Default budget of a client-credentials token (requests per minute).
DEFAULT_REQUESTS_PER_MINUTE = 300
#: At most this many ids per GET /api/v2/users call.
USERS_IDS_PER_CALL = 100


def format_instant(value: datetime) -> str:
    """``2024-05-01T00:00:00.000Z`` — the form the analytics API documents."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_interval(start: datetime, end: datetime) -> str:
    return f"{format_instant(start)}/{format_instant(end)}"


def parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def has_filters(query: Mapping[str, Any]) -> bool:
    return any(
        query.get(key)
        for key in (
            "conversationFilters",
            "segmentFilters",
            "evaluationFilters",
            "surveyFilters",
            "resolutionFilters",
            "userFilters",
            "presenceFilters",
            "routingStatusFilters",
        )
    )


def _midnight_at_or_before(value: datetime) -> datetime:
    utc = value.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def split_interval(start: datetime, end: datetime, max_span: timedelta) -> list[tuple[datetime, datetime]]:
    """Cut ``[start, end)`` into consecutive pieces no longer than ``max_span``, cut at UTC midnights.

    Queries match conversations by the UTC *day* they started, so two pieces that share a
    day would both return that day's conversations: every inner cut is a UTC midnight
    (only the first and last piece may start or end elsewhere).
    """
    if end <= start:
        raise ValueError(f"Interval end {end.isoformat()} is not after its start {start.isoformat()}")
    pieces = []
    cursor = start
    while cursor < end:
        nxt = min(cursor + max_span, end)
        if nxt < end and _midnight_at_or_before(nxt) > cursor:
            nxt = _midnight_at_or_before(nxt)
        pieces.append((cursor, nxt))
        cursor = nxt
    return pieces


@dataclass(frozen=True)
class Page:
    """One page as the vendor sent it: the parsed JSON and the exact bytes (for the raw zone)."""

    data: dict[str, Any]
    raw: bytes
    items: int


VENDOR = "genesys_cloud"


def details_job_ref(dataset: str, job_id: str) -> JobRef:
    """The reference of an analytics details job of ``dataset``."""
    return job_ref(VENDOR, dataset, job_id)


def availability_ref(dataset: str, until: datetime) -> JobRef:
    """A 'job' that succeeds once the data lake holds ``dataset`` data up to ``until``."""
    return job_ref(
        VENDOR, "availability", f"availability:{dataset}", dataset=dataset, until=format_instant(until)
    )


class GenesysCloudHook(VendorHook):
    """Talk to the Genesys Cloud Platform API with a client-credentials token.

    :param genesys_cloud_conn_id: connection of type ``genesys_cloud``.
    :param requests_per_minute: budget that paces each concurrent fetch
        (:meth:`aiter_conversations`); the per-token limit is 300 by default; raise it when
        Genesys raised yours. Other calls on the same token are not counted against it.
    """

    conn_name_attr = "genesys_cloud_conn_id"
    default_conn_name = "genesys_cloud_default"
    conn_type = "genesys_cloud"
    hook_name = "Genesys Cloud"
    vendor: ClassVar[str] = VENDOR

    def __init__(
        self,
        genesys_cloud_conn_id: str = default_conn_name,
        *,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        results_page_size: int = JOB_RESULTS_PAGE_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(genesys_cloud_conn_id, **kwargs)
        self.requests_per_minute = requests_per_minute
        self.results_page_size = results_page_size

    def client_config(self, conn: Any, extras: dict[str, Any]) -> ClientConfig:
        region = (extras.get("region") or "mypurecloud.com").strip().lower()
        api = (extras.get("api_base_url") or f"https://api.{region}").rstrip("/")
        login = (extras.get("login_base_url") or f"https://login.{region}").rstrip("/")
        if not conn.login or not conn.password:
            raise ValueError(
                f"Connection {conn.conn_id!r}: set the OAuth client id (login) and client secret (password)."
            )
        auth = OAuth2ClientCredentials(
            f"{login}/oauth/token", conn.login, conn.password, vendor=self.vendor, credentials_in="basic"
        )
        return ClientConfig(base_url=api, auth=auth)

    def check_connection(self) -> str:
        org = self.get_organization()
        return f"Connected to Genesys Cloud organization {org.get('name')!r}"

    # -- job states -------------------------------------------------------------------
    @staticmethod
    def _jobs_path(dataset: str) -> str:
        if dataset not in DATASETS:
            raise ValueError(f"Unknown Genesys Cloud dataset {dataset!r}; expected one of {DATASETS}")
        return f"/api/v2/analytics/{dataset}/details/jobs"

    @staticmethod
    def _job_status(job_id: str, data: Mapping[str, Any]) -> JobStatus:
        state = data.get("state")
        return JobStatus(
            job_id=job_id,
            outcome=map_state(GENESYS_CLOUD_STATES, state, vendor=VENDOR, job_id=job_id),
            vendor_state=state,
            message=data.get("errorMessage"),
            details={k: data[k] for k in ("submissionDate", "completionDate", "expirationDate") if k in data},
        )

    @staticmethod
    def _availability_status(job: JobRef, data: Mapping[str, Any]) -> JobStatus:
        extra = job.get("extra") or {}
        available = data.get("dataAvailabilityDate")
        reached = available is not None and parse_instant(available) >= parse_instant(extra["until"])
        return JobStatus(
            job_id=job["job_id"],
            outcome=JobOutcome.SUCCEEDED if reached else JobOutcome.RUNNING,
            vendor_state=f"dataAvailabilityDate={available}",
            details={"dataAvailabilityDate": available},
        )

    def _status_path(self, job: JobRef) -> str:
        if job["kind"] == "availability":
            return f"{self._jobs_path((job.get('extra') or {})['dataset'])}/availability"
        return f"{self._jobs_path(job['kind'])}/{job['job_id']}"

    def _parse_status(self, job: JobRef, data: Mapping[str, Any]) -> JobStatus:
        if job["kind"] == "availability":
            return self._availability_status(job, data)
        return self._job_status(job["job_id"], data)

    # -- the export-job contract (sync: workers) -----------------------------------------
    @staticmethod
    def job_body(dataset: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> dict[str, Any]:
        """The details-job body: the interval, the order the API documents, then the user's query."""
        body: dict[str, Any] = {"interval": format_interval(start, end), "order": "asc"}
        if dataset == "conversations":
            body["orderBy"] = "conversationStart"
        return {**body, **params}

    def submit_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef:
        """Submit a details job for ``[start, end)``. Never re-sent once it may have arrived."""
        response = self.client.request(
            "POST", self._jobs_path(kind), json=self.job_body(kind, start, end, params), creates=True
        )
        job_id = response.json().get("jobId")
        if not job_id:
            raise ValueError(f"Genesys Cloud accepted the {kind} job but returned no jobId")
        return details_job_ref(kind, str(job_id))

    def get_job_status(self, job: JobRef) -> JobStatus:
        return self._parse_status(job, self.client.get_json(self._status_path(job)))

    def cancel_job(self, job: JobRef) -> None:
        if job["kind"] == "availability":
            return
        # An unknown job is already gone: nothing to cancel.
        with contextlib.suppress(VendorNotFoundError):
            self.client.request("DELETE", self._status_path(job))

    def land_result(self, job: JobRef, status: JobStatus, landing: LandingSink) -> dict[str, Any]:
        """Stream the job's result pages into ``landing``, one page in memory at a time."""
        dataset: Dataset = "users" if job["kind"] == "users" else "conversations"
        for page in self.iter_job_results(dataset, job["job_id"], page_size=self.results_page_size):
            landing.write_page(page.raw, page.items)
        return {"items_key": ITEMS_KEY[dataset]}

    def get_data_availability_raw(self, dataset: str) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get_json(f"{self._jobs_path(dataset)}/availability")
        return data

    def get_data_availability(self, dataset: Dataset) -> datetime:
        """Date before which the data lake is guaranteed complete for ``dataset``."""
        return parse_instant(self.get_data_availability_raw(dataset)["dataAvailabilityDate"])

    def iter_job_results(
        self, dataset: Dataset, job_id: str, *, page_size: int = JOB_RESULTS_PAGE_SIZE
    ) -> Iterator[Page]:
        """Yield result pages until the API stops returning a cursor (one page in memory)."""
        key = ITEMS_KEY[dataset]
        for data, raw in iter_pages(
            self.client,
            "GET",
            f"{self._jobs_path(dataset)}/{job_id}/results",
            paginator=CursorPaginator(),
            items_key=key,
            params={"pageSize": page_size},
        ):
            yield Page(data, raw, len(data.get(key) or []))

    def iter_query_pages(
        self, dataset: Dataset, query: Mapping[str, Any], *, page_size: int = QUERY_MAX_PAGE_SIZE
    ) -> Iterator[Page]:
        """Page a synchronous details query (``query`` holds one valid interval) until empty.

        The API signals the end with a page without items; ``totalHits`` is approximate.
        """
        path = f"/api/v2/analytics/{dataset}/details/query"
        page_number = 1
        while True:
            body = {**query, "paging": {"pageSize": page_size, "pageNumber": page_number}}
            response = self.client.request("POST", path, json=body)
            data = response.json()
            items = len(data.get(ITEMS_KEY[dataset]) or [])
            if not items:
                return
            yield Page(data, response.content, items)
            if items < page_size:
                return
            page_number += 1

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get_json(f"/api/v2/conversations/{conversation_id}")
        return data

    def get_organization(self) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get_json("/api/v2/organizations/me")
        return data

    def iter_entity_pages(
        self, path: str, *, page_size: int = 100, params: Mapping[str, Any] | None = None
    ) -> Iterator[Page]:
        """Page a ``{entities, pageNumber, pageCount}`` listing (users, queues, wrap-up codes...)."""
        for data, raw in iter_pages(
            self.client,
            "GET",
            path,
            paginator=PageNumberPaginator(page_size),
            items_key="entities",
            params=params,
        ):
            yield Page(data, raw, len(data.get("entities") or []))

    def iter_users(self, ids: Sequence[str] | None = None) -> Iterator[Page]:
        """All users, or the given ids in calls of at most 100 ids each."""
        if ids is None:
            yield from self.iter_entity_pages("/api/v2/users", page_size=500)
            return
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), USERS_IDS_PER_CALL):
            chunk = unique[start : start + USERS_IDS_PER_CALL]
            yield from self.iter_entity_pages(
                "/api/v2/users", page_size=USERS_IDS_PER_CALL, params={"id": chunk}
            )

    def get_presence_definitions(self) -> Page:
        response = self.client.request("GET", "/api/v2/presence/definitions")
        data = response.json()
        return Page(data, response.content, len(data.get("entities") or []))

    # -- async (triggers, concurrent enrichment) --------------------------------------
    async def aget_job_status(self, job: JobRef) -> JobStatus:
        client = await self.aclient()
        return self._parse_status(job, await client.aget_json(self._status_path(job)))

    async def acancel_job(self, job: JobRef) -> None:
        if job["kind"] == "availability":
            return
        client = await self.aclient()
        with contextlib.suppress(VendorNotFoundError):
            await client.arequest("DELETE", self._status_path(job))

    async def aiter_conversations(
        self, conversation_ids: Sequence[str], *, concurrency: int = 16
    ) -> AsyncIterator[tuple[str, bytes]]:
        """Fetch ``GET /api/v2/conversations/{id}`` for many ids, concurrently within the budget.

        At most ``concurrency`` requests are in flight and at most ``requests_per_minute``
        are counted in any 60 s, so the vendor's 429 is the exception, not the pacing
        mechanism (a 429 that still happens is waited out by the HTTP core). A request
        counts from the moment its response is in, never from its start: Genesys counts
        it on arrival, which for the first requests comes after the token grant, and
        counting from the start let the next window open early into a burst of 429s.
        The budget is this call's alone: other requests on the same token (other calls on
        this hook) are not counted, so lower ``requests_per_minute`` if they run alongside.
        Yields ``(conversation_id, raw body)`` in completion order; the first failure
        (after the HTTP core's retries) is raised.
        """
        client = await self.aclient()
        limiter = AsyncRateLimiter(self.requests_per_minute, 60.0)
        queue: asyncio.Queue[str] = asyncio.Queue()
        for cid in dict.fromkeys(conversation_ids):
            queue.put_nowait(cid)
        results: asyncio.Queue[tuple[str, bytes] | BaseException] = asyncio.Queue()

        async def worker() -> None:
            while True:
                try:
                    cid = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    async with limiter.slot():
                        response = await client.arequest("GET", f"/api/v2/conversations/{cid}")
                except BaseException as exc:  # handed to the consumer, which re-raises
                    await results.put(exc)
                    return
                await results.put((cid, response.content))

        total = queue.qsize()
        tasks = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, total)))]
        try:
            for _ in range(total):
                item = await results.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
