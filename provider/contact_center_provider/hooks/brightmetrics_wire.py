"""Brightmetrics OData on the wire: what to send and what a response means, shared by the hook's twins.

Pure functions (no I/O, no Airflow):

* an export's parameters -> :class:`ExportRequest` (path, ``$filter``, ``$format``, ``timezone``),
  checked against every documented rule before a request is spent;

* the service document (``GET /OData.ashx``) -> :class:`ReportInfo` list;
* a report's ``$metadata`` (EDMX) -> :class:`ReportMetadata` (its filters and EDM types);
* the OData v4 asynchronous-request protocol (OASIS OData v4.01 Part 1, "Asynchronous
  Requests"): a status-monitor answer -> :class:`MonitorAnswer` (still running, done
  with the result, failed, gone), including ``AsyncResult`` and ``application/http``
  wrapped results;
* the OData JSON error body -> :class:`~contact_center_provider.http.errors.ErrorInfo`.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesHeaderParser
from typing import Any, Literal
from urllib.parse import urlsplit

from contact_center_provider.http.errors import ErrorInfo
from contact_center_provider.http.retry import parse_retry_after
from contact_center_provider.transforms.odata_filters import (
    FormatSpec,
    build_filter,
    build_query,
    check_timezone,
    conditions_from,
    format_spec,
    interval_conditions,
)

__all__ = [
    "DEFAULT_INTERVAL_FILTER",
    "PARAM_KEYS",
    "ExportRequest",
    "MonitorAnswer",
    "ReportInfo",
    "ReportMetadata",
    "export_request",
    "interpret_monitor",
    "normalise_report_id",
    "odata_error_parser",
    "parse_metadata",
    "parse_service_document",
    "unwrap_http_message",
]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def normalise_report_id(report: str) -> str:
    """A saved report's id as the API's URLs carry it: a dashed, lower-case GUID.

    Accepts the id with or without dashes (as the UI's API menu and the service
    document's ``name`` show it).

    :raises ValueError: for anything that is not a GUID (say what to pass instead).
    """
    text = str(report).strip().lower()
    if not _GUID.match(text):
        raise ValueError(
            f"Brightmetrics report {report!r} is not a report id (a GUID such as "
            "0c15c8a5-128b-488b-8758-ef15868c3b5b: the 'url' of the report in the service document, "
            "or the end of the report's API URL in the Brightmetrics UI)"
        )
    plain = text.replace("-", "")
    return f"{plain[:8]}-{plain[8:12]}-{plain[12:16]}-{plain[16:20]}-{plain[20:]}"


# -- discovery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportInfo:
    """One saved report of the service document.

    :param id: the report id (the document's ``url``: relative to the OData root).
    :param name: the OData entity-set name (title and id combined).
    :param title: the title shown in the Brightmetrics UI.
    """

    id: str
    name: str
    title: str
    kind: str = "EntitySet"

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "title": self.title, "kind": self.kind}


def parse_service_document(payload: Any) -> list[ReportInfo]:
    """Read the reports of a service document (``{"@odata.context", "value": [...]}``).

    :raises ValueError: the payload has no ``value`` list.
    """
    items = payload.get("value") if isinstance(payload, Mapping) else None
    if not isinstance(items, list):
        raise ValueError("the Brightmetrics service document has no 'value' list of reports")
    reports = []
    for item in items:
        if not isinstance(item, Mapping) or not item.get("url"):
            continue
        url = str(item["url"]).strip("/").rsplit("/", 1)[-1]
        reports.append(
            ReportInfo(
                id=url,
                name=str(item.get("name") or ""),
                title=str(item.get("title") or ""),
                kind=str(item.get("kind") or "EntitySet"),
            )
        )
    return reports


@dataclass(frozen=True)
class ReportMetadata:
    """A report's filters, from its ``$metadata``.

    :param report_id: the report id.
    :param filters: filter property -> EDM type (``Edm.String``, ``Edm.DateTimeOffset``...),
        in document order.
    :param entity_set: the filters' entity-set name.
    """

    report_id: str
    filters: dict[str, str] = field(default_factory=dict)
    entity_set: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"report_id": self.report_id, "filters": dict(self.filters), "entity_set": self.entity_set}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportMetadata:
        return cls(str(data["report_id"]), dict(data.get("filters") or {}), data.get("entity_set"))


def parse_metadata(report_id: str, xml: bytes) -> ReportMetadata:
    """Read a report's ``$metadata`` EDMX: the properties of its ``filters_<id>`` entity type.

    The standard library parser is used; Python's bundled expat (>= 2.4.1) refuses
    entity-expansion attacks, and the document comes from the authenticated vendor.

    :raises ValueError: the body is not EDMX with an entity type.
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"Brightmetrics $metadata of report {report_id} is not XML: {exc}") from None
    types = root.findall(f".//{_EDM}EntityType")
    if not types:
        raise ValueError(f"Brightmetrics $metadata of report {report_id} declares no EntityType")
    wanted = f"filters_{report_id}"
    chosen = next((t for t in types if t.get("Name", "").lower() == wanted), types[0])
    filters = {
        str(prop.get("Name")): str(prop.get("Type") or "Edm.String")
        for prop in chosen.findall(f"{_EDM}Property")
        if prop.get("Name")
    }
    entity_set = root.find(f".//{_EDM}EntitySet")
    return ReportMetadata(report_id, filters, entity_set.get("Name") if entity_set is not None else None)


# -- errors --------------------------------------------------------------------------------------


def odata_error_parser(status: int, headers: Mapping[str, str], content: bytes) -> ErrorInfo:
    """Read an OData JSON error (``{"error": {"code", "message", "details"...}}``)."""
    try:
        data = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        data = None
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, Mapping):
        message = error.get("message")
        if isinstance(message, Mapping):  # OData v3 verbose JSON: {"lang", "value"}
            message = message.get("value")
        details = [d.get("message") for d in error.get("details") or [] if isinstance(d, Mapping)]
        text = str(message or "")
        if details:
            text = f"{text} ({'; '.join(str(d) for d in details if d)})"
        return ErrorInfo(code=str(error.get("code")) if error.get("code") else None, message=text)
    text = content[:500].decode("utf-8", errors="replace").strip() if content else ""
    return ErrorInfo(code=None, message=text)


# -- asynchronous requests -----------------------------------------------------------------------


def _content_type(headers: Mapping[str, str]) -> str:
    return (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()


def unwrap_http_message(body: bytes) -> tuple[int, dict[str, str], bytes]:
    """Split an ``application/http`` body (a whole HTTP response) into status, headers, body.

    :raises ValueError: the body does not start with an HTTP status line.
    """
    head, sep, rest = body.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = body.partition(b"\n\n")
    status_line, _, header_block = head.partition(b"\n")
    match = re.match(rb"^HTTP/\d(?:\.\d)?\s+(\d{3})", status_line.strip())
    if match is None or not sep:
        raise ValueError("an application/http result does not hold an HTTP response")
    message = BytesHeaderParser().parsebytes(header_block.lstrip(b"\r\n") + b"\r\n\r\n")
    headers = {k: str(v) for k, v in message.items()}
    length = headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) <= len(rest):
        rest = rest[: int(length)]
    return int(match.group(1)), headers, rest


MonitorState = Literal["running", "done", "failed", "gone"]


@dataclass(frozen=True)
class MonitorAnswer:
    """What one look at a status monitor said.

    :param state: ``running`` (202), ``done`` (200 with the result), ``failed`` (the result
        is an error response), ``gone`` (404/410: expired after the hour, or cancelled).
    :param status: the final response's status (``AsyncResult`` or the wrapped status line).
    :param body: the result body (``done``) — the report itself.
    :param media_type: the result's content type.
    :param retry_after: seconds the service asked us to wait (``Retry-After``).
    :param message: the error message of a failed result.
    :param location: the monitor URL to use from now on (a 202 may move it).
    """

    state: MonitorState
    status: int
    body: bytes = field(default=b"", repr=False)
    media_type: str | None = None
    retry_after: float | None = None
    message: str | None = None
    location: str | None = None


def interpret_monitor(status: int, headers: Mapping[str, str], content: bytes) -> MonitorAnswer:
    """Interpret a status-monitor response (OData v4.01 Part 1, "Asynchronous Requests").

    * 202: still running; ``Location`` and ``Retry-After`` may change.
    * 200 with ``Content-Type: application/http``: the body is the final response, wrapped.
    * 200 otherwise: the final response itself; ``AsyncResult`` (4.01) carries its status.
    * 404/410: the monitor is gone (polled too late, or cancelled).
    """
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if status == 202:
        return MonitorAnswer("running", 202, retry_after=retry_after, location=headers.get("Location"))
    if status in (404, 410):
        info = odata_error_parser(status, headers, content)
        return MonitorAnswer("gone", status, message=info.message or None)
    if status != 200:
        raise ValueError(f"unexpected status {status} from an OData status monitor")
    final_status, final_headers, body = status, dict(headers), content
    if _content_type(headers) == "application/http":
        final_status, final_headers, body = unwrap_http_message(content)
    else:
        async_result = (headers.get("AsyncResult") or "").strip()
        if async_result.isdigit():
            final_status = int(async_result)
    media_type = final_headers.get("Content-Type") or final_headers.get("content-type")
    if final_status >= 400:
        info = odata_error_parser(final_status, final_headers, body)
        return MonitorAnswer(
            "failed", final_status, media_type=media_type, message=info.message or f"status {final_status}"
        )
    return MonitorAnswer("done", final_status, body=body, media_type=media_type, retry_after=retry_after)


def format_from_media(media_type: str | None) -> FormatSpec:
    """The format a result's content type says (for an export attached by id, whose request we did not build)."""
    parts = [p.strip().lower() for p in (media_type or "").split(";")]
    media, flags = parts[0], set(parts[1:])
    if media == "text/csv":
        return format_spec("csv;formatted" if "formatted" in flags else "csv")
    if media == "application/pdf":
        return format_spec("pdf;landscape" if "landscape" in flags else "pdf")
    if media == format_spec("xlsx").media_type:
        return format_spec("xlsx")
    return format_spec("json")


def sniff_format(body: bytes) -> FormatSpec:
    """The format of a result whose content type did not travel with it (staged across a deferral)."""
    head = body[:8].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF"):
        return format_spec("pdf")
    if head.startswith(b"PK\x03\x04"):
        return format_spec("xlsx")
    if head.startswith((b"{", b"[")):
        return format_spec("json")
    return format_spec("csv")


def monitor_path(location: str, base_url: str) -> str:
    """Where to poll: the monitor URL relative to the client's base when it is under it.

    Kept relative so the job reference survives a base-URL change (e.g. a proxy) and so
    it names no host in logs; an URL elsewhere is kept absolute.
    """
    base = urlsplit(base_url)
    target = urlsplit(location)
    if not target.scheme:
        return location
    same = (target.scheme, target.netloc) == (base.scheme, base.netloc)
    if same and target.path.startswith(base.path.rstrip("/") + "/"):
        rel = target.path[len(base.path.rstrip("/")) :]
        return rel + (f"?{target.query}" if target.query else "")
    return location


# -- the export request ---------------------------------------------------------------------------

#: The date filter of the document's examples, used for the data interval by default.
DEFAULT_INTERVAL_FILTER = "Call_Date_Time"
#: Keys of ``params`` (the operator's ``job_params``) :meth:`BrightmetricsHook.submit_job` reads.
PARAM_KEYS = ("format", "timezone", "filters", "interval_filter", "validate_filters", "metadata")


@dataclass(frozen=True)
class ExportRequest:
    """One report request, built and checked before any budget is spent.

    :param report_id: the saved report's id.
    :param fmt: the output format.
    :param filter_text: the ``$filter`` text ("" for none).
    :param timezone: the ``timezone`` option (``None``: UTC).
    :param query: the query string (spaces as ``%20``).
    """

    report_id: str
    fmt: FormatSpec
    filter_text: str
    timezone: str | None
    query: str

    @property
    def path(self) -> str:
        return f"{self.report_id}?{self.query}" if self.query else self.report_id


def export_request(
    report: str,
    start: datetime | None,
    end: datetime | None,
    params: Mapping[str, Any],
    *,
    default_timezone: str | None = None,
    metadata: ReportMetadata | None = None,
) -> ExportRequest:
    """Build the request for ``report`` over ``[start, end)`` from the export's parameters.

    :param params: ``format`` (default ``json``), ``timezone``, ``filters`` (see
        :func:`~contact_center_provider.transforms.odata_filters.conditions_from`),
        ``interval_filter`` (the date filter the interval goes into, default ``Call_Date_Time``;
        ``None`` sends no date filter and the report runs over its saved range).
    :param metadata: the report's filters, to check names and types against.
    :raises FilterRuleError: a parameter breaks a documented rule (named in the message).
    :raises ValueError: an unknown parameter, or a report id that is not one.
    """
    unknown = sorted(set(params) - set(PARAM_KEYS))
    if unknown:
        raise ValueError(
            f"Brightmetrics export parameters {unknown} are not known; known: {', '.join(PARAM_KEYS)}"
        )
    report_id = normalise_report_id(report)
    fmt = format_spec(str(params.get("format") or "json"))
    timezone = check_timezone(params.get("timezone") or default_timezone)
    conditions = []
    interval_filter = params.get("interval_filter", DEFAULT_INTERVAL_FILTER)
    if interval_filter and start is not None and end is not None:
        conditions.extend(interval_conditions(str(interval_filter), start, end))
    conditions.extend(conditions_from(params.get("filters")))
    filter_text = build_filter(
        conditions, properties=metadata.filters if metadata is not None else None, report=report_id
    )
    return ExportRequest(
        report_id,
        fmt,
        filter_text,
        timezone,
        build_query(filter_text=filter_text, fmt=fmt, timezone=timezone),
    )
