"""Every example DAG, backfilled with the CLI on a real multi-process Airflow, and its failures.

1. Each DAG in ``dags/`` is unpaused and backfilled (``airflow backfill create``) over three
   intervals; every run succeeds, the export waits ran in the triggerer, each output lies in
   its run's partition once, and the sandbox created no vendor job beyond those landed.
2. A task process SIGKILLed while downloading a job's results: the retry resumes that job.
3. The triggerer SIGKILLed while exports are deferred, a new one started: the runs finish
   and no interval got a second vendor job.

The scenarios of 2 and 3 use their own intervals (before those of 1) so that each checks
only what it caused. 2 starts first (a module fixture) because its retry waits the DAG's
``retry_delay`` (``CC_RETRY_DELAY_SECONDS``, 10 s here); 3 runs meanwhile.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from .airflow_stack import AirflowStack, example_dags
from .checks import output_problems, stamp, task_log, trigger_logs, unsuccessful_tasks
from .conftest import SandboxProcess
from .plans import ANCHOR, BackfillPlan, plan_backfill
from .services import wait_until

#: Bounds of the waits (a hang becomes a failure; nothing sleeps these).
RUNS_TIMEOUT = 1200
#: Genesys jobs take this long in the triggerer-kill scenario, so triggers are polling when it dies.
SLOW_JOB_SECONDS = 40


def backfill_runs(stack: AirflowStack, plan: BackfillPlan) -> list[dict[str, Any]]:
    """The backfill runs of the plan's intervals (created by the CLI before this is called)."""
    assert stack.api is not None
    starts = {stamp(start) for start, _ in plan.intervals}
    runs = [
        r
        for r in stack.api.dag_runs(plan.dag_id, run_type="backfill")
        if stamp(r["data_interval_start"]) in starts
    ]
    assert len(runs) == len(plan.intervals), f"{plan.dag_id}: backfill runs {[r['dag_run_id'] for r in runs]}"
    return runs


def finished_runs(stack: AirflowStack, plan: BackfillPlan) -> list[dict[str, Any]]:
    runs = backfill_runs(stack, plan)
    return stack.wait_runs_done(plan.dag_id, [r["dag_run_id"] for r in runs], timeout=RUNS_TIMEOUT)


def assert_runs_succeeded(stack: AirflowStack, dag_id: str, runs: list[dict[str, Any]]) -> None:
    problems = {r["dag_run_id"]: unsuccessful_tasks(stack, dag_id, r["dag_run_id"]) for r in runs}
    problems = {run: tasks for run, tasks in problems.items() if tasks}
    assert not problems, f"{dag_id}: tasks that did not succeed: {problems}"
    assert [r["state"] for r in runs] == ["success"] * len(runs)


def jobs_created(counters: dict[str, Any]) -> dict[str, int]:
    """Vendor jobs the sandbox created, per vendor (for vendors that count them)."""
    created = {}
    for vendor, facts in counters["jobs"].items():
        for key in ("created", "submitted", "exports"):
            if isinstance(facts.get(key), int):
                created[vendor] = facts[key]
                break
    return created


def landed_job_ids(stack: AirflowStack, dag_id: str, runs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """``{vendor: job ids}`` named by the raw landings the runs' export tasks returned."""
    from .checks import returned_values

    assert stack.api is not None
    found: dict[str, set[str]] = {}
    for run in runs:
        for value in returned_values(stack.api, dag_id, run["dag_run_id"]).values():
            if isinstance(value, dict) and value.get("job_ids") and value.get("vendor"):
                found.setdefault(value["vendor"], set()).update(map(str, value["job_ids"]))
    return found


# --------------------------------------------------------------------------- 1. every example DAG


@pytest.mark.parametrize("dag_id", example_dags())
def test_backfill_of_example_dag(
    dag_id: str, stack: AirflowStack, example_backfills: dict[str, BackfillPlan]
) -> None:
    plan = example_backfills[dag_id]
    runs = finished_runs(stack, plan)
    assert [(stamp(r["data_interval_start"]), stamp(r["data_interval_end"])) for r in runs] == [
        (stamp(s), stamp(e)) for s, e in plan.intervals
    ]
    assert_runs_succeeded(stack, dag_id, runs)

    # The export waits ran in a triggerer process, not in the worker.
    for run in runs:
        for task_id in plan.deferring_tasks:
            logs = trigger_logs(stack, dag_id, run["dag_run_id"], task_id)
            assert logs, f"{dag_id}/{run['dag_run_id']}/{task_id}: no triggerer log, so it never deferred"
            assert any("Trigger fired event" in text for text in logs.values()), (task_id, list(logs))

    assert stack.api is not None
    checked = 0
    for run in runs:
        problems, count = output_problems(stack.api, stack.output, dag_id, run)
        assert not problems, f"{dag_id}/{run['dag_run_id']}: {problems}"
        checked += count
    assert checked >= len(runs), f"{dag_id}: its tasks returned no output under {stack.output}"


def test_no_vendor_job_beyond_those_landed(
    stack: AirflowStack, sandbox: SandboxProcess, example_backfills: dict[str, BackfillPlan]
) -> None:
    """Across all backfills: the sandbox created exactly the jobs whose results were landed."""
    landed: dict[str, set[str]] = {}
    for plan in example_backfills.values():
        runs = finished_runs(stack, plan)
        for vendor, ids in landed_job_ids(stack, plan.dag_id, runs).items():
            landed.setdefault(vendor, set()).update(ids)
    created = jobs_created(sandbox.counters())  # type: ignore[arg-type]
    # Vendors whose sandbox counts the jobs it created (CDDS's jobs are scheduled by the vendor).
    compared = sorted(set(landed) & set(created))
    assert compared, f"no vendor to compare: landed {sorted(landed)}, counted {sorted(created)}"
    assert {v: created[v] for v in compared} == {v: len(landed[v]) for v in compared}


# --------------------------------------------------------------------------- 2. task killed mid-download


@dataclass
class KilledDownload:
    plan: BackfillPlan
    run_id: str
    task_id: str
    killed_pid: int
    job_interval: str


KILL_DAG = "genesys_presence_report"
KILL_TASK = "export_user_details"


@pytest.fixture(scope="module")
def killed_download(stack: AirflowStack, sandbox: SandboxProcess) -> KilledDownload:
    """A presence export SIGKILLed while its first results page is being served (slowly)."""
    assert stack.api is not None
    plan = plan_backfill(KILL_DAG, anchor=ANCHOR - timedelta(days=10), count=1)
    # The first results request of a users job hangs: the task is killed while it waits for it.
    sandbox.admin(
        "POST",
        "/faults",
        json={
            "method": "GET",
            "path": r"/analytics/users/details/jobs/[^/]+/results",
            "kind": "delay",
            "delay": 120,
            "times": 1,
        },
    )
    # Only requests from now on count (earlier tests downloaded users results too).
    since = max((r["seq"] for r in sandbox.admin("GET", "/requests")["requests"]), default=0)  # type: ignore[index]
    stack.unpause(KILL_DAG)
    stack.backfill(KILL_DAG, plan.first_logical_date, plan.last_logical_date, via="api")
    (run,) = backfill_runs(stack, plan)

    def downloading() -> dict[str, Any] | None:
        stack.assert_alive()
        seen = sandbox.admin("GET", "/requests", params={"path": r"/users/details/jobs/[^/]+/results"})
        if not [r for r in seen["requests"] if r["seq"] > since]:  # type: ignore[index]
            return None
        tis = {ti["task_id"]: ti for ti in stack.api.task_instances(KILL_DAG, run["dag_run_id"])}  # type: ignore[union-attr]
        ti = tis[KILL_TASK]
        return ti if ti["state"] == "running" and ti["pid"] else None

    ti = wait_until(f"{KILL_TASK} to download its results", downloading, timeout=RUNS_TIMEOUT, interval=0.5)
    assert ti["try_number"] == 1
    os.kill(ti["pid"], signal.SIGKILL)
    start, end = plan.intervals[0]
    return KilledDownload(plan, run["dag_run_id"], KILL_TASK, ti["pid"], genesys_interval(start, end))


def genesys_interval(start: datetime, end: datetime) -> str:
    fmt = "%Y-%m-%dT%H:%M:%S.000Z"
    return f"{start.strftime(fmt)}/{end.strftime(fmt)}"


# --------------------------------------------------------------------------- 3. triggerer killed


def test_triggerer_killed_while_exports_are_deferred(
    stack: AirflowStack, sandbox: SandboxProcess, killed_download: KilledDownload
) -> None:
    dag_id, task_id = "genesys_abandon_report", "export_abandons"
    plan = plan_backfill(dag_id, anchor=ANCHOR - timedelta(days=5))
    sandbox.patch_vendor("genesys_cloud", {"job_seconds_to_complete": SLOW_JOB_SECONDS})
    try:
        stack.unpause(dag_id)
        stack.backfill(dag_id, plan.first_logical_date, plan.last_logical_date, via="api")
        runs = backfill_runs(stack, plan)
        old = stack.services["triggerer"]

        def all_polling() -> bool:
            stack.assert_alive()
            for run in runs:
                logs = trigger_logs(stack, dag_id, run["dag_run_id"], task_id)
                if not any("poll 1" in text for text in logs.values()):
                    return False
            return True

        wait_until(
            "every export to be polled by the triggerer", all_polling, timeout=RUNS_TIMEOUT, interval=1
        )
        old_jobs = {
            job for run in runs for (_, job) in trigger_logs(stack, dag_id, run["dag_run_id"], task_id)
        }
        assert len(old_jobs) == 1, old_jobs
        old.kill()
        stack.start("triggerer", name="triggerer")
        done = stack.wait_runs_done(dag_id, [r["dag_run_id"] for r in runs], timeout=RUNS_TIMEOUT)
    finally:
        sandbox.patch_vendor("genesys_cloud", {"job_seconds_to_complete": None})

    assert_runs_succeeded(stack, dag_id, done)
    for run in done:
        logs = trigger_logs(stack, dag_id, run["dag_run_id"], task_id)
        new_jobs = {job for (_, job) in logs} - old_jobs
        # The wait was picked up by the new triggerer, which saw the job finish.
        assert new_jobs, f"{run['dag_run_id']}: only triggerer(s) {sorted(old_jobs)} ran its trigger"
        assert any("Trigger fired event" in logs[key] for key in logs if key[1] in new_jobs)
    by_interval = sandbox.counters()["jobs"]["genesys_cloud"]["by_interval"]  # type: ignore[index]
    assert {genesys_interval(s, e): by_interval.get(genesys_interval(s, e)) for s, e in plan.intervals} == {
        genesys_interval(s, e): 1 for s, e in plan.intervals
    }


# --------------------------------------------------------------------------- 2. (its assertions)


def test_task_killed_mid_download_resumes_its_job(
    stack: AirflowStack, sandbox: SandboxProcess, killed_download: KilledDownload
) -> None:
    kd = killed_download
    (run,) = stack.wait_runs_done(kd.plan.dag_id, [kd.run_id], timeout=RUNS_TIMEOUT)
    assert_runs_succeeded(stack, kd.plan.dag_id, [run])
    assert stack.api is not None
    tries = stack.api.tries(kd.plan.dag_id, kd.run_id, kd.task_id)
    assert [t["try_number"] for t in tries] == [1, 2], tries
    assert tries[0]["state"] in {"failed", "up_for_retry"}, tries[0]
    second = task_log(stack, kd.plan.dag_id, kd.run_id, kd.task_id, 2)
    assert "Resuming" in second, second[-3000:]
    # One vendor job for the interval: the retry downloaded the job the killed try had waited for.
    by_interval = sandbox.counters()["jobs"]["genesys_cloud"]["by_interval"]  # type: ignore[index]
    assert by_interval.get(kd.job_interval) == 1, by_interval
