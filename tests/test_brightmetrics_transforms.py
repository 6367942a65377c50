"""Report results -> Arrow: the same columns in every format, types from $metadata where declared.

The inputs are the sandbox's own bodies (fetched over HTTP), so the transforms read what the
emulated vendor sends, not hand-written samples that agree with the code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pytest
import requests

from contact_center_provider.transforms.brightmetrics import ReportValueError, report_table

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
DECLARED = {
    "Call_Date_Time": "Edm.DateTimeOffset",
    "Media_Type": "Edm.String",
    "Time_Talk_Total": "Edm.Double",
}
DAY = "Call_Date_Time ge 2024-05-01T00:00:00Z and Call_Date_Time le 2024-05-01T23:59:59Z"
TS = pa.timestamp("us", tz="UTC")


def body(sandbox: Any, fmt: str | None = None, tz: str | None = None) -> bytes:
    query = "$filter=" + quote(DAY, safe="'(),:")
    if fmt:
        query += "&$format=" + quote(fmt, safe="")
    if tz:
        query += "&timezone=" + quote(tz)
    url = f"{sandbox.url}/brightmetrics/OData.ashx/{AGENT_DETAIL}?{query}"
    response = requests.get(url, auth=("user@example.com", "*passpassword"), timeout=10)
    response.raise_for_status()
    return response.content


def test_json_csv_and_xlsx_give_the_same_columns_and_rows(sandbox: Any) -> None:
    tables = {
        fmt: report_table(
            [body(sandbox, None if fmt == "json" else fmt)], fmt, declared=DECLARED, report=AGENT_DETAIL
        )
        for fmt in ("json", "csv", "xlsx")
    }
    names = [t.table.column_names for t in tables.values()]
    assert names[0] == names[1] == names[2]
    assert names[0][:3] == ["Call_Date_Time", "Agent_Name", "Media_Type"]
    json_t, csv_t, xlsx_t = (tables[f].table for f in ("json", "csv", "xlsx"))
    assert json_t.num_rows == csv_t.num_rows == xlsx_t.num_rows == 48
    for table in (json_t, csv_t, xlsx_t):
        assert table.schema.field("Call_Date_Time").type == TS  # declared by $metadata
        assert table.schema.field("Time_Talk_Total").type == pa.float64()
    assert json_t.column("Call_Date_Time").equals(csv_t.column("Call_Date_Time"))
    assert json_t.column("Call_Date_Time").equals(xlsx_t.column("Call_Date_Time"))
    assert json_t.column("Time_Talk_Total").equals(csv_t.column("Time_Talk_Total"))
    # Undeclared columns: JSON and xlsx values carry types, CSV text does not.
    assert json_t.schema.field("Calls_Handled").type == pa.float64()
    assert csv_t.schema.field("Calls_Handled").type == pa.string()
    assert tables["csv"].type_sources["Calls_Handled"] == "text"
    assert tables["json"].type_sources["Call_Date_Time"] == "metadata"


def test_user_column_types_win_and_formatted_csv_stays_text(sandbox: Any) -> None:
    typed = report_table(
        [body(sandbox, "csv")], "csv", declared=DECLARED, column_types={"Calls_Handled": "int64"}
    ).table
    assert typed.schema.field("Calls_Handled").type == pa.int64()
    formatted = report_table([body(sandbox, "csv;formatted")], "csv;formatted", declared=DECLARED).table
    assert set(formatted.schema.types) == {pa.string()}
    assert formatted.column("Call_Date_Time")[0].as_py().endswith(("AM", "PM"))


def test_times_in_a_timezone_come_back_as_the_same_utc_instants(sandbox: Any) -> None:
    utc = report_table([body(sandbox)], "json", declared=DECLARED).table
    eastern_json = report_table([body(sandbox, tz="Eastern Standard Time")], "json", declared=DECLARED).table
    eastern_xlsx = report_table(
        [body(sandbox, "xlsx", tz="Eastern Standard Time")],
        "xlsx",
        declared=DECLARED,
        timezone="Eastern Standard Time",
    ).table
    assert utc.column("Call_Date_Time").equals(eastern_json.column("Call_Date_Time"))
    assert utc.column("Call_Date_Time").equals(eastern_xlsx.column("Call_Date_Time"))
    with pytest.raises(ValueError, match="source_timezone"):
        report_table([b"{}"], "xlsx", timezone="Fiji Standard Time")


def test_annotations_and_surplus_cells_are_counted_not_fatal() -> None:
    page = {
        "value": [
            {
                "Call_Date_Time": "2024-05-01T10:00:00.1234567Z",
                "Call_Date_Time@odata.type": "#DateTimeOffset",
                "X": 1,
            },
            {"Call_Date_Time": "2024-05-01T11:00:00Z", "Y": True},
        ]
    }
    result = report_table([json.dumps(page).encode()], "json", declared=DECLARED)
    assert result.unknown_fields == {"Call_Date_Time@odata.type": 1}
    assert result.table.column_names == ["Call_Date_Time", "X", "Y"]
    assert result.table.column("Call_Date_Time").to_pylist()[0] == datetime(
        2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert result.table.column("Y").to_pylist() == [None, True]
    csv = b"Call Date/Time,Media Type\r\n2024-05-01T10:00:00Z,Voice,extra\r\n"
    surplus = report_table([b"\xef\xbb\xbf" + csv], "csv", declared=DECLARED)
    assert surplus.unknown_fields == {"cells beyond the header": 1}
    assert surplus.table.column_names == ["Call_Date_Time", "Media_Type"]


def test_a_value_that_does_not_fit_its_declared_type_names_row_and_column() -> None:
    csv = b"Call Date/Time,Time - Talk - Total\r\n2024-05-01T10:00:00Z,12.5\r\n2024-05-01T11:00:00Z,n/a\r\n"
    with pytest.raises(
        ReportValueError,
        match=r"report R, row 2, column Time_Talk_Total: 'n/a' is not a float64 \(declared Edm.Double",
    ):
        report_table([csv], "csv", declared=DECLARED, report="R")


def test_pdf_is_not_a_table_and_an_empty_result_is_an_empty_table() -> None:
    with pytest.raises(ValueError, match="documents, not tables"):
        report_table([b"%PDF-1.4"], "pdf")
    empty = report_table([b'{"value": []}'], "json").table
    assert empty.num_rows == 0 and empty.num_columns == 0
    header_only = report_table([b"Call Date/Time\r\n"], "csv", declared=DECLARED).table
    assert header_only.schema == pa.schema([pa.field("Call_Date_Time", TS)])


def test_multi_page_json_keeps_one_schema() -> None:
    pages = [
        json.dumps({"value": [{"A": 1.5}], "@odata.nextLink": "x"}).encode(),
        json.dumps({"value": [{"A": 2}]}).encode(),
    ]
    table = report_table(pages, "json").table
    assert table.column("A").to_pylist() == [1.5, 2.0] and table.schema.field("A").type == pa.float64()
    with pytest.raises(ReportValueError, match="not a readable workbook"):
        report_table([b"not a zip"], "xlsx", report="R")
