"""In-memory Brightmetrics OData service: auth, budget, reports, paging, asynchronous exports.

Every public method takes parsed request facts and returns a :class:`Reply` or raises
:class:`~.errors.ODataError`; ``routes.py`` only moves them on and off the wire.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from ..vendors import VendorContext
from .accounts import Budget, User, authenticate
from .catalog import Report, find_report, generate_rows
from .errors import ODataError
from .exports import Export, ExportStore, Query, ScaledClock
from .odata_filter import matches, parse_filter, time_range, validate
from .render import (
    JSON_TYPE,
    XLSX_TYPE,
    choose_format,
    csv_body,
    json_page,
    pdf_body,
    report_metadata,
    service_document,
    service_metadata,
    xlsx_body,
    zone,
)
from .settings import BrightmetricsSettings

ODATA_VERSION = {"OData-Version": "4.0"}
#: System query options the service does not support (the document names only $filter/$format).
UNSUPPORTED_OPTIONS = ("$select", "$orderby", "$top", "$skip", "$expand", "$count", "$search", "$apply")


@dataclass
class Reply:
    """One response: status, body bytes, content type, extra headers."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _utc(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _iso(moment: datetime, *, millis: bool = False) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{moment.microsecond // 1000:03d}Z" if millis else "Z")


class BrightmetricsModel:
    """State of one emulated Brightmetrics tenant set (every company shares the catalog)."""

    def __init__(self, ctx: VendorContext) -> None:
        self._ctx = ctx
        self.clock = ScaledClock(lambda: self.settings.time_scale)
        self.budget = Budget(lambda: self.settings, self.clock, self.clock.retry_after)
        self.exports = ExportStore()
        self._queries: dict[str, Query] = {}
        self.pages_served = 0

    @property
    def settings(self) -> BrightmetricsSettings:
        settings: BrightmetricsSettings = self._ctx.settings
        return settings

    # -- auth and budget ----------------------------------------------------------------------

    def admit(self, authorization: str | None, *, monitor: bool = False) -> User:
        """Authenticate, then count the request against the company's budget.

        Requests that fail authentication are not counted (they name no account); status
        monitor requests count unless ``count_status_polls`` is off (undocumented either way).
        """
        user = authenticate(authorization, self.settings)
        if not monitor or self.settings.count_status_polls:
            self.budget.spend(user.company)
        return user

    # -- discovery ----------------------------------------------------------------------------

    def service_document(self, vendor_root: str) -> Reply:
        body = json.dumps(service_document(vendor_root), indent=2).encode()
        return Reply(200, body, "application/json; odata.metadata=minimal", dict(ODATA_VERSION))

    def service_metadata(self) -> Reply:
        return Reply(200, service_metadata(), "application/xml", dict(ODATA_VERSION))

    def report_metadata(self, report_id: str) -> Reply:
        return Reply(200, report_metadata(self._report(report_id)), "application/xml", dict(ODATA_VERSION))

    # -- report requests ----------------------------------------------------------------------

    def _report(self, report_id: str) -> Report:
        report = find_report(report_id)
        if report is None:
            raise ODataError(404, f"No saved report with id '{report_id}' is available to this user.")
        return report

    def _default_range(self) -> tuple[datetime, datetime]:
        """The report's configured range when no date filter is sent: yesterday (UTC, sandbox clock)."""
        today = _utc(self.clock()).replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=1), today - timedelta(microseconds=1000)

    def _query(self, report: Report, params: Mapping[str, str], accept: str | None) -> Query:
        for option in UNSUPPORTED_OPTIONS:
            if option in params:
                raise ODataError(
                    400, f"The query option '{option}' is not supported.", "NotSupported", target=option
                )
        clauses = parse_filter(params.get("$filter", ""))
        validate(clauses, report)
        timezone = params.get("timezone") or None
        zone(timezone)
        kind, variant = choose_format(params.get("$format"), accept)
        start, end = time_range(clauses, report)
        default_start, default_end = self._default_range()
        if start is None and end is None:
            start, end = default_start, default_end
        elif start is None:
            assert end is not None
            start = end - timedelta(days=1)
        elif end is None:
            end = _utc(self.clock())
        if end < start:
            raise ODataError(400, "The date range ends before it starts.", "InvalidFilter", target="$filter")
        return Query(report, tuple(clauses), start, end, timezone, kind, variant)

    def _from_skiptoken(self, report: Report, token: str) -> tuple[Query, datetime]:
        try:
            data = json.loads(base64.b64decode(token, validate=True))
            query = self._queries[str(data["Id"])]
            next_start = datetime.fromisoformat(str(data["NextStart"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise ODataError(400, "The $skiptoken is invalid or has expired.", "InvalidSkipToken") from None
        if query.report.id != report.id:
            raise ODataError(400, "The $skiptoken belongs to another report.", "InvalidSkipToken")
        return query, next_start

    def _skiptoken(self, query: Query, next_start: datetime) -> str:
        query_id = next((k for k, v in self._queries.items() if v is query), None)
        if query_id is None:
            query_id = str(uuid.uuid4())
            self._queries[query_id] = query
        payload = {"Id": query_id, "NextStart": _iso(next_start), "End": _iso(query.end, millis=True)}
        return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def _result(self, query: Query, base: str, start: datetime, *, paged: bool) -> Reply:
        """The data of ``query`` from ``start`` on; a JSON detail result is cut into page ranges."""
        report, settings = query.report, self.settings
        end, next_link = query.end, None
        if paged and query.kind == "json" and report.detail:
            span = timedelta(hours=settings.page_span_hours)
            if end - start >= span:
                end = start + span - timedelta(microseconds=1)
                next_link = (
                    f"{base}/{report.id}?$skiptoken={quote(self._skiptoken(query, start + span), safe='')}"
                )
        rows = [
            row
            for row in generate_rows(self._ctx.seed, report, start, end, settings.detail_rows_per_day)
            if matches(row, list(query.clauses), report)
        ]
        tz = zone(query.timezone)
        self.pages_served += 1
        if query.kind == "json":
            return Reply(200, json_page(base, report, rows, tz, next_link), JSON_TYPE, dict(ODATA_VERSION))
        if query.kind == "csv":
            formatted = query.variant == "formatted"
            body = csv_body(report, rows, tz, formatted=formatted, header=settings.csv_header)
            ctype = "text/csv; formatted" if formatted else "text/csv"
            return Reply(200, body, f"{ctype}; charset=utf-8", dict(ODATA_VERSION))
        if query.kind == "xlsx":
            return Reply(200, xlsx_body(report, rows, tz, header=settings.csv_header), XLSX_TYPE)
        landscape = query.variant == "landscape"
        return Reply(200, pdf_body(report, rows, landscape=landscape), "application/pdf")

    def report(
        self, user: User, report_id: str, params: Mapping[str, str], headers: Mapping[str, str], base: str
    ) -> Reply:
        """``GET /OData.ashx/{id}``: the data, a next page (``$skiptoken``), or a 202 with ``respond-async``."""
        report = self._report(report_id)
        token = params.get("$skiptoken")
        if token:
            query, start = self._from_skiptoken(report, token)
            return self._result(query, base, start, paged=True)
        query = self._query(report, params, headers.get("Accept"))
        prefer = {p.strip().lower() for p in headers.get("Prefer", "").split(",")}
        if "respond-async" not in prefer:
            return self._result(query, base, query.start, paged=True)
        settings = self.settings
        export = self.exports.create(
            user.company,
            query,
            self.clock(),
            seconds=settings.job_seconds,
            ttl=settings.status_ttl_seconds,
            ttl_from=settings.status_ttl_from,
            outcome=settings.job_outcome,
        )
        reply = self._accepted(export, base)
        if settings.preference_applied:
            reply.headers["Preference-Applied"] = "respond-async"
        return reply

    # -- status monitor -----------------------------------------------------------------------

    def _accepted(self, export: Export, base: str) -> Reply:
        url = f"{base}/status/{export.id}"
        body = json.dumps({"statusUrl": url}, indent=2).encode()
        headers = {
            "Location": url,
            "Retry-After": self.clock.retry_after(self.settings.retry_after_seconds),
            **ODATA_VERSION,
        }
        return Reply(202, body, JSON_TYPE, headers)

    def _export(self, user: User, export_id: str) -> Export:
        export = self.exports.exports.get(export_id)
        if export is None or export.company != user.company:
            raise ODataError(404, "The status URL is unknown.")
        return export

    def status(self, user: User, export_id: str, headers: Mapping[str, str], base: str) -> Reply:
        """``GET /OData.ashx/status/{id}``: 202 while running, 200 with the result, then 404/410."""
        export = self._export(user, export_id)
        export.polls += 1
        state = export.state(self.clock())
        if state == "cancelled":
            raise ODataError(404, "The asynchronous request was cancelled.")
        if state == "expired":
            raise ODataError(
                self.settings.expired_status, "The status URL has expired (it is valid for 1 hour)."
            )
        if state == "running":
            return self._accepted(export, base)
        export.served += 1
        if export.outcome == "failed":
            error = ODataError(500, "The report could not be generated.", "ReportFailed")
            final = Reply(500, json.dumps(error.body()).encode(), "application/json", dict(ODATA_VERSION))
        else:
            final = self._result(
                export.query, base, export.query.start, paged=self.settings.page_async_results
            )
        return self._final(final, headers)

    def _wants_wrapped(self, headers: Mapping[str, str]) -> bool:
        mode = self.settings.wrap_result
        if mode != "auto":
            return mode == "always"
        accept = headers.get("Accept")
        if accept is not None:
            return "application/http" in accept.lower()
        return headers.get("OData-MaxVersion", "").strip() == "4.0"

    def _final(self, final: Reply, headers: Mapping[str, str]) -> Reply:
        if self._wants_wrapped(headers):
            lines = [f"HTTP/1.1 {final.status} {'OK' if final.status == 200 else 'Error'}"]
            if final.content_type:
                lines.append(f"Content-Type: {final.content_type}")
            lines += [f"{k}: {v}" for k, v in final.headers.items()]
            lines.append(f"Content-Length: {len(final.body)}")
            wrapped = ("\r\n".join(lines) + "\r\n\r\n").encode() + final.body
            return Reply(200, wrapped, "application/http", dict(ODATA_VERSION))
        reply = Reply(200, final.body, final.content_type, dict(final.headers))
        if self.settings.async_result_header:
            reply.headers["AsyncResult"] = str(final.status)
        return reply

    def cancel(self, user: User, export_id: str) -> Reply:
        """``DELETE /OData.ashx/status/{id}``."""
        export = self._export(user, export_id)
        status = self.settings.cancel_status
        if status == 405:
            raise ODataError(405, "Cancelling an asynchronous request is not supported.")
        if export.cancelled:
            raise ODataError(404, "The asynchronous request was cancelled.")
        export.cancelled = True
        return Reply(status, b"", None, dict(ODATA_VERSION))

    # -- admin ----------------------------------------------------------------------------------

    def job_counters(self) -> dict[str, Any]:
        return {**self.exports.counters(), "pages_served": self.pages_served, "budget": self.budget.report()}

    def spend(self, body: dict[str, Any]) -> dict[str, Any]:
        company = str(body.get("company") or "acme")
        requests = body.get("requests", 0)
        if not isinstance(requests, int) or requests < 0:
            raise ValueError("'requests' must be an integer >= 0")
        return {"company": company, "used": self.budget.prespend(company, requests)}

    def advance(self, body: dict[str, Any]) -> dict[str, Any]:
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError("'seconds' must be a number")
        return {"now": _iso(_utc(self.clock.advance(float(seconds))))}

    def reset_budget(self, body: dict[str, Any]) -> dict[str, Any]:
        company = body.get("company")
        self.budget.reset(str(company) if company else None)
        return {"status": "reset", "budget": self.budget.report()}
