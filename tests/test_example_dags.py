"""The example DAGs, run by real Airflow (``dag.test``) against the sandbox, end to end.

They are documentation and tests at once: export (deferred) -> enrichment -> tables ->
report, written to a temporary folder standing in for object storage.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import markupsafe
import pyarrow.parquet as pq
import pytest
from test_reports_chromium import _need_chromium  # noqa: F401  (fixture: Chromium or skip/fail)

from contact_center_provider.transforms import genesys_schemas as schemas

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "dags"))

HOUR_END = datetime(2026, 11, 2, 15, tzinfo=UTC)  # hourly DAGs: the hour 14:00-15:00
RUN_AFTER = datetime(2026, 11, 2, 15, 5, tzinfo=UTC)
HOUR = "interval_start=20261102T140000Z/interval_end=20261102T150000Z"

pytestmark = pytest.mark.usefixtures("airflow_db")


def example(dag_id: str) -> Any:
    return importlib.import_module(dag_id).dag


def run(
    dag_id: str, base: Path, conn: str, logical_date: datetime = HOUR_END, run_after: datetime | None = None
) -> Any:
    dag_run = example(dag_id).test(
        logical_date=logical_date,
        # The run id derives from run_after: keep it unique per logical date.
        run_after=run_after or logical_date + (RUN_AFTER - HOUR_END),
        run_conf={"output_base_uri": base.as_uri(), "genesys_conn_id": conn},
    )
    failed = {ti.task_id: ti.state for ti in dag_run.get_task_instances() if str(ti.state) != "success"}
    assert failed == {}, f"{dag_id}: tasks not successful: {failed}"
    return dag_run


def assert_renders_cleanly(page: Path, tmp_path: Path) -> None:
    """Open the report in headless Chromium: no console error, no network, no script."""
    from test_reports_chromium import browser, open_page

    async def check() -> Any:
        async with browser(tmp_path / "chromium-profile") as cdp:
            return await open_page(cdp, page, tmp_path / f"{page.stem}.png")

    report = asyncio.run(check())
    assert report.errors == [] and report.external_requests == [] and report.facts["externalScripts"] == 0
    assert (tmp_path / f"{page.stem}.png").read_bytes().startswith(b"\x89PNG")


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_abandon_report_matches_the_reference_layout(genesys_conn: str, tmp_path: Path) -> None:
    run("genesys_abandon_report", tmp_path, genesys_conn)
    report = tmp_path / "reports" / "abandons" / HOUR / "abandons.txt"
    text = report.read_text(encoding="utf-8")
    lines = text.split("\n")
    assert text.endswith("\n") and lines[-1] == ""
    assert lines[:7] == [
        "ABANDONED CONVERSATIONS",
        "Run date: Mon Nov 02 2026 15:05:00 GMT+0000",
        "Company: Genesys Sandbox Org",
        "Interval: 2026-11-02T14:00:00.000+0000/2026-11-02T15:00:00.000+0000",
        "Job: Abandons job",
        "Configuration: Abandons Configuration",
        "Conversation ID|Queue|Customer Name|ANI",
    ]
    rows = [line.split("|") for line in lines[7:-1]]
    assert rows and all(len(row) == 4 for row in rows)
    # One row per exported conversation, in conversationStart order (read from the tables, as users would).
    conversations = pq.read_table(
        tmp_path / "tables/genesys_cloud/conversations/export=abandons" / HOUR / "part-00000.parquet"
    ).sort_by([("conversation_start", "ascending"), ("conversation_id", "ascending")])
    assert [row[0] for row in rows] == conversations["conversation_id"].to_pylist()
    assert all(row[3].startswith("tel:+") for row in rows)
    # Tables landed with their declared schemas, as Parquet and CSV.
    for name, schema in schemas.CONVERSATION_TABLES.items():
        part = tmp_path / "tables/genesys_cloud" / name / "export=abandons" / HOUR
        assert pq.read_schema(part / "part-00000.parquet").remove_metadata() == schema.remove_metadata()
        assert (part / "part-00000.csv").exists()


@pytest.mark.parametrize(
    ("dag_id", "logical_date", "report"),
    [
        ("genesys_abandon_report", HOUR_END, "abandons.txt"),
        ("genesys_call_detail_report", HOUR_END, "call_detail.html"),
        ("genesys_presence_report", datetime(2026, 11, 2, tzinfo=UTC), "presence.html"),
    ],
)
def test_rerunning_an_interval_rewrites_identical_objects(
    genesys_conn: str, tmp_path: Path, dag_id: str, logical_date: datetime, report: str
) -> None:
    run(dag_id, tmp_path, genesys_conn, logical_date=logical_date)
    first = tree_digest(tmp_path / "tables") | tree_digest(tmp_path / "reports")
    run(dag_id, tmp_path, genesys_conn, logical_date=logical_date)
    second = tree_digest(tmp_path / "tables") | tree_digest(tmp_path / "reports")
    assert first == second and any(k.endswith(report) for k in first)


def test_the_first_hour_of_a_day_lists_no_call_from_the_day_before(genesys_conn: str, tmp_path: Path) -> None:
    midnight = datetime(2026, 11, 2, tzinfo=UTC)
    import requests

    sandbox_url = json.loads(os.environ["AIRFLOW_CONN_GENESYS_SANDBOX"])["extra"]["api_base_url"]
    requests.patch(
        sandbox_url.replace("/genesys-cloud", "/_sandbox/vendors/genesys_cloud/settings"),
        json={"conversations_per_day": 9600},
        timeout=10,
    ).raise_for_status()
    run("genesys_abandon_report", tmp_path, genesys_conn, logical_date=midnight + timedelta(hours=1))
    # Whatever the job returned (it may include calls of the day before still going at
    # midnight), the hour's tables and report hold only the calls that started in it.
    conversations = pq.read_table(
        tmp_path
        / "tables/genesys_cloud/conversations/export=abandons"
        / "interval_start=20261102T000000Z/interval_end=20261102T010000Z/part-00000.parquet"
    )
    starts = conversations["conversation_start"].to_pylist()
    assert starts and min(starts) >= midnight
    report = tmp_path / "reports/abandons/interval_start=20261102T000000Z/interval_end=20261102T010000Z"
    rows = (report / "abandons.txt").read_text().split("\n")[7:-1]
    assert sorted(r.split("|")[0] for r in rows) == sorted(conversations["conversation_id"].to_pylist())


def test_consecutive_intervals_give_their_own_partitions(genesys_conn: str, tmp_path: Path) -> None:
    for hours in range(3):
        end = HOUR_END + timedelta(hours=hours)
        run("genesys_abandon_report", tmp_path, genesys_conn, logical_date=end, run_after=end)
    partitions = sorted(
        f"{p.parent.name}/{p.name}" for p in (tmp_path / "reports" / "abandons").glob("*/interval_end=*")
    )
    assert partitions == [
        "interval_start=20261102T140000Z/interval_end=20261102T150000Z",
        "interval_start=20261102T150000Z/interval_end=20261102T160000Z",
        "interval_start=20261102T160000Z/interval_end=20261102T170000Z",
    ]


@pytest.mark.chromium
@pytest.mark.usefixtures("_need_chromium")
def test_call_detail_report_escapes_hostile_names(genesys_conn: str, tmp_path: Path) -> None:
    run(
        "genesys_call_detail_report",
        tmp_path,
        genesys_conn,
        logical_date=datetime(2026, 11, 2, 12, tzinfo=UTC),
    )
    page = (
        tmp_path
        / "reports/call_detail/interval_start=20261102T110000Z/interval_end=20261102T120000Z/call_detail.html"
    )
    assert_renders_cleanly(page, tmp_path)
    html = page.read_text()
    assert "<title>Call Data Report</title>" in html
    assert "<script" not in html.lower()
    entities = (
        tmp_path / "raw/genesys_cloud/conversation_entities/export=call_detail"
        "/interval_start=20261102T110000Z/interval_end=20261102T120000Z"
    )
    assert (entities / "_manifest.json").exists()
    attributes = pq.read_table(
        tmp_path / "tables/genesys_cloud/participant_attributes/export=call_detail"
        "/interval_start=20261102T110000Z/interval_end=20261102T120000Z/part-00000.parquet"
    )
    assert "accountNumber" in attributes["key"].to_pylist()


@pytest.mark.chromium
@pytest.mark.usefixtures("_need_chromium")
def test_presence_report_covers_every_user(genesys_conn: str, tmp_path: Path) -> None:
    run("genesys_presence_report", tmp_path, genesys_conn, logical_date=datetime(2026, 11, 2, tzinfo=UTC))
    page = (
        tmp_path
        / "reports/presence/interval_start=20261101T000000Z/interval_end=20261102T000000Z/presence.html"
    )
    assert_renders_cleanly(page, tmp_path)
    html = page.read_text()
    presence = pq.read_table(
        tmp_path
        / "tables/genesys_cloud/presence/interval_start=20261101T000000Z/interval_end=20261102T000000Z/part-00000.parquet"
    )
    users = pq.read_table(
        tmp_path
        / "tables/genesys_cloud/users/interval_start=20261101T000000Z/interval_end=20261102T000000Z/part-00000.parquet"
    )
    names = dict(zip(users["user_id"].to_pylist(), users["name"].to_pylist(), strict=True))
    assert presence.num_rows > 0
    # Every user with presence records is shown by name (escaped as Jinja escapes), or by id when unknown.
    for user_id in set(presence["user_id"].to_pylist()):
        assert str(markupsafe.escape(names.get(user_id) or user_id)) in html
    agent_page = next((page.parent / "presence_files").iterdir())
    assert "<svg" in agent_page.read_text()
