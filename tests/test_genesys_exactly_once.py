"""Each Genesys conversation lands exactly once, in its start hour, in its final state.

Details jobs return every conversation whose lifetime overlaps the interval, and a call in
progress is served open. Hourly runs with a two-hour restatement window, crossing midnight,
are checked against the sandbox's ground truth: the union of the hourly partitions holds
every conversation that started in them exactly once, and every conversation that had
ended by the last run that re-exported its hour is there with its final end.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from contact_center_provider.storage.tables_reader import read_table

sys.path.insert(0, str(Path(__file__).parent / "dags"))
import framework_test_dags as fw

FIRST_END = datetime(2026, 11, 1, 23, tzinfo=UTC)  # the hour 22:00-23:00
RUNS = 6  # through 03:00-04:00 on the next day
RESTATEMENT = timedelta(hours=2)
LATE = timedelta(minutes=10)  # each run starts ten minutes after its hour, as a schedule would

pytestmark = pytest.mark.usefixtures("airflow_db")


def admin(sandbox: Any, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{sandbox.url}/_sandbox/{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json() if response.content else None


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_hourly_runs_hold_each_conversation_once_in_its_final_state(
    sandbox: Any, genesys_conn: str, tmp_path: Path
) -> None:
    admin(
        sandbox,
        "PATCH",
        "vendors/genesys_cloud/settings",
        {"availability_lag_seconds": 0, "conversations_per_day": 4800},
    )
    for n in range(RUNS):
        end = FIRST_END + timedelta(hours=n)
        admin(sandbox, "PATCH", "vendors/genesys_cloud/settings", {"now": iso(end + LATE)})
        dag_run = fw.restated_dag.test(
            logical_date=end, run_conf={"base": tmp_path.as_uri(), "conn": genesys_conn}
        )
        assert {str(ti.state) for ti in dag_run.get_task_instances()} == {"success"}

    first_start = FIRST_END - timedelta(hours=1)
    last_end = FIRST_END + timedelta(hours=RUNS - 1)
    truth = admin(
        sandbox,
        "POST",
        "vendors/genesys_cloud/ground-truth",
        {"interval": f"{iso(first_start)}/{iso(last_end)}"},
    )["conversations"]
    assert len(truth) > 100 and any(
        parse(c["conversationStart"]).hour == 23
        and c["conversationEnd"]
        and parse(c["conversationEnd"]).hour == 0
        for c in truth
    ), "the data must cross the day boundary for this test to mean something"

    table = read_table(tmp_path.as_uri(), "genesys_cloud", "conversations", start=first_start, end=last_end)
    ids = table.column("conversation_id").to_pylist()
    assert len(ids) == len(set(ids)), "a conversation landed in two partitions"
    assert set(ids) == {c["conversationId"] for c in truth}

    rows = {r["conversation_id"]: r for r in table.to_pylist()}
    final_checks = 0
    for conversation in truth:
        row = rows[conversation["conversationId"]]
        start = parse(conversation["conversationStart"])
        # The row sits in the partition of the hour it started in...
        assert row["interval_start"] <= start < row["interval_end"]
        # ...and the last run that re-exported that hour saw it as it was then.
        last_look = min(row["interval_end"] + RESTATEMENT, last_end) + LATE
        end = parse(conversation["conversationEnd"]) if conversation["conversationEnd"] else None
        if end is not None and end <= last_look:
            assert row["conversation_end"] == end, conversation["conversationId"]
            final_checks += 1
        else:
            assert row["conversation_end"] is None, conversation["conversationId"]
    assert final_checks > 100
