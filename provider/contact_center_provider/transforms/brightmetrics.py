"""Brightmetrics report results (JSON pages, CSV, xlsx) -> one Arrow table with explicit types.

A saved report's columns are the report's own, so the schema is built per result:

* column names: JSON property names as sent (already OData identifiers); CSV and xlsx
  header labels turned into the same identifiers (``Call Date/Time`` -> ``Call_Date_Time``),
  so a report has the same columns whatever format it was exported in;
* column types, first match wins: ``column_types`` given by the user; the report's
  ``$metadata`` where it declares the column (it declares the report's *filters*, e.g.
  ``Call_Date_Time`` ``Edm.DateTimeOffset``); otherwise from the values: in JSON, numbers are
  ``float64`` (never ``int64``: a column must not change type between intervals when a value
  happens to be whole), booleans ``bool``, the rest ``string``; in xlsx the same plus
  Excel dates as timestamps; in CSV ``string`` (text carries no types). A formatted CSV
  (``csv;formatted``) is all ``string``: its values are made for reading, not parsing;
* timestamps are ``timestamp[us, UTC]`` (Brightmetrics sends 7 fractional digits; the 100 ns
  digit is dropped); values with an offset are converted to UTC; values without one (xlsx
  cells) are read in the export's ``timezone``.

Instance annotations (``Call_Date_Time@odata.type``) and cells beyond a CSV header are
counted as unknown fields, kept in the raw zone, never a crash. A value that does not fit
a declared type fails with the report, row and column. Pure: no I/O, no Airflow.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from contact_center_provider.transforms.odata_filters import format_spec, odata_identifier

__all__ = [
    "ARROW_TYPES",
    "EDM_TYPES",
    "WINDOWS_ZONES",
    "ReportTable",
    "ReportValueError",
    "report_table",
]

ColumnType = Literal["string", "float64", "int64", "bool", "timestamp", "date"]

#: Our column types and their Arrow types (also the values ``column_types`` accepts).
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}

#: EDM types a ``$metadata`` may declare -> our column types.
EDM_TYPES: dict[str, str] = {
    "Edm.String": "string",
    "Edm.DateTimeOffset": "timestamp",
    "Edm.DateTime": "timestamp",
    "Edm.Date": "date",
    "Edm.Double": "float64",
    "Edm.Single": "float64",
    "Edm.Decimal": "float64",
    "Edm.Int16": "int64",
    "Edm.Int32": "int64",
    "Edm.Int64": "int64",
    "Edm.Byte": "int64",
    "Edm.SByte": "int64",
    "Edm.Boolean": "bool",
}

#: Windows zone names (the ``timezone`` option) -> IANA, to read xlsx times that carry no offset.
#: The document's examples and common zones; others: pass ``source_timezone`` (an IANA name).
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


class ReportValueError(ValueError):
    """A value does not fit its column's type; the message names report, row and column."""


@dataclass
class ReportTable:
    """A report result as one table.

    :param table: the rows, with the schema described in the module docstring.
    :param unknown_fields: annotations and surplus cells, counted (they stay in the raw zone).
    :param type_sources: column -> where its type came from (``column_types``, ``metadata``,
        ``values``, ``text``).
    """

    table: pa.Table
    unknown_fields: dict[str, int] = field(default_factory=dict)
    type_sources: dict[str, str] = field(default_factory=dict)


# -- reading the formats ---------------------------------------------------------------------


@dataclass
class _Grid:
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    unknown: Counter[str] = field(default_factory=Counter)

    def index(self, name: str) -> int:
        if name not in self.columns:
            self.columns.append(name)
            for row in self.rows:
                row.append(None)
        return self.columns.index(name)


def _unique_names(labels: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for position, label in enumerate(labels, start=1):
        name = odata_identifier(str(label)) if label not in (None, "") else ""
        name = name or f"column_{position}"
        base, n = name, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def _read_json(pages: Iterable[bytes], report: str) -> _Grid:
    grid = _Grid()
    for number, raw in enumerate(pages, start=1):
        try:
            page = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ReportValueError(
                f"Brightmetrics report {report}: result page {number} is not JSON ({exc})"
            ) from None
        values = page.get("value") if isinstance(page, Mapping) else None
        if not isinstance(values, list):
            raise ReportValueError(f"Brightmetrics report {report}: result page {number} has no 'value' list")
        for record in values:
            if not isinstance(record, Mapping):
                raise ReportValueError(
                    f"Brightmetrics report {report}: page {number} holds a row that is not an object"
                )
            row: list[Any] = [None] * len(grid.columns)
            grid.rows.append(row)
            for key, value in record.items():
                if "@" in key:  # an instance annotation, e.g. "X@odata.type"
                    grid.unknown[key] += 1
                    continue
                i = grid.index(key)
                if i >= len(row):
                    row.append(None)
                row[i] = value
    return grid


def _read_csv(pages: Iterable[bytes], report: str) -> _Grid:
    grid = _Grid()
    for raw in pages:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ReportValueError(
                f"Brightmetrics report {report}: the CSV result is not UTF-8 ({exc})"
            ) from None
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None:
            continue
        names = _unique_names(header)
        if not grid.columns:
            grid.columns = names
        elif names != grid.columns:
            raise ReportValueError(f"Brightmetrics report {report}: CSV parts have different headers")
        width = len(names)
        for cells in reader:
            if not cells:
                continue
            if len(cells) > width:
                grid.unknown["cells beyond the header"] += len(cells) - width
            grid.rows.append([c if c != "" else None for c in cells[:width]] + [None] * (width - len(cells)))
    return grid


def _read_xlsx(pages: Iterable[bytes], report: str) -> _Grid:
    try:
        from openpyxl import load_workbook
    except ImportError as exc:
        raise ImportError(
            "reading xlsx results needs openpyxl: pip install 'airflow-provider-contact-center[xlsx]'"
        ) from exc
    from zipfile import BadZipFile

    grid = _Grid()
    for raw in pages:
        try:
            book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        except (BadZipFile, KeyError, OSError) as exc:
            raise ReportValueError(
                f"Brightmetrics report {report}: the xlsx result is not a readable workbook ({exc})"
            ) from None
        try:
            sheet = book.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                continue
            names = _unique_names(list(header))
            if not grid.columns:
                grid.columns = names
            width = len(names)
            for cells in rows:
                if all(c is None for c in cells):
                    continue
                if len(cells) > width and any(c is not None for c in cells[width:]):
                    grid.unknown["cells beyond the header"] += sum(1 for c in cells[width:] if c is not None)
                grid.rows.append(list(cells[:width]) + [None] * (width - len(cells)))
        finally:
            book.close()
    return grid


# -- typing ------------------------------------------------------------------------------------

_FRACTION = re.compile(r"\.(\d+)")


def _parse_instant(text: str, naive_zone: tzinfo) -> datetime:
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Python reads at most 6 fractional digits; Brightmetrics sends 7.
    value = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value, count=1)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed.astimezone(UTC)


def _convert(value: Any, kind: str, naive_zone: tzinfo) -> Any:
    if value is None:
        return None
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, int | float):
            return repr(value) if isinstance(value, float) else str(value)
        return json.dumps(value, separators=(",", ":"))
    if kind == "timestamp":
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=naive_zone)).astimezone(UTC)
        if isinstance(value, str):
            return _parse_instant(value, naive_zone)
        raise TypeError
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            return date.fromisoformat(value.strip()[:10])
        raise TypeError
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise TypeError
    if isinstance(value, bool | datetime | date):
        raise TypeError
    if kind == "float64":
        return float(value.strip().replace(",", "")) if isinstance(value, str) else float(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise TypeError
        return int(value)
    return int(value.strip()) if isinstance(value, str) else int(value)


def _inferred(values: Iterable[Any], fmt: str) -> str:
    kinds = {type(v) for v in values if v is not None}
    if not kinds or fmt.startswith("csv"):
        return "string"
    if kinds == {bool}:
        return "bool"
    if kinds <= {int, float}:
        return "float64"
    if fmt == "xlsx" and kinds <= {datetime}:
        return "timestamp"
    return "string"


def _zone(timezone: str | None, source_timezone: str | None) -> tzinfo:
    name = source_timezone or (WINDOWS_ZONES.get(timezone) if timezone else "UTC")
    if name is None:
        raise ValueError(
            f"times in this result are local to the Windows zone {timezone!r}, which this provider cannot map; "
            "pass source_timezone with its IANA name (e.g. 'America/New_York')"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def report_table(
    pages: Iterable[bytes],
    fmt: str,
    *,
    declared: Mapping[str, str] | None = None,
    column_types: Mapping[str, str] | None = None,
    timezone: str | None = None,
    source_timezone: str | None = None,
    report: str = "",
) -> ReportTable:
    """Turn a report result (every landed object, in order) into one table.

    :param pages: the raw objects: JSON pages, or one CSV / xlsx file.
    :param fmt: the export's format (``json``, ``csv``, ``csv;formatted``, ``xlsx``...).
    :param declared: the report's ``$metadata`` filters (name -> EDM type).
    :param column_types: column -> one of :data:`ARROW_TYPES` (wins over everything).
    :param timezone: the export's ``timezone`` option (Windows name): zone of times without offset.
    :param source_timezone: IANA zone of times without offset (wins over ``timezone``).
    :param report: the report id, named in errors.
    :raises ReportValueError: a value does not fit its column's type (report, row, column named).
    :raises ValueError: an unknown format, column type or time zone.
    """
    spec = format_spec(fmt)
    if not spec.tabular:
        raise ValueError(f"Brightmetrics {spec.name} results are documents, not tables: land them only")
    wanted = dict(column_types or {})
    bad = {c: t for c, t in wanted.items() if t not in ARROW_TYPES}
    if bad:
        raise ValueError(f"column_types {bad} are not among {sorted(ARROW_TYPES)}")
    zone = _zone(timezone, source_timezone)
    reader = _read_json if spec.name == "json" else _read_xlsx if spec.name == "xlsx" else _read_csv
    grid = reader(pages, report)
    formatted = spec.name == "csv;formatted"
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    sources: dict[str, str] = {}
    for i, name in enumerate(grid.columns):
        column = [row[i] if i < len(row) else None for row in grid.rows]
        edm = (declared or {}).get(name)
        if name in wanted:
            kind, source = wanted[name], "column_types"
        elif edm in EDM_TYPES and not formatted:
            kind, source = EDM_TYPES[edm], "metadata"
        else:
            kind = _inferred(column, spec.name)
            source = "text" if spec.name.startswith("csv") else "values"
        converted = []
        for number, value in enumerate(column, start=1):
            try:
                converted.append(_convert(value, kind, zone))
            except (TypeError, ValueError, OverflowError):
                why = f" (declared {edm} by the report's $metadata)" if source == "metadata" else ""
                raise ReportValueError(
                    f"Brightmetrics report {report}, row {number}, column {name}: {value!r} is not a {kind}{why}"
                ) from None
        arrays.append(pa.array(converted, type=ARROW_TYPES[kind]))
        fields.append(pa.field(name, ARROW_TYPES[kind]))
        sources[name] = source
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return ReportTable(table, dict(grid.unknown), sources)
