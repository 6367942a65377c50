"""Brightmetrics OData: saved reports exported asynchronously, inside 150 requests a day.

An export is the OData v4 asynchronous request the vendor document describes: ``GET
/OData.ashx/{report id}?$filter=...&$format=...`` with ``Prefer: respond-async`` answers
``202 Accepted`` with a status URL (``Location``) and ``Retry-After``; polling that URL
answers 202 while the report runs and ``200 OK`` *with the report itself* when it is done.
That 200 is the result: the poll trigger stages its body in the raw zone and
:meth:`BrightmetricsHook.land_result` lands it from there, never asking for it again.

Every request costs one of the company account's 150 requests per 24 hours, so each one
passes a :class:`~contact_center_provider.http.limits.RequestBudget` kept where every worker
and the triggerer see it (:func:`~contact_center_provider.http.limits.limit_store`), keyed by
the connection's ``account``. A request the budget cannot pay for is not sent: the task fails
saying how many requests are left and when the window frees (or waits, with
``when_exhausted="wait"``).

Connection (type ``brightmetrics``):

* login = the Brightmetrics login email, password = the base64 SHA-256 hash of the password
  (``python -m contact_center_provider.hooks.brightmetrics_password``) or ``*pass`` + the
  clear password; or login = ``apikey`` and password = the API key (Basic);
* or extra ``api_key``: the API key, sent as ``Authorization: Bearer``;
* extra ``api_base_url`` (default ``https://webapp.brightmetrics.com/OData.ashx``),
  ``timezone`` (Windows zone name, default UTC), ``account`` (the company account the
  budget is counted for; default: the login email's domain).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from contact_center_provider.hooks.base import ClientConfig, VendorHook
from contact_center_provider.hooks.brightmetrics_password import CLEAR_PREFIX, is_password_hash
from contact_center_provider.hooks.brightmetrics_wire import (
    DEFAULT_INTERVAL_FILTER,
    PARAM_KEYS,
    ExportRequest,
    MonitorAnswer,
    ReportInfo,
    ReportMetadata,
    export_request,
    format_from_media,
    interpret_monitor,
    monitor_path,
    normalise_report_id,
    odata_error_parser,
    parse_metadata,
    parse_service_document,
    sniff_format,
)
from contact_center_provider.http.auth import AuthStrategy, BasicAuth, BearerToken
from contact_center_provider.http.errors import (
    VendorClientError,
    VendorRateLimitError,
    VendorResponseError,
)
from contact_center_provider.http.limits import RequestBudget, RequestBudgetExhausted, limit_store
from contact_center_provider.http.paging import ODataNextLinkPaginator, iter_pages
from contact_center_provider.http.retry import DEFAULT_RETRY_STATUSES, RetryPolicy
from contact_center_provider.jobs import JobOutcome, JobRef, JobResult, JobStatus, LandingSink, job_ref
from contact_center_provider.transforms.odata_filters import FormatSpec, check_timezone, format_spec

__all__ = [
    "DEFAULT_INTERVAL_FILTER",
    "PARAM_KEYS",
    "BrightmetricsHook",
    "BudgetSpentError",
    "ExportRequest",
    "export_request",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://webapp.brightmetrics.com/OData.ashx"
#: "API requests from all users of a single company account are limited to 150 requests in a
#: 24-hour period" (vendor document, "API limits"). Whether the window is rolling or a calendar
#: day is not documented; a rolling window is the cautious reading.
REQUEST_LIMIT = 150
BUDGET_WINDOW = 24 * 3600.0
#: ``Retry-After`` of the document's example 202: where polling starts.
DOCUMENTED_RETRY_AFTER = 5.0
#: "The status URL remains valid for 1 hour."
STATUS_URL_LIFETIME = 3600.0


class BudgetSpentError(VendorClientError):
    """The company's request budget is spent and the task was told to fail rather than wait.

    Not a transient error: polling on would only wait for the window to free, which is what
    ``when_exhausted="wait"`` is for.
    """


def _password_auth(conn: Any) -> AuthStrategy:
    login, password = conn.login.strip(), conn.password
    if login.lower() == "apikey":
        return BasicAuth("apikey", password)
    if not (password.startswith(CLEAR_PREFIX) or is_password_hash(password)):
        raise ValueError(
            f"Connection {conn.conn_id!r}: the Brightmetrics password must be the base64 SHA-256 hash of "
            "the password (run: python -m contact_center_provider.hooks.brightmetrics_password) or the "
            f"clear password prefixed with {CLEAR_PREFIX}; the value given is neither"
        )
    return BasicAuth(login, password)


def _count_rows(body: bytes, fmt: FormatSpec) -> int | None:
    """Rows of a CSV result (header excluded); ``None`` for formats counted later or never."""
    if not fmt.name.startswith("csv"):
        return None
    text = body.decode("utf-8-sig", errors="replace")
    return max(0, sum(1 for _ in csv.reader(io.StringIO(text))) - 1)


def _at(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if epoch is not None else None


class _CountingGate:
    """The account's budget, plus a count of the requests this hook instance sent."""

    def __init__(self, budget: RequestBudget) -> None:
        self.budget = budget
        self.sent = 0

    def acquire(self) -> None:
        self.budget.acquire()
        self.sent += 1

    async def aacquire(self) -> None:
        await self.budget.aacquire()
        self.sent += 1


class BrightmetricsHook(VendorHook):
    """Talk to Brightmetrics' OData API inside the company's daily request budget.

    :param brightmetrics_conn_id: connection of type ``brightmetrics``.
    :param request_limit: requests per window for the account (150 unless Brightmetrics raised yours).
    :param budget_window: the window in seconds (24 h).
    :param when_exhausted: ``"fail"`` (default): a request the budget cannot pay for fails the task
        before it is sent, saying how many are left and when the window frees; ``"wait"``: sleep
        until it frees (up to a day; a deferred poll waits in the triggerer, bounded by the task's timeout).
    :param budget_reserve: requests to leave for others (the UI's Power BI refreshes, other DAGs):
        an export does not start unless it would leave this many.
    :param limits_store: where the budget is counted (``file:///dir`` or ``redis://...``); default
        ``$CC_LIMITS_STORE`` / ``[contact_center] limits_store`` / a folder under the temp dir.
        Every worker and the triggerer must see the same store.
    """

    conn_name_attr = "brightmetrics_conn_id"
    default_conn_name = "brightmetrics_default"
    conn_type = "brightmetrics"
    hook_name = "Brightmetrics"
    vendor: ClassVar[str] = "brightmetrics"
    #: Few attempts, and no 429: each attempt costs budget, and a 429 means the day's budget is spent.
    default_retry_policy: ClassVar[RetryPolicy] = RetryPolicy(
        max_attempts=3, retry_statuses=DEFAULT_RETRY_STATUSES - {429}
    )

    def __init__(
        self,
        brightmetrics_conn_id: str = default_conn_name,
        *,
        request_limit: int = REQUEST_LIMIT,
        budget_window: float = BUDGET_WINDOW,
        when_exhausted: Literal["fail", "wait"] = "fail",
        budget_reserve: int = 0,
        limits_store: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(brightmetrics_conn_id, **kwargs)
        if budget_reserve < 0 or budget_reserve >= request_limit:
            raise ValueError(f"budget_reserve must be within 0..{request_limit - 1}, got {budget_reserve}")
        self.request_limit = request_limit
        self.budget_window = budget_window
        self.when_exhausted = when_exhausted
        self.budget_reserve = budget_reserve
        self.limits_store = limits_store
        self.account: str | None = None
        self.timezone: str | None = None
        self._gate: _CountingGate | None = None

    # -- connection -------------------------------------------------------------------------

    def client_config(self, conn: Any, extras: dict[str, Any]) -> ClientConfig:
        base = str(extras.get("api_base_url") or DEFAULT_BASE_URL).rstrip("/")
        api_key = extras.get("api_key")
        auth: AuthStrategy
        if api_key:
            auth = BearerToken(str(api_key))
        elif conn.login and conn.password:
            auth = _password_auth(conn)
        else:
            raise ValueError(
                f"Connection {conn.conn_id!r}: set the login email and password (hash or *pass...), "
                "login 'apikey' with the API key as password, or the api_key extra"
            )
        login = (conn.login or "").strip()
        self.account = str(
            extras.get("account") or (login.rpartition("@")[2] if "@" in login else conn.conn_id)
        )
        self.timezone = check_timezone(extras.get("timezone"))
        budget = RequestBudget(
            limit_store(self.limits_store),
            f"brightmetrics:{self.account}",
            self.request_limit,
            self.budget_window,
            when_exhausted=self.when_exhausted,
        )
        if self._gate is None or self._gate.budget.key != budget.key:
            self._gate = _CountingGate(budget)
        else:
            self._gate.budget = budget
        return ClientConfig(
            base_url=base,
            auth=auth,
            headers={"OData-Version": "4.0"},
            error_parser=odata_error_parser,
            gate=self._gate,
        )

    @property
    def gate(self) -> _CountingGate:
        if self._gate is None:
            _ = self.client  # builds the client, and the gate from the connection
        assert self._gate is not None
        return self._gate

    @property
    def requests_sent(self) -> int:
        """Requests this hook instance sent (every attempt that passed the budget)."""
        return self._gate.sent if self._gate is not None else 0

    # -- the budget -------------------------------------------------------------------------

    def budget_left(self) -> tuple[int, float | None]:
        """Requests left in the window, and when (epoch) the oldest counted one frees."""
        return self.gate.budget.remaining()

    def budget_text(self) -> str:
        left, frees = self.budget_left()
        text = f"{left} of {self.request_limit} requests left for Brightmetrics account {self.account!r}"
        return text + (f"; the next one frees at {_at(frees)}" if frees is not None else "")

    def ensure_budget(self, needed: int, what: str) -> None:
        """Fail before spending anything when ``what`` cannot get ``needed`` requests (plus the reserve).

        :raises RequestBudgetExhausted: naming what was held back, what is left and when it frees.
        """
        left, frees = self.budget_left()
        if left - needed >= self.budget_reserve:
            return
        reserve = f" while keeping {self.budget_reserve} in reserve" if self.budget_reserve else ""
        raise RequestBudgetExhausted(
            self.gate.budget.key,
            self.request_limit,
            self.budget_window,
            left,
            frees,
            vendor=self.vendor,
            method="GET",
            url=f"{what} (needs at least {needed} requests{reserve})",
        )

    def _budget_error(self, exc: VendorRateLimitError) -> VendorRateLimitError | BudgetSpentError:
        """A spent budget ends a poll for good when the hook fails rather than waits."""
        if self.when_exhausted == "wait":
            return exc
        if isinstance(exc, RequestBudgetExhausted):
            message = str(exc)
        else:
            message = (
                f"Brightmetrics answered {exc.status}: the company account's request budget is spent "
                f"({exc.message or 'no detail'}); requests made outside this Airflow (other tools, "
                "Power BI) count too. It frees within 24 hours, or use the reset button under My Account"
            )
        return BudgetSpentError(
            vendor=self.vendor, method=exc.method, url=exc.url, status=exc.status, message=message
        )

    # -- discovery --------------------------------------------------------------------------

    def check_connection(self) -> str:
        reports = self.list_reports()
        return f"Connected to Brightmetrics: {len(reports)} saved reports available; {self.budget_text()}"

    def list_reports(self) -> list[ReportInfo]:
        """The saved reports this user can export (the OData service document; one request)."""
        client = self.client
        return parse_service_document(client.get_json(client.base_url))

    def get_report_metadata(self, report: str) -> ReportMetadata:
        """A report's filters and their EDM types (its ``$metadata``; one request)."""
        report_id = normalise_report_id(report)
        response = self.client.request(
            "GET", f"{report_id}/$metadata", headers={"Accept": "application/xml"}, expect=(200,)
        )
        return parse_metadata(report_id, response.content)

    # -- jobs -------------------------------------------------------------------------------

    def _metadata(self, kind: str, params: Mapping[str, Any]) -> ReportMetadata | None:
        """The report's filters: given in ``params["metadata"]``, fetched (one request), or skipped."""
        given = params.get("metadata")
        if isinstance(given, Mapping):
            return ReportMetadata.from_dict(given)
        if params.get("validate_filters", True):
            return self.get_report_metadata(kind)
        return None

    def build_request(
        self,
        kind: str,
        start: datetime | None,
        end: datetime | None,
        params: Mapping[str, Any],
        metadata: ReportMetadata | None = None,
    ) -> ExportRequest:
        """Check the parameters against the rules (and ``metadata``'s filters) and build the request."""
        rest = {k: v for k, v in params.items() if k not in ("metadata", "validate_filters")}
        _ = self.client  # reads the connection's timezone
        return export_request(kind, start, end, rest, default_timezone=self.timezone, metadata=metadata)

    def submit_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef:
        """Start an asynchronous export of report ``kind`` for ``[start, end)``.

        Fails before spending anything when the budget cannot pay for the metadata check, the
        request and one poll.
        """
        validate = not isinstance(params.get("metadata"), Mapping) and params.get("validate_filters", True)
        before = self.requests_sent
        self.ensure_budget(3 if validate else 2, f"an export of report {kind}")
        metadata = self._metadata(kind, params)
        request = self.build_request(kind, start, end, params, metadata)
        response = self.client.request(
            "GET",
            request.path,
            headers={"Prefer": "respond-async", "Accept": request.fmt.media_type},
            creates=True,
            expect=(200, 202),
        )
        if response.status != 202:
            raise VendorResponseError(
                vendor=self.vendor,
                method="GET",
                url=response.url,
                status=response.status,
                message="answered the export synchronously although respond-async was asked for; the "
                "document says it answers 202 with a status URL. The result was not kept",
            )
        location = response.headers.get("Location") or self._status_url_from_body(response)
        answer = interpret_monitor(202, response.headers, b"")
        job_id = location.rstrip("/").rsplit("/", 1)[-1]
        return job_ref(
            self.vendor,
            request.report_id,
            job_id,
            status_url=monitor_path(location, self.client.base_url),
            format=request.fmt.name,
            filter=request.filter_text,
            timezone=request.timezone,
            filter_types=metadata.filters if metadata is not None else None,
            retry_after=answer.retry_after,
            submitted_at=_at(datetime.now(UTC).timestamp()),
            requests_to_submit=self.requests_sent - before,
        )

    def attach_job(self, kind: str, job_id: str) -> JobRef:
        """An export requested elsewhere, by its status id or its whole status URL (its hour still running)."""
        report = normalise_report_id(kind)
        if "/" in job_id:
            path = monitor_path(job_id, self.client.base_url)
            return job_ref(self.vendor, report, path.rstrip("/").rsplit("/", 1)[-1], status_url=path)
        return job_ref(self.vendor, report, job_id, status_url=f"status/{job_id}")

    def _status_url_from_body(self, response: Any) -> str:
        url = (response.json() or {}).get("statusUrl")
        if not url:
            raise VendorResponseError(
                vendor=self.vendor,
                method="GET",
                url=response.url,
                status=202,
                message="accepted the export but gave no status URL (no Location, no statusUrl)",
            )
        return str(url)

    @staticmethod
    def _monitor(job: JobRef) -> tuple[str, str]:
        extra = job.get("extra") or {}
        status_url = extra.get("status_url")
        if not status_url:
            raise ValueError(f"Brightmetrics job {job.get('job_id')}: the job reference holds no status URL")
        fmt = extra.get("format")
        # An export attached by id: its format is whatever the result says.
        return str(status_url), format_spec(str(fmt)).media_type if fmt else "*/*"

    @staticmethod
    def _job_status(job: JobRef, answer: MonitorAnswer) -> JobStatus:
        job_id = job["job_id"]
        if answer.state == "running":
            return JobStatus(job_id, JobOutcome.RUNNING, "202 Accepted", retry_after=answer.retry_after)
        if answer.state == "gone":
            return JobStatus(
                job_id,
                JobOutcome.EXPIRED,
                f"{answer.status} {'Gone' if answer.status == 410 else 'Not Found'}",
                message="the status URL expired (it is valid for 1 hour after the request) or the export was "
                f"cancelled{' (' + answer.message.rstrip('.') + ')' if answer.message else ''}",
            )
        if answer.state == "failed":
            return JobStatus(
                job_id, JobOutcome.FAILED, f"result status {answer.status}", message=answer.message
            )
        return JobStatus(
            job_id,
            JobOutcome.SUCCEEDED,
            "200 OK",
            details={"bytes": len(answer.body), "media_type": answer.media_type},
            result=JobResult(body=answer.body, media_type=answer.media_type),
        )

    def get_job_status(self, job: JobRef) -> JobStatus:
        """Poll the status URL once (one request); a finished export's status carries the report."""
        url, media = self._monitor(job)
        try:
            response = self.client.request("GET", url, headers={"Accept": media}, expect=(200, 202, 404, 410))
        except VendorRateLimitError as exc:
            raise self._budget_error(exc) from None
        return self._job_status(job, interpret_monitor(response.status, response.headers, response.content))

    async def aget_job_status(self, job: JobRef) -> JobStatus:
        """Async twin of :meth:`get_job_status` (the triggerer)."""
        url, media = self._monitor(job)
        client = await self.aclient()
        try:
            response = await client.arequest(
                "GET", url, headers={"Accept": media}, expect=(200, 202, 404, 410)
            )
        except VendorRateLimitError as exc:
            raise self._budget_error(exc) from None
        return self._job_status(job, interpret_monitor(response.status, response.headers, response.content))

    def cancel_job(self, job: JobRef) -> None:
        """``DELETE`` the status URL (one request); an expired or unknown one needs no cancelling."""
        url, _ = self._monitor(job)
        response = self.client.request("DELETE", url, expect=(200, 202, 204, 404, 405, 410))
        self._log_cancel(job, response.status)

    async def acancel_job(self, job: JobRef) -> None:
        url, _ = self._monitor(job)
        client = await self.aclient()
        response = await client.arequest("DELETE", url, expect=(200, 202, 204, 404, 405, 410))
        self._log_cancel(job, response.status)

    @staticmethod
    def _log_cancel(job: JobRef, status: int) -> None:
        outcome = {
            405: "cancelling is not supported by the service",
            404: "already gone",
            410: "already expired",
        }
        log.info(
            "Brightmetrics export %s: DELETE answered %d (%s)",
            job["job_id"],
            status,
            outcome.get(status, "cancelled"),
        )

    # -- landing ----------------------------------------------------------------------------

    def _result_body(self, job: JobRef, status: JobStatus, landing: LandingSink) -> tuple[bytes, str | None]:
        result = status.result
        if result is not None and result.body is not None:
            return result.body, result.media_type
        if result is not None and result.staged_uri:
            return landing.read_staged(result.staged_uri), result.media_type
        # Nothing staged (e.g. a job attached by id and waited on elsewhere): the status URL
        # still holds the result for its hour. One request, said out loud.
        log.warning(
            "Brightmetrics export %s: no staged result; fetching it from the status URL (1 request)",
            job["job_id"],
        )
        fetched = self.get_job_status(job)
        if (
            fetched.outcome is not JobOutcome.SUCCEEDED
            or fetched.result is None
            or fetched.result.body is None
        ):
            raise VendorResponseError(
                vendor=self.vendor,
                method="GET",
                url=self._monitor(job)[0],
                message=f"the export's result is no longer available ({fetched.vendor_state}: {fetched.message})",
            )
        return fetched.result.body, fetched.result.media_type

    def land_result(self, job: JobRef, status: JobStatus, landing: LandingSink) -> dict[str, Any]:
        """Land the report that ended polling; for JSON, follow ``@odata.nextLink`` to the end.

        Logs what the export spent and what is left of the account's budget.
        """
        body, media_type = self._result_body(job, status, landing)
        extra = job.get("extra") or {}
        if extra.get("format"):
            fmt = format_spec(str(extra["format"]))
        else:  # attached by id: the result says what it is
            fmt = format_from_media(media_type) if media_type else sniff_format(body)
        before = self.requests_sent
        pages = 1
        if fmt.name == "json":
            page = self._json_page(job, body, landing, fmt)
            link = page.get("@odata.nextLink")
            if link:
                for more, raw in iter_pages(
                    self.client, "GET", str(link), paginator=ODataNextLinkPaginator(), items_key="value"
                ):
                    landing.write_page(raw, len(more.get("value") or []), extension=fmt.extension)
                    pages += 1
        else:
            landing.write_page(body, _count_rows(body, fmt), extension=fmt.extension)
        paging = self.requests_sent - before
        left, frees = self.budget_left()
        polls = status.details.get("polls")
        spent = int(extra.get("requests_to_submit") or 0) + paging + (int(polls) if polls is not None else 0)
        log.info(
            "Brightmetrics export %s of report %s spent %d requests (%d to submit, %s polls, %d result "
            "pages); %d of %d left for account %r%s",
            job["job_id"],
            job["kind"],
            spent,
            int(extra.get("requests_to_submit") or 0),
            polls if polls is not None else "unreported",
            paging,
            left,
            self.request_limit,
            self.account,
            f"; the next frees at {_at(frees)}" if frees is not None else "",
        )
        return {
            "report_id": job["kind"],
            "format": fmt.name,
            "timezone": extra.get("timezone"),
            "filter_types": extra.get("filter_types"),
            "media_type": media_type or fmt.media_type,
            "result_pages": pages,
            "requests_spent": spent,
            "budget_account": self.account,
            "budget_left": left,
            "budget_limit": self.request_limit,
            "budget_frees_at": _at(frees),
        }

    def _json_page(self, job: JobRef, body: bytes, landing: LandingSink, fmt: FormatSpec) -> dict[str, Any]:
        """Land the first JSON page as received and return it parsed (a broken one is landed, then refused)."""
        problem: str | None = None
        page: Any = None
        try:
            page = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            problem = f"is not JSON ({type(exc).__name__}: {exc})"
        if problem is None and not (isinstance(page, dict) and isinstance(page.get("value", []), list)):
            problem = "is not an OData result (an object with a 'value' list)"
        uri = landing.write_page(
            body, None if problem else len(page.get("value") or []), extension=fmt.extension
        )
        if problem is not None:
            raise VendorResponseError(
                vendor=self.vendor,
                method="GET",
                url=str((job.get("extra") or {}).get("status_url")),
                message=f"the result of export {job['job_id']} of report {job['kind']} {problem}; "
                f"the vendor's bytes are kept at {uri}",
            )
        return dict(page)
