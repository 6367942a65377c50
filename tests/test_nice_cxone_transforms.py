"""NICE CXone result files -> Arrow/Parquet (pure, no HTTP), and the interval rules."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contact_center_provider.hooks.nice_cxone_wire import (
    export_request,
    parse_job_id,
    parse_job_status,
    settle_ref,
    settle_status,
    split_days,
    split_interval,
    token_claims,
    whole_days,
)
from contact_center_provider.jobs import JobOutcome, UnknownJobStateError
from contact_center_provider.sandbox.nice_cxone.data import QM_WORKFLOWS_V1, render_csv
from contact_center_provider.transforms.nice_cxone import (
    QM_WORKFLOWS_COLUMNS,
    QM_WORKFLOWS_SCHEMA,
    CsvRowCounter,
    ExtractReader,
    read_extract_table,
    snake_case,
    table_name,
)

HEADER = list(QM_WORKFLOWS_V1)
NAMES = [name for _, name, _ in QM_WORKFLOWS_COLUMNS]


def qm_row(**values: str) -> list[str]:
    """A valid QM Workflows row, with some cells replaced (by documented header)."""
    row = {h: "" for h in HEADER}
    row.update(
        {
            "Tenant Name": "T",
            "Agent ID": "007",
            "Type": "Evaluation",
            "Auto Acknowledged": "TRUE",
            "Form Version": "3",
            "Start Date": "2024-05-01T08:00:00.000Z",
            "Submission Date": "2024-05-01T09:00:00.500Z",
            "Last Updated": "2024-05-01T10:00:00Z",
            "Score \u2013 Percentage": "87.5",
            "Score": "35",
            "Maximum Possible Score": "40",
            "Failed Critical Question": "false",
        }
    )
    row.update({k.replace("_", " "): v for k, v in values.items()})
    return [row[h] for h in HEADER]


def to_csv(header: list[str], rows: list[list[str]], *, bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if bom else data


HOSTILE = [
    'He said "cancel", twice.\r\nThen: "no"',
    '=HYPERLINK("http://evil.invalid","x")',
    "+1 555 0100",
    "-2 for hold",
    "@SUM(A1:A9)",
    "\tleading tab",
    "Zoë Åkesson \u2013 田中 花子 👍",
    "N/A",
    "NULL",
    "nan",
    '""',
    ",,,",
    "line\nbreak\rcarriage",
    " padded ",
]


def test_hostile_csv_survives_into_parquet_value_for_value(tmp_path: Path) -> None:
    rows = []
    for index, text in enumerate(HOSTILE):
        rows.append(
            qm_row(
                User_Review_Comments=text,
                Dispute_Resolver_Comments=text[::-1],
                Team_Name=text,
                Phone_Number=text if index % 2 else "",
            )
        )
    raw = to_csv(HEADER, rows, bom=True)
    table, stats = read_extract_table(raw, "qm-workflows", "1")
    pq.write_table(table, tmp_path / "t.parquet")
    back = pq.read_table(tmp_path / "t.parquet")
    assert back.schema.equals(QM_WORKFLOWS_SCHEMA, check_metadata=False)
    expected = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))[1:]
    for row, got in zip(expected, back.to_pylist(), strict=True):
        for header, value in zip(HEADER, row, strict=True):
            name = NAMES[HEADER.index(header)]
            kind = QM_WORKFLOWS_COLUMNS[HEADER.index(header)][2]
            if kind == "string":
                assert got[name] == (value or None), (header, value)
    assert stats.rows == len(HOSTILE) and stats.unknown_columns == [] and stats.missing_columns == []


def test_qm_workflows_types() -> None:
    rows = [
        qm_row(),
        qm_row(
            Type="Self-Assessment",
            Auto_Acknowledged="",
            Failed_Critical_Question="TRUE",
            Last_Updated="5/1/2024 1:02:03 PM",
            Start_Date="2024-05-01 07:00:00",
        ),
    ]
    table, _ = read_extract_table(to_csv(HEADER, rows), "qm-workflows", "1")
    first, second = table.to_pylist()
    assert first["auto_acknowledged"] is True and second["auto_acknowledged"] is None
    assert first["failed_critical_question"] is False and second["failed_critical_question"] is True
    assert first["form_version"] == 3 and first["score_percentage"] == 87.5 and first["score"] == 35.0
    assert first["submission_date"] == datetime(2024, 5, 1, 9, 0, 0, 500000, tzinfo=UTC)
    assert second["last_updated"] == datetime(2024, 5, 1, 13, 2, 3, tzinfo=UTC)
    assert second["start_date"] == datetime(2024, 5, 1, 7, tzinfo=UTC)
    assert first["agent_id"] == "007"  # ids keep their leading zeros
    assert table.schema.field("submission_date").type == pa.timestamp("ms", tz="UTC")


def test_header_matching_ignores_case_dash_and_order_and_counts_the_rest() -> None:
    header = [h.upper() for h in HEADER]
    header[HEADER.index("Score \u2013 Percentage")] = "score - percentage"
    order = list(range(len(header)))[::-1]
    shuffled = [header[i] for i in order]
    row = qm_row()
    data = to_csv([*shuffled[:-1], "Workflow ID"], [[*[row[i] for i in order][:-1], "wf-1"]])
    table, stats = read_extract_table(data, "qm-workflows", "3")
    assert stats.unknown_columns == ["Workflow ID"]
    dropped = HEADER[order[-1]]
    assert stats.missing_columns == [dropped]
    got = table.to_pylist()[0]
    assert got["score_percentage"] == 87.5 and got["agent_id"] == "007"
    assert got[NAMES[HEADER.index(dropped)]] is None
    assert table.schema.metadata[b"version"] == b"3"


@pytest.mark.parametrize(
    ("cell", "value", "words"),
    [
        ("Auto_Acknowledged", "maybe", "expects a boolean"),
        ("Form_Version", "1.5", "expects an integer"),
        ("Score", "n/a", "expects a number"),
        ("Submission_Date", "yesterday", "expects a UTC timestamp"),
    ],
)
def test_bad_values_name_column_row_and_value(cell: str, value: str, words: str) -> None:
    data = to_csv(HEADER, [qm_row(), qm_row(**{cell: value})])
    with pytest.raises(ValueError, match=words) as caught:
        read_extract_table(data, "qm-workflows", "1", what="raw/x.csv")
    message = str(caught.value)
    assert "raw/x.csv" in message and "data row 2" in message and repr(value) in message


def test_malformed_and_empty_files_fail_clearly() -> None:
    with pytest.raises(ValueError, match="empty"):
        read_extract_table(b"", "qm-workflows", "1")
    ragged = to_csv(HEADER, [qm_row()]) + b"only,three,cells\r\n"
    with pytest.raises(ValueError, match="malformed after data row"):
        read_extract_table(ragged, "qm-workflows", "1")
    header_only, stats = read_extract_table(to_csv(HEADER, []), "qm-workflows", "1")
    assert header_only.num_rows == 0 and stats.rows == 0


def test_other_entities_land_as_text_without_code() -> None:
    days = [date(2024, 5, 1)]
    data = render_csv(42, "recording-interaction-metadata", "7", days, per_day=10, tenant="T")
    table, stats = read_extract_table(data, "recording-interaction-metadata", "7")
    assert table.schema.names[:3] == ["acd_call_id", "segment_id", "start_date"]
    assert "agent_1_skills" in table.schema.names and "duration_sec" in table.schema.names
    assert all(field.type == pa.string() for field in table.schema)
    assert table.num_rows == stats.rows > 0
    dup, _ = read_extract_table(b"A b,a-b,\xc3\x89t\xc3\xa9\r\n1,2,3\r\n", "new-entity", "9")
    assert dup.schema.names == ["a_b", "a_b_2", "ete"]
    assert table_name("recording-interaction-metadata") == "recording_interaction_metadata"
    assert snake_case("FirstName (Eva)") == "first_name_eva"


def test_reader_streams_in_batches_from_a_file_object() -> None:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(14)]
    data = render_csv(42, "qm-workflows", "1", days, per_day=100, tenant="T")
    reader = ExtractReader(io.BytesIO(data), "qm-workflows", "1", block_size=64 * 1024)
    batches = list(reader)
    assert len(batches) > 1  # several batches: the file is never read whole
    assert sum(b.num_rows for b in batches) == reader.stats.rows
    counter = CsvRowCounter()
    for i in range(0, len(data), 4096):
        counter.feed(data[i : i + 4096])
    assert counter.data_rows == reader.stats.rows
    assert counter.header == HEADER


# -- the wire's pure parts ------------------------------------------------------------------------


def test_whole_days_and_widening() -> None:
    midnight = datetime(2024, 5, 1, tzinfo=UTC)
    assert whole_days(midnight, midnight + timedelta(days=1)) == (date(2024, 5, 1), date(2024, 5, 2))
    with pytest.raises(ValueError, match="does not start and end at UTC midnight"):
        whole_days(midnight + timedelta(hours=2), midnight + timedelta(days=1))
    assert whole_days(midnight + timedelta(hours=2), midnight + timedelta(hours=30), widen=True) == (
        date(2024, 5, 1),
        date(2024, 5, 3),
    )
    with pytest.raises(ValueError, match="empty interval"):
        whole_days(midnight, midnight)


def test_a_month_splits_into_requests_of_at_most_14_days() -> None:
    pieces = split_days(date(2024, 5, 1), date(2024, 6, 1))
    assert [(a.isoformat(), b.isoformat()) for a, b in pieces] == [
        ("2024-05-01", "2024-05-15"),
        ("2024-05-15", "2024-05-29"),
        ("2024-05-29", "2024-06-01"),
    ]
    assert len(split_days(date(2024, 5, 1), date(2024, 6, 1), max_days=1)) == 31
    windows = split_interval(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 10, tzinfo=UTC), max_days=7)
    assert windows[-1] == (datetime(2024, 5, 8, tzinfo=UTC), datetime(2024, 5, 10, tzinfo=UTC))


def test_export_request_and_answers() -> None:
    body = export_request("qm-workflows", "1", date(2024, 5, 1), date(2024, 5, 2))
    assert body == {
        "entityName": "qm-workflows",
        "version": "1",
        "startDate": "2024-05-01",
        "endDate": "2024-05-02",
    }
    inclusive = export_request(
        "qm-workflows", "1", date(2024, 5, 1), date(2024, 5, 2), end_date_inclusive=True
    )
    assert inclusive["endDate"] == "2024-05-01"
    assert parse_job_id(b'"20873a3f-b951-4481-b83b-f6fa1ebe0759"') == "20873a3f-b951-4481-b83b-f6fa1ebe0759"
    assert parse_job_id(b"20873a3f") == "20873a3f"
    with pytest.raises(ValueError, match="no job id"):
        parse_job_id(b'""')
    done = parse_job_status(
        "j", {"jobStatus": {"id": "j", "status": "SUCCEEDED", "result": {"url": "https://s3/x?sig"}}}
    )
    assert (
        done.outcome is JobOutcome.SUCCEEDED
        and done.result is not None
        and done.result.url == "https://s3/x?sig"
    )
    assert "sig" not in repr(done)  # the URL is a credential
    failed = parse_job_status(
        "j", {"jobStatus": {"id": "j", "status": "Failed", "result": {"errorMessage": "boom"}}}
    )
    assert failed.outcome is JobOutcome.FAILED and failed.message == "boom" and failed.result is None
    with pytest.raises(UnknownJobStateError, match="QUEUED"):
        parse_job_status("j", {"jobStatus": {"id": "j", "status": "QUEUED"}})
    assert token_claims("not-a-jwt") == {}


def test_settling_is_answered_from_the_clock() -> None:
    ref = settle_ref(datetime(2024, 5, 2, 0, 30, tzinfo=UTC))
    waiting = settle_status(ref, datetime(2024, 5, 2, 0, 10, tzinfo=UTC))
    assert waiting.outcome is JobOutcome.RUNNING and waiting.retry_after == 1200
    assert settle_status(ref, datetime(2024, 5, 2, 0, 30, tzinfo=UTC)).outcome is JobOutcome.SUCCEEDED
