"""The NICE CXone operators and example DAG in real Airflow (``dag.test``), deferred, against the sandbox."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

from contact_center_provider.hooks import nice_cxone
from contact_center_provider.hooks.nice_cxone import NiceCxoneHook
from contact_center_provider.jobs import JobOutcome
from contact_center_provider.sandbox.nice_cxone import ACCESS_KEY_SECRET
from contact_center_provider.sandbox.nice_cxone.auth import tenant_for_access_key
from contact_center_provider.sandbox.nice_cxone.data import render_csv
from contact_center_provider.storage.raw_zone import read_manifest
from contact_center_provider.transforms.nice_cxone import QM_WORKFLOWS_SCHEMA
from contact_center_provider.triggers.events import JobEvent
from contact_center_provider.triggers.job_poll import JobPollTrigger
from contact_center_provider.triggers.polling import PollSchedule

sys.path.insert(0, str(Path(__file__).parent / "dags"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))
import nice_cxone_qm_workflows as example
import nice_cxone_test_dags as test_dags

pytestmark = pytest.mark.usefixtures("airflow_db")

KEY = "sandbox-access-key"
TENANT = tenant_for_access_key(KEY).id
SPACING = 0.2
#: The gate stamps a call when it lets it go; the sandbox when it arrives. The margin absorbs
#: the difference (a cold connection, a busy machine), as the 1 s default does in production.
MARGIN = 0.3
DAY = "interval_start=20240501T000000Z/interval_end=20240502T000000Z"
MAY = "interval_start=20240501T000000Z/interval_end=20240601T000000Z"


@pytest.fixture
def nice(sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Connection ``nice_test`` to the reset sandbox, which enforces the spacing on every call."""
    nice_cxone._API_BASES.clear()
    settings = {"call_spacing_seconds": SPACING, "spacing_applies_to_auth": True, "job_polls_to_complete": 1}
    requests.patch(
        f"{sandbox.url}/_sandbox/vendors/nice_cxone/settings", json=settings, timeout=5
    ).raise_for_status()
    base = f"{sandbox.url}/nice-cxone"
    extra = {
        "api_base_url": base,
        "auth_base_url": base,
        "call_spacing_seconds": SPACING,
        "call_spacing_margin_seconds": MARGIN,
        "limits_store": str(tmp_path / "limits"),
    }
    conn = {"conn_type": "nice_cxone", "login": KEY, "password": ACCESS_KEY_SECRET, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_NICE_TEST", json.dumps(conn))
    return "nice_test"


def run(dag: Any, logical_date: datetime, conf: dict[str, Any]) -> dict[str, str]:
    dag_run = dag.test(logical_date=logical_date, run_conf=conf)
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def sandbox_jobs(sandbox: Any) -> list[dict[str, Any]]:
    counters = requests.get(f"{sandbox.url}/_sandbox/counters", timeout=5).json()["jobs"]["nice_cxone"]
    return list(counters["items"].values())


def assert_spaced(sandbox: Any) -> dict[str, Any]:
    calls = requests.post(f"{sandbox.url}/_sandbox/vendors/nice_cxone/calls", timeout=5).json()
    tenant: dict[str, Any] = calls["tenants"][TENANT]
    assert tenant["throttled"] == 0, tenant["calls"]
    assert tenant["min_gap"] >= SPACING, tenant["calls"]
    return tenant


def qm_csv(first: date, days: int) -> bytes:
    dates = [first + timedelta(days=i) for i in range(days)]
    return render_csv(42, "qm-workflows", "1", dates, per_day=40, tenant="Sandbox Tenant")


def csv_rows(data: bytes) -> int:
    return len(list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))) - 1


def landed(base: Path, dataset: str, partition: str) -> tuple[dict[str, Any], list[bytes]]:
    manifest = read_manifest((base / "raw" / "nice_cxone" / dataset / partition).as_uri())
    return manifest, [Path(uri.removeprefix("file://")).read_bytes() for uri in manifest["pages"]]


def test_example_dag_lands_nice_csv_and_typed_tables(sandbox: Any, nice: str, tmp_path: Path) -> None:
    # The example polls every 10 s: let the job be done at the first poll.
    requests.patch(
        f"{sandbox.url}/_sandbox/vendors/nice_cxone/settings", json={"job_polls_to_complete": 0}, timeout=5
    ).raise_for_status()
    conf = {"output_base_uri": tmp_path.as_uri(), "nice_cxone_conn_id": nice}
    assert run(example.dag, datetime(2024, 5, 2, tzinfo=UTC), conf) == {
        "export": "success",
        "tables": "success",
    }
    manifest, pages = landed(tmp_path, "qm_workflows", DAY)
    assert pages == [qm_csv(date(2024, 5, 1), 1)]
    assert manifest["entity"] == "qm-workflows" and manifest["records"] == csv_rows(pages[0])
    folder = tmp_path / "tables" / "nice_cxone" / "qm_workflows" / DAY
    table = pq.read_table(folder / "part-00000.parquet")
    assert table.schema.equals(QM_WORKFLOWS_SCHEMA, check_metadata=False)
    assert table.num_rows == csv_rows(pages[0]) > 0
    assert (folder / "part-00000.csv").exists()
    assert_spaced(sandbox)


def test_a_month_is_exported_in_requests_of_at_most_14_days(sandbox: Any, nice: str, tmp_path: Path) -> None:
    conf = {"base": tmp_path.as_uri(), "conn": nice}
    assert run(test_dags.monthly_dag, datetime(2024, 6, 1, tzinfo=UTC), conf) == {
        "export": "success",
        "tables": "success",
    }
    jobs = sorted(sandbox_jobs(sandbox), key=lambda j: j["startDate"])
    assert [(j["startDate"], j["endDate"], j["days"]) for j in jobs] == [
        ("2024-05-01", "2024-05-15", 14),
        ("2024-05-15", "2024-05-29", 14),
        ("2024-05-29", "2024-06-01", 3),
    ]
    _, pages = landed(tmp_path, "qm_workflows", MAY)
    whole = qm_csv(date(2024, 5, 1), 31)
    assert len(pages) == 3 and sum(csv_rows(p) for p in pages) == csv_rows(whole)
    table = pq.read_table(tmp_path / "tables" / "nice_cxone" / "qm_workflows" / MAY / "part-00000.parquet")
    assert table.num_rows == csv_rows(whole)
    assert assert_spaced(sandbox)["min_gap"] >= SPACING


def test_intervals_that_are_not_whole_days_are_refused_unless_widened(
    sandbox: Any,
    nice: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    conf = {"base": tmp_path.as_uri(), "conn": nice}
    hour_end = datetime(2024, 5, 1, 15, tzinfo=UTC)
    assert run(test_dags.hourly_dag, hour_end, conf)["export"] == "failed"
    captured = capfd.readouterr()
    assert "does not start and end at UTC midnight" in caplog.text + captured.out + captured.err
    assert sandbox_jobs(sandbox) == []
    assert run(test_dags.widened_dag, hour_end, conf) == {"export": "success", "tables": "success"}
    assert [(j["startDate"], j["endDate"]) for j in sandbox_jobs(sandbox)] == [("2024-05-01", "2024-05-02")]


def test_another_entity_lands_as_a_text_table(sandbox: Any, nice: str, tmp_path: Path) -> None:
    conf = {"base": tmp_path.as_uri(), "conn": nice}
    assert run(test_dags.recording_dag, datetime(2024, 5, 2, tzinfo=UTC), conf) == {
        "export": "success",
        "tables": "success",
    }
    _, pages = landed(tmp_path, "recording_interaction_metadata", DAY)
    folder = tmp_path / "tables" / "nice_cxone" / "recording_interaction_metadata" / DAY
    table = pq.read_table(folder / "part-00000.parquet")
    assert table.num_rows == csv_rows(pages[0]) > 0
    assert "agent_1_skills" in table.schema.names and {str(f.type) for f in table.schema} == {"string"}


@pytest.mark.parametrize(("outcome", "state"), [("SUCCEEDED", "success"), ("FAILED", "failed")])
def test_job_sensor_waits_deferred(sandbox: Any, nice: str, tmp_path: Path, outcome: str, state: str) -> None:
    requests.patch(
        f"{sandbox.url}/_sandbox/vendors/nice_cxone/settings", json={"job_outcome": outcome}, timeout=5
    ).raise_for_status()
    conf = {"base": tmp_path.as_uri(), "conn": nice}
    assert run(test_dags.sensor_dag, datetime(2024, 5, 2, tzinfo=UTC), conf) == {
        "export": "success",
        "wait": state,
    }
    assert len(sandbox_jobs(sandbox)) == 1


def test_three_exports_deferred_at_once_keep_the_spacing(sandbox: Any, nice: str) -> None:
    """Three jobs polled by one triggerer event loop, each through its own trigger and hook."""
    hook = NiceCxoneHook(nice, find_orphans=False)
    first = datetime(2024, 5, 1, tzinfo=UTC)
    refs = [
        hook.submit_job("qm-workflows", first + timedelta(days=i), first + timedelta(days=i + 1), {})
        for i in range(3)
    ]
    hook.close()
    schedule = PollSchedule.starting_now(120, interval=0.01, max_interval=0.05).to_dict()
    triggers = [
        JobPollTrigger(
            hook_class="contact_center_provider.hooks.nice_cxone.NiceCxoneHook",
            conn_id=nice,
            job=ref,
            schedule=schedule,
            hook_params={"retry_policy": test_dags.FAST["retry_policy"]},
        )
        for ref in refs
    ]

    async def triggerer() -> list[JobEvent]:
        async def one(trigger: JobPollTrigger) -> JobEvent:
            events = [event async for event in trigger.run()]
            return JobEvent.from_payload(events[-1].payload)

        return list(await asyncio.gather(*(one(t) for t in triggers)))

    events = asyncio.run(triggerer())
    assert [e.outcome for e in events] == [JobOutcome.SUCCEEDED] * 3
    tenant = assert_spaced(sandbox)
    polls = [c for c in tenant["calls"] if "/jobs/" in c["path"]]
    assert len(polls) >= 6  # each job polled at least twice, all spaced apart
