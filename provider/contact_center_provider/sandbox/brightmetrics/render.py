"""Bodies the emulated service sends: service document, ``$metadata`` EDMX, and report data
as JSON, CSV (unformatted or formatted), xlsx and PDF (no HTTP).

Where the document is silent (CSV header and value formats, xlsx layout, JSON with a
timezone) the choices are ours and named here: CSV and xlsx headers are the column
labels (``settings.csv_header``), unformatted values are ISO 8601 / plain numbers,
formatted ones look like the UI (``2/17/2021 8:39:47 PM``, ``1,234.50``, ``87.50%``,
``0:15:00``); timestamps in a ``timezone`` carry its UTC offset.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo

from .catalog import REPORTS, Column, Report
from .errors import ODataError

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Windows zone names the emulation knows (the document's three, and common others) -> IANA.
WINDOWS_ZONES: dict[str, str] = {
    "UTC": "UTC",
    "Pacific Standard Time": "America/Los_Angeles",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Atlantic Standard Time": "America/Halifax",
    "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
}

#: ``$format`` value -> (kind, variant).
FORMAT_PARAMS: dict[str, tuple[str, str]] = {
    "json": ("json", ""),
    "csv": ("csv", "unformatted"),
    "csv;unformatted": ("csv", "unformatted"),
    "csv;formatted": ("csv", "formatted"),
    "pdf": ("pdf", "portrait"),
    "pdf;portrait": ("pdf", "portrait"),
    "pdf;landscape": ("pdf", "landscape"),
    "xlsx": ("xlsx", ""),
}


def zone(name: str | None) -> tzinfo:
    """The zone of a ``timezone`` option (UTC when absent).

    :raises ODataError: 400 for a name the emulation does not know.
    """
    if not name:
        return UTC
    iana = WINDOWS_ZONES.get(name)
    if iana is None:
        raise ODataError(
            400,
            f"Unknown time zone '{name}'. Use a Windows time zone name such as 'Eastern Standard Time'.",
            "InvalidTimeZone",
            target="timezone",
        )
    return ZoneInfo(iana)


def choose_format(format_param: str | None, accept: str | None) -> tuple[str, str]:
    """``(kind, variant)`` from ``$format`` (first) or the ``Accept`` header; JSON by default.

    :raises ODataError: 400 for an unknown ``$format``.
    """
    if format_param:
        key = ";".join(p.strip() for p in format_param.lower().split(";"))
        if key not in FORMAT_PARAMS:
            raise ODataError(
                400, f"The $format '{format_param}' is not supported.", "InvalidFormat", target="$format"
            )
        return FORMAT_PARAMS[key]
    for part in (accept or "").lower().split(","):
        media, _, params = part.strip().partition(";")
        flags = {p.strip() for p in params.split(";")}
        if media == "text/csv":
            return "csv", "formatted" if "formatted" in flags else "unformatted"
        if media == "application/pdf":
            return "pdf", "landscape" if "landscape" in flags else "portrait"
        if media == XLSX_TYPE:
            return "xlsx", ""
        if media in ("application/json", "*/*", ""):
            return "json", ""
    return "json", ""


# -- discovery ---------------------------------------------------------------------------------


def service_document(vendor_root: str) -> dict[str, Any]:
    return {
        "@odata.context": f"{vendor_root}/$metadata",
        "value": [
            {"name": r.entity_set, "title": r.title, "kind": "EntitySet", "url": r.id} for r in REPORTS
        ],
    }


def report_metadata(report: Report) -> bytes:
    """The report's EDMX: its unlocked filters as properties of ``filters_<id>`` (the document's shape)."""
    props = "\n".join(
        f"                <Property Name={quoteattr(name)} Type={quoteattr(edm)} />"
        for name, edm in report.filters
    )
    title = re.sub(r"\W+", "_", report.title).strip("_")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">\n'
        "    <edmx:DataServices>\n"
        '        <Schema Namespace="Brightmetrics" xmlns="http://docs.oasis-open.org/odata/ns/edm">\n'
        f'            <EntityType Name="filters_{report.id}">\n{props}\n            </EntityType>\n'
        '            <EntityContainer Name="Saved Reports">\n'
        f'                <EntitySet Name="{title}_{report.compact_id}_filters" '
        f'EntityType="Brightmetrics.filters_{report.id}" />\n'
        "            </EntityContainer>\n"
        "        </Schema>\n"
        "    </edmx:DataServices>\n"
        "</edmx:Edmx>\n"
    ).encode()


def service_metadata() -> bytes:
    """``/OData.ashx/$metadata``: the container of every report's entity set."""
    sets = "\n".join(
        f'                <EntitySet Name={quoteattr(r.entity_set)} EntityType="Brightmetrics.report_{r.id}" />'
        for r in REPORTS
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">\n'
        "    <edmx:DataServices>\n"
        '        <Schema Namespace="Brightmetrics" xmlns="http://docs.oasis-open.org/odata/ns/edm">\n'
        f'            <EntityContainer Name="Saved Reports">\n{sets}\n            </EntityContainer>\n'
        "        </Schema>\n"
        "    </edmx:DataServices>\n"
        "</edmx:Edmx>\n"
    ).encode()


# -- report data -------------------------------------------------------------------------------


def _iso(value: datetime, tz: tzinfo, *, json_style: bool) -> str:
    local = value.astimezone(tz)
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S")
    if json_style:
        stamp += ".0000000"
    offset = local.utcoffset()
    if offset is None or not offset:
        return stamp + "Z"
    return stamp + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]


def json_page(
    vendor_base: str, report: Report, rows: Sequence[dict[str, Any]], tz: tzinfo, next_link: str | None
) -> bytes:
    values = [
        {
            c.name: (_iso(row[c.name], tz, json_style=True) if c.kind == "datetime" else row[c.name])
            for c in report.columns
        }
        for row in rows
    ]
    body: dict[str, Any] = {"@odata.context": f"{vendor_base}/$metadata#{report.entity_set}"}
    if next_link:
        body["@odata.nextLink"] = next_link
    body["value"] = values
    return json.dumps(body, indent=4).encode()


def _formatted(column: Column, value: Any, tz: tzinfo) -> str:
    if column.kind == "datetime":
        local = value.astimezone(tz)
        hour = local.hour % 12 or 12
        return (
            f"{local.month}/{local.day}/{local.year} {hour}:{local:%M:%S} {'AM' if local.hour < 12 else 'PM'}"
        )
    if column.kind == "integer":
        return f"{value:,}"
    if column.kind == "number":
        if column.name.endswith("_Pct"):
            return f"{value:.2f}%"
        if column.name.startswith("Time_") or column.name.endswith("_Time"):
            seconds = round(value)
            return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        return f"{value:,.2f}"
    return str(value)


def csv_body(
    report: Report, rows: Sequence[dict[str, Any]], tz: tzinfo, *, formatted: bool, header: str
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.label if header == "label" else c.name for c in report.columns])
    for row in rows:
        cells = []
        for column in report.columns:
            value = row[column.name]
            if formatted:
                cells.append(_formatted(column, value, tz))
            elif column.kind == "datetime":
                cells.append(_iso(value, tz, json_style=False))
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue().encode("utf-8")


def xlsx_body(report: Report, rows: Sequence[dict[str, Any]], tz: tzinfo, *, header: str) -> bytes:
    """One sheet: a header row of labels, then the rows (times as local, naive Excel dates)."""
    try:
        from openpyxl import Workbook
    except ImportError as exc:  # the sandbox's xlsx needs the 'xlsx' extra
        raise ODataError(
            406,
            "xlsx output needs openpyxl in the sandbox (pip install 'airflow-provider-contact-center[xlsx]').",
        ) from exc
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Report"
    sheet.append([c.label if header == "label" else c.name for c in report.columns])
    for row in rows:
        sheet.append(
            [
                row[c.name].astimezone(tz).replace(tzinfo=None) if c.kind == "datetime" else row[c.name]
                for c in report.columns
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pdf_body(report: Report, rows: Sequence[dict[str, Any]], *, landscape: bool) -> bytes:
    """A small valid one-page PDF naming the report (the layout is not what matters here)."""
    width, height = (792, 612) if landscape else (612, 792)
    text = f"{report.title}: {len(rows)} rows".replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 {height - 72} Td ({text}) Tj ET".encode("latin-1", errors="replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>".encode(),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def error_json(error: ODataError) -> bytes:
    return json.dumps(error.body()).encode()
