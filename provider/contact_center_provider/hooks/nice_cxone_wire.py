"""NICE CXone Data Extraction: the pure part of the wire (no I/O, no Airflow).

Hosts, paths, the job state table, request bodies, parsing of answers, error bodies,
and the interval rules (whole UTC days, at most 14 days a request). Shared by the sync
and async halves of :class:`~contact_center_provider.hooks.nice_cxone.NiceCxoneHook`,
by its operator and by tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from contact_center_provider.http.errors import ErrorInfo, default_error_parser
from contact_center_provider.jobs import JobOutcome, JobRef, JobResult, JobStatus, job_ref, map_state

VENDOR = "nice_cxone"

#: The document's production servers (the legacy access-key token lives on the same host).
REGION_HOSTS: dict[str, str] = {
    "na1": "https://na1.nice-incontact.com",
    "au1": "https://au1.nice-incontact.com",
    "eu1": "https://eu1.niceincontact.com",
}
#: Issuer of the current (OpenID Connect) authentication, and of API discovery.
DEFAULT_OIDC_BASE = "https://cxone.niceincontact.com"
OPENID_CONFIGURATION = "/.well-known/openid-configuration"
CXONE_CONFIGURATION = "/.well-known/cxone-configuration"
ACCESS_KEY_TOKEN_PATH = "/authentication/v1/token/access-key"
#: The document prints ``/data-extraction/V1``; every client in the wild sends ``v1``.
DATA_EXTRACTION_PATH = "/data-extraction/v1"

#: The document's call-spacing rule: one call per 30 s per tenant, one caller at a time.
DEFAULT_CALL_SPACING = 30.0
#: Added to the spacing so that network jitter never brings two calls closer than the rule.
DEFAULT_CALL_SPACING_MARGIN = 1.0
#: NICE: "ideal date range is 1 day" ongoing, "up to two weeks per request" for history.
DEFAULT_MAX_DAYS_PER_REQUEST = 14
#: How often a result URL that expired (403 from the object store) is asked for again.
DEFAULT_URL_REFRESHES = 3
#: Statuses GET /jobs/{jobId} may answer with (the document says 202, clients see 200).
SUCCESS_STATUSES: tuple[int, ...] = tuple(range(200, 300))

#: NICE: "new interaction data may take up to 30 minutes to appear" (minutes).
DEFAULT_SETTLE_MINUTES = 30
#: The kind of the "job" that waits for the data of an interval to settle (no vendor call).
SETTLE_KIND = "data-settling"

#: Vendor states -> common outcome. ``SUCCESS`` is how the document's prose names SUCCEEDED.
NICE_STATES: dict[str, JobOutcome] = {
    "RUNNING": JobOutcome.RUNNING,
    "SUCCEEDED": JobOutcome.SUCCEEDED,
    "SUCCESS": JobOutcome.SUCCEEDED,
    "FAILED": JobOutcome.FAILED,
    "CANCELLED": JobOutcome.CANCELLED,
    "EXPIRED": JobOutcome.EXPIRED,
}


# -- intervals -------------------------------------------------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def whole_days(start: datetime, end: datetime, *, widen: bool = False) -> tuple[date, date]:
    """The UTC days ``[first, last)`` covering ``[start, end)``.

    The Data Extraction API filters by date only, so an interval must begin and end at UTC
    midnights; with ``widen`` it is widened outward to the enclosing days instead.

    :raises ValueError: an interval that is not whole UTC days (and ``widen`` is off), or empty.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise ValueError(f"empty interval {start.isoformat()} .. {end.isoformat()}")
    first, last = start.date(), end.date()
    ragged = start != _midnight(first) or end != _midnight(last)
    if ragged and not widen:
        raise ValueError(
            f"NICE CXone Data Extraction filters by whole UTC days, but the interval "
            f"{start.isoformat()} .. {end.isoformat()} does not start and end at UTC midnight. "
            "Schedule the DAG daily in UTC (or on whole-day intervals), or set widen_to_days=True "
            "to export the enclosing days."
        )
    if end != _midnight(last):
        last += timedelta(days=1)
    return first, last


def split_days(
    first: date, last: date, max_days: int = DEFAULT_MAX_DAYS_PER_REQUEST
) -> list[tuple[date, date]]:
    """Cut the days ``[first, last)`` into consecutive requests of at most ``max_days`` days.

    :raises ValueError: ``max_days`` below 1 or an empty range.
    """
    if max_days < 1:
        raise ValueError(f"max_days must be >= 1, got {max_days}")
    if last <= first:
        raise ValueError(f"empty date range {first} .. {last}")
    pieces = []
    cursor = first
    while cursor < last:
        nxt = min(cursor + timedelta(days=max_days), last)
        pieces.append((cursor, nxt))
        cursor = nxt
    return pieces


def split_interval(
    start: datetime, end: datetime, *, max_days: int = DEFAULT_MAX_DAYS_PER_REQUEST, widen: bool = False
) -> list[tuple[datetime, datetime]]:
    """:func:`whole_days` then :func:`split_days`, as UTC-midnight datetimes (one per request)."""
    first, last = whole_days(start, end, widen=widen)
    return [(_midnight(a), _midnight(b)) for a, b in split_days(first, last, max_days)]


def export_request(
    entity: str, version: str, first: date, last: date, *, end_date_inclusive: bool = False
) -> dict[str, str]:
    """The ``exportRequest`` body for the days ``[first, last)``.

    Whether ``endDate`` is inclusive is not documented; public daily scripts send
    yesterday..today, read as exclusive, which is the default here.
    """
    end = last - timedelta(days=1) if end_date_inclusive else last
    return {
        "entityName": entity,
        "version": str(version),
        "startDate": first.isoformat(),
        "endDate": end.isoformat(),
    }


# -- answers ---------------------------------------------------------------------------------------


def parse_job_id(body: bytes) -> str:
    """The job id POST /jobs answers: a bare JSON string (``"2087..."``); tolerate it unquoted.

    :raises ValueError: an empty answer.
    """
    text = body.decode("utf-8", errors="replace").strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = text.strip('"')
    if isinstance(value, Mapping):  # not documented, but cheap to accept
        value = value.get("jobId") or value.get("id")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"NICE CXone accepted the job but its answer holds no job id ({len(body)} bytes)")
    return value.strip()


def parse_job_status(job_id: str, payload: Any) -> JobStatus:
    """A ``jobResponse`` (``{"jobStatus": {"id", "status", "result": {"url" | "errorMessage"}}}``).

    :raises UnknownJobStateError: a missing or unknown ``status``.
    """
    status = payload.get("jobStatus") if isinstance(payload, Mapping) else None
    status = status if isinstance(status, Mapping) else {}
    state = status.get("status")
    outcome = map_state(NICE_STATES, state if isinstance(state, str) else None, vendor=VENDOR, job_id=job_id)
    raw_result = status.get("result")
    result: Mapping[str, Any] = raw_result if isinstance(raw_result, Mapping) else {}
    url = result.get("url") if outcome is JobOutcome.SUCCEEDED else None
    return JobStatus(
        job_id=str(status.get("id") or job_id),
        outcome=outcome,
        vendor_state=state,
        message=result.get("errorMessage") or None,
        result=JobResult(url=url, media_type="text/csv") if url else None,
    )


def parse_jobs(payload: Any) -> dict[str, str]:
    """GET /jobs: ``{"jobs": [{"id", "status"}]}`` -> ``{id: status}``."""
    jobs = payload.get("jobs") if isinstance(payload, Mapping) else payload
    found: dict[str, str] = {}
    for item in jobs if isinstance(jobs, list) else []:
        if isinstance(item, Mapping) and item.get("id"):
            found[str(item["id"])] = str(item.get("status") or "")
    return found


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (only used to find the tenant's API host; never trusted
    for anything else). ``{}`` when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw)
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def api_base_from_configuration(config: Mapping[str, Any]) -> str:
    """The API host from ``/.well-known/cxone-configuration``: ``api_endpoint``, else
    ``https://api-{area}.{domain}`` as NICE's "your first app" guide builds it.

    :raises ValueError: neither is present.
    """
    endpoint = config.get("api_endpoint")
    if isinstance(endpoint, str) and endpoint:
        return endpoint.rstrip("/")
    area, domain = config.get("area"), config.get("domain")
    if isinstance(area, str) and area and isinstance(domain, str) and domain:
        return f"https://api-{area}.{domain}"
    raise ValueError("the CXone configuration names no api_endpoint and no area/domain")


#: Appended to a 403: NICE's permission refusal and (unverified) its throttling answer look alike.
FORBIDDEN_HINT = (
    "NICE CXone answers 403 both when the user lacks the Data Extraction permission for the "
    "entity (e.g. QM Tools > Data Extraction APIs > QM Workflow API) and, it seems, when another "
    "caller broke the one-call-per-30-seconds rule for the tenant"
)


def nice_error_parser(status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
    """The default parser, plus the OAuth ``errorDescription`` spelling and a 403 hint."""
    info = default_error_parser(status, headers, body)
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        payload = None
    message = info.message
    if isinstance(payload, dict) and isinstance(payload.get("errorDescription"), str):
        message = payload["errorDescription"]
    if status == 403:
        message = f"{message} ({FORBIDDEN_HINT})" if message else FORBIDDEN_HINT
    return ErrorInfo(code=info.code, message=message, correlation_id=info.correlation_id)


_S3_FIELD = re.compile(r"<(Code|Message)>([^<]*)</\1>")


def object_store_error_parser(status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
    """The object store behind result URLs is S3: read ``<Code>`` and ``<Message>`` of its XML errors."""
    text = body[:4096].decode("utf-8", errors="replace")
    fields = dict(_S3_FIELD.findall(text))
    if "Code" in fields:
        return ErrorInfo(code=fields["Code"], message=fields.get("Message", ""), correlation_id=None)
    return default_error_parser(status, headers, body)


# -- waiting for the data to settle (no call to the vendor) ---------------------------------------


def settle_ref(until: datetime) -> JobRef:
    """A job-like reference that ends when ``until`` has passed: the export waits for late data."""
    stamp = until.astimezone(UTC).isoformat()
    return job_ref(VENDOR, SETTLE_KIND, f"settle-until-{stamp}", until=stamp)


def settle_status(ref: JobRef, now: datetime) -> JobStatus:
    """RUNNING until the settle time, SUCCEEDED after; ``retry_after`` says how long is left."""
    until = datetime.fromisoformat(ref["extra"]["until"])
    left = (until - now).total_seconds()
    if left > 0:
        return JobStatus(ref["job_id"], JobOutcome.RUNNING, "SETTLING", retry_after=left)
    return JobStatus(ref["job_id"], JobOutcome.SUCCEEDED, "SETTLED")
