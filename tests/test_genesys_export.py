"""Genesys Cloud exports run by real Airflow (``dag.test``) against the sandbox over HTTP.

Every scenario ends either in the same output as a clean run or in a clear error, and
the sandbox's counters show exactly one job submitted for the interval.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from contact_center_provider.sandbox.genesys_cloud.data import conversation_count
from contact_center_provider.storage.raw_zone import read_manifest
from contact_center_provider.storage.uri import read_bytes

sys.path.insert(0, str(Path(__file__).parent / "dags"))
import genesys_export_test_dags as test_dags

LOGICAL_DATE = datetime(2026, 11, 2, tzinfo=UTC)
INTERVAL = (datetime(2026, 11, 1, tzinfo=UTC), LOGICAL_DATE)  # daily timetable: the day ending at the date
INTERVAL_TEXT = "2026-11-01T00:00:00.000Z/2026-11-02T00:00:00.000Z"
PARTITION = "interval_start=20261101T000000Z/interval_end=20261102T000000Z"
RAW = f"raw/genesys_cloud/conversations/{PARTITION}"
SEED = 42

pytestmark = pytest.mark.usefixtures("airflow_db")


def admin(sandbox: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = requests.request(method, f"{sandbox.url}/_sandbox/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


def genesys_settings(sandbox: Any, **settings: Any) -> None:
    admin(sandbox, "PATCH", "vendors/genesys_cloud/settings", settings)


def fault(sandbox: Any, **rule: Any) -> None:
    admin(sandbox, "POST", "faults", rule)


def run(dag: Any, base: Path, conn: str) -> Any:
    return dag.test(logical_date=LOGICAL_DATE, run_conf={"base": base.as_uri(), "conn": conn})


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def jobs(sandbox: Any) -> dict[str, Any]:
    return admin(sandbox, "GET", "counters")["jobs"]["genesys_cloud"]


def landed(base: Path, raw: str = RAW) -> dict[str, Any]:
    return read_manifest(str(base / raw))


def everything_logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Task and trigger logs: dag.test sends them through logging, or to stdout outside pytest."""
    captured = capfd.readouterr()
    return caplog.text + captured.out + captured.err


def assert_clean_export(sandbox: Any, base: Path) -> None:
    manifest = landed(base)
    assert manifest["records"] == conversation_count(SEED, *INTERVAL)
    assert manifest["interval"] == "2026-11-01T00:00:00Z/2026-11-02T00:00:00Z"
    # One attempt is left after publishing; the manifest lists exactly its pages.
    pages = sorted(f"file://{p}" for p in (base / RAW).glob("_attempts/*/page-*.json"))
    assert pages == sorted(manifest["pages"])
    assert (
        len(pages) == len(manifest["pages"]) == manifest["records"] // 100 + (manifest["records"] % 100 > 0)
    )
    counters = jobs(sandbox)
    assert counters["created"] == 1
    assert counters["by_interval"] == {INTERVAL_TEXT: 1}


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-worker"])
def test_job_export_lands_every_conversation_of_the_interval(
    sandbox: Any,
    genesys_conn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    deferrable: bool,
) -> None:
    dag = test_dags.test_genesys_job_deferrable if deferrable else test_dags.test_genesys_job_sync
    dag_run = run(dag, tmp_path, genesys_conn)
    assert states(dag_run) == {"export": "success", "enrich": "success"}
    assert_clean_export(sandbox, tmp_path)
    out = everything_logged(caplog, capfd)
    # dag.test runs a deferred task's trigger in line: proof the task really deferred.
    assert ("[DAG TEST] running trigger in line" in out) is deferrable
    # Job results carry participant attributes: enrichment sends no per-conversation request.
    assert admin(sandbox, "GET", "requests?path=/api/v2/conversations/")["requests"] == []
    # The raw zone holds exactly what the vendor sent.
    first = json.loads(read_bytes(landed(tmp_path)["pages"][0]))
    assert "cursor" in first and first["conversations"][0]["participants"][0]["attributes"] is not None


def on(method: str, path: str, kind: str = "status", **rule: Any) -> dict[str, Any]:
    """A sandbox fault rule for ``method`` requests whose path matches ``path``."""
    return {"method": method, "path": path, "kind": kind, **rule}


POLL, RESULTS, SUBMIT = r"/details/jobs/[^/]+$", r"/results$", r"/details/jobs$"


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(
            on("GET", POLL, status=429, headers={"Retry-After": "1"}, times=4), id="429-storm-on-polls"
        ),
        pytest.param(on("GET", POLL, status=503, times=3), id="503-on-polls"),
        pytest.param(on("GET", RESULTS, status=502, times=2), id="502-on-results"),
        pytest.param(on("GET", RESULTS, kind="reset", times=2), id="reset-on-results"),
        pytest.param(
            on("POST", SUBMIT, status=429, headers={"Retry-After": "1"}, times=2), id="429-on-submit"
        ),
        pytest.param(on("GET", RESULTS, status=401, times=1), id="token-expired-mid-export"),
    ],
)
def test_transient_faults_end_in_the_same_output(
    sandbox: Any, genesys_conn: str, tmp_path: Path, rule: dict[str, Any]
) -> None:
    fault(sandbox, **rule)
    dag_run = run(test_dags.test_genesys_job_deferrable, tmp_path, genesys_conn)
    assert states(dag_run)["export"] == "success"
    assert_clean_export(sandbox, tmp_path)
    fired = admin(sandbox, "GET", "faults")
    assert [f["fired"] for f in (fired.get("faults") if isinstance(fired, dict) else fired)] == [
        rule["times"]
    ]


def test_token_expiry_refreshes_once(sandbox: Any, genesys_conn: str, tmp_path: Path) -> None:
    fault(sandbox, **on("GET", RESULTS, status=401, times=1))
    run(test_dags.test_genesys_job_sync, tmp_path, genesys_conn)
    log = admin(sandbox, "GET", "requests")["requests"]
    refused = next(r["seq"] for r in log if r["status"] == 401)
    retried = next(r["seq"] for r in log if r["seq"] > refused and r["path"].endswith("/results"))
    # Exactly one new token between the refused request and its successful retry.
    assert [r["path"] for r in log if refused < r["seq"] < retried] == ["/genesys-cloud/login/oauth/token"]
    assert_clean_export(sandbox, tmp_path)


@pytest.mark.parametrize("outcome", ["FAILED", "CANCELLED", "EXPIRED"])
def test_a_job_that_does_not_succeed_fails_the_task_clearly(
    sandbox: Any,
    genesys_conn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    outcome: str,
) -> None:
    genesys_settings(sandbox, job_outcome=outcome, job_error_message="Query exceeded the result limit")
    dag_run = run(test_dags.test_genesys_job_deferrable, tmp_path, genesys_conn)
    assert states(dag_run)["export"] == "failed"
    out = everything_logged(caplog, capfd)
    assert f"ended {outcome}" in out and "Genesys Cloud conversations job" in out
    if outcome == "FAILED":
        assert "Query exceeded the result limit" in out
    assert not (tmp_path / RAW / "_manifest.json").exists()
    assert jobs(sandbox)["created"] == 1


def test_a_retry_resumes_the_submitted_job(sandbox: Any, genesys_conn: str, tmp_path: Path) -> None:
    # The first try dies after submitting (its download is refused); the retry must not submit again.
    fault(sandbox, **on("GET", RESULTS, status=404, times=1))
    dag_run = run(test_dags.retry_dag, tmp_path, genesys_conn)
    assert states(dag_run)["export"] == "success"
    assert_clean_export(sandbox, tmp_path)


def test_unavailable_data_fails_with_a_clear_message(
    sandbox: Any,
    genesys_conn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    lag = (datetime.now(UTC) - INTERVAL[0]).total_seconds() + 3600
    genesys_settings(sandbox, availability_lag_seconds=int(lag))
    dag_run = run(test_dags.availability_dag, tmp_path, genesys_conn)
    assert states(dag_run)["export"] == "failed"
    assert "data is complete only up to" in everything_logged(caplog, capfd)
    assert jobs(sandbox)["created"] == 0


def test_query_export_splits_long_intervals_and_enriches(
    sandbox: Any, genesys_conn: str, tmp_path: Path
) -> None:
    # Few conversations a day, so nine days of per-conversation GETs fit one minute's budget.
    genesys_settings(sandbox, conversations_per_day=20)
    dag_run = run(test_dags.query_dag, tmp_path, genesys_conn)
    assert states(dag_run) == {"export": "success", "enrich": "success"}
    queries = admin(sandbox, "GET", "requests?method=POST&path=/details/query$")["requests"]
    assert queries, "the query API was not used"
    manifest = landed(
        tmp_path,
        "raw/genesys_cloud/conversations/interval_start=20261024T000000Z/interval_end=20261102T000000Z",
    )
    assert manifest["source"] == "query" and manifest["records"] > 0
    entities = landed(
        tmp_path,
        "raw/genesys_cloud/conversation_entities/interval_start=20261024T000000Z/interval_end=20261102T000000Z",
    )
    # One GET per conversation, every one landed with its attributes.
    gets = admin(sandbox, "GET", "requests?method=GET&path=/api/v2/conversations/")["requests"]
    assert entities["records"] == manifest["records"] == len({g["path"] for g in gets})
    assert jobs(sandbox)["created"] == 0


def test_query_splits_land_each_conversation_once(sandbox: Any, genesys_conn: str, tmp_path: Path) -> None:
    from contact_center_provider.hooks.genesys_cloud import split_interval
    from contact_center_provider.storage.tables_reader import read_table

    genesys_settings(sandbox, conversations_per_day=40)
    dag_run = run(test_dags.query_tables_dag, tmp_path, genesys_conn)
    assert states(dag_run) == {"export": "success", "tables": "success"}
    start = LOGICAL_DATE - timedelta(days=8, hours=12)
    # Every inner cut of the 7-day pieces is a UTC midnight (queries match by start day).
    pieces = split_interval(start, LOGICAL_DATE, timedelta(days=7))
    assert len(pieces) == 2 and pieces[0][1].hour == 0 and pieces[0][1] != start + timedelta(days=7)
    ids = (
        read_table(tmp_path.as_uri(), "genesys_cloud", "conversations").column("conversation_id").to_pylist()
    )
    truth = admin(
        sandbox,
        "POST",
        "vendors/genesys_cloud/ground-truth",
        {"interval": f"{start.isoformat().replace('+00:00', 'Z')}/2026-11-02T00:00:00Z"},
    )["conversations"]
    assert len(ids) == len(set(ids)) and set(ids) == {c["conversationId"] for c in truth}


def test_trigger_rebuilt_from_serialize_finishes_the_same_job(sandbox: Any, genesys_conn: str) -> None:
    import importlib

    from contact_center_provider.hooks.genesys_cloud import GenesysCloudHook
    from contact_center_provider.jobs import JobOutcome
    from contact_center_provider.triggers.events import EventKind
    from contact_center_provider.triggers.job_poll import JobPollTrigger
    from contact_center_provider.triggers.polling import PollSchedule

    genesys_settings(sandbox, job_polls_to_complete=6)
    hook = GenesysCloudHook(genesys_conn)
    job = hook.submit_job("conversations", *INTERVAL, {})
    schedule = PollSchedule.starting_now(60, interval=0.05, max_interval=0.05)
    first = JobPollTrigger(
        hook_class="contact_center_provider.hooks.genesys_cloud.GenesysCloudHook",
        conn_id=genesys_conn,
        job=job,
        schedule=schedule.to_dict(),
    )
    classpath, kwargs = first.serialize()
    wire = json.dumps(kwargs)  # what the triggerer stores: JSON-native, and no secret in it
    assert "sandbox-secret" not in wire and "access_token" not in wire

    async def interrupted_then_resumed() -> Any:
        # A triggerer restart: the first trigger is cancelled wherever it is...
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(first.poll(), timeout=0.12)
        # ...and a new one is built from the stored kwargs.
        module, _, name = classpath.rpartition(".")
        second = getattr(importlib.import_module(module), name)(**json.loads(wire))
        return [event async for event in second.run()]

    events = asyncio.run(interrupted_then_resumed())
    assert len(events) == 1
    payload = events[0].payload
    assert payload["kind"] == EventKind.FINISHED.value and payload["outcome"] == JobOutcome.SUCCEEDED.value
    assert jobs(sandbox)["created"] == 1
    assert jobs(sandbox)["items"][job["job_id"]]["state"] == "FULFILLED"


def test_trigger_reports_timeout_and_api_errors_distinctly(sandbox: Any, genesys_conn: str) -> None:
    from contact_center_provider.triggers.job_poll import JobPollTrigger
    from contact_center_provider.triggers.polling import PollSchedule

    def trigger(job: Any, timeout: float) -> JobPollTrigger:
        schedule = PollSchedule.starting_now(timeout, interval=0.05, max_interval=0.05)
        return JobPollTrigger(
            hook_class="contact_center_provider.hooks.genesys_cloud.GenesysCloudHook",
            conn_id=genesys_conn,
            job=job,
            schedule=schedule.to_dict(),
        )

    missing = trigger(
        {"vendor": "genesys_cloud", "kind": "conversations", "job_id": "no-such-job"}, 30
    ).poll_in_worker()
    assert missing.kind.value == "api_error" and "404" in (missing.message or "")

    genesys_settings(sandbox, job_polls_to_complete=10_000)
    from contact_center_provider.hooks.genesys_cloud import GenesysCloudHook

    job = GenesysCloudHook(genesys_conn).submit_job("conversations", *INTERVAL, {})
    timed_out = trigger(job, 0.3).poll_in_worker()
    assert timed_out.kind.value == "timeout" and timed_out.polls >= 1


def test_on_kill_cancels_the_remote_job(sandbox: Any, genesys_conn: str) -> None:
    from contact_center_provider.hooks.genesys_cloud import GenesysCloudHook
    from contact_center_provider.triggers.job_poll import JobPollTrigger
    from contact_center_provider.triggers.polling import PollSchedule

    job = GenesysCloudHook(genesys_conn).submit_job("conversations", *INTERVAL, {})
    trigger = JobPollTrigger(
        hook_class="contact_center_provider.hooks.genesys_cloud.GenesysCloudHook",
        conn_id=genesys_conn,
        job=job,
        schedule=PollSchedule.starting_now(30).to_dict(),
    )
    asyncio.run(trigger.on_kill())
    item = jobs(sandbox)["items"][job["job_id"]]
    assert item["cancelled"] is True and item["state"] == "CANCELLED"


def test_missing_data_interval_is_a_clear_error() -> None:
    from contact_center_provider.exceptions import IntervalError
    from contact_center_provider.operators._common import resolve_interval

    with pytest.raises(IntervalError, match="no data interval"):
        resolve_interval({}, task_id="export")
    with pytest.raises(IntervalError, match="empty interval"):
        resolve_interval({"data_interval_start": LOGICAL_DATE, "data_interval_end": LOGICAL_DATE})
    start, end = resolve_interval({}, "2026-11-01T00:00:00Z", LOGICAL_DATE + timedelta(hours=1))
    assert (start, end) == (INTERVAL[0], LOGICAL_DATE + timedelta(hours=1))


def test_submit_then_a_deferred_sensor_then_download(
    sandbox: Any,
    genesys_conn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    dag_run = run(test_dags.split_dag, tmp_path, genesys_conn)
    assert states(dag_run) == {"submit": "success", "wait": "success", "download": "success"}
    assert "[DAG TEST] running trigger in line" in everything_logged(caplog, capfd)
    assert_clean_export(sandbox, tmp_path)


def test_the_job_sensor_fails_on_a_failed_job(sandbox: Any, genesys_conn: str, tmp_path: Path) -> None:
    genesys_settings(sandbox, job_outcome="FAILED")
    dag_run = run(test_dags.split_dag, tmp_path, genesys_conn)
    assert states(dag_run) == {"submit": "success", "wait": "failed", "download": "upstream_failed"}
