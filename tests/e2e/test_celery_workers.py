"""The same backfill on the Celery executor: two workers and the triggerer share nothing in memory.

The deployment of ``test_backfill.py`` switches to the ``CeleryExecutor`` (Redis from Debian's
``redis-server`` as the broker) with two ``airflow celery worker`` processes, and the shared
limits store moves to Redis (``CC_LIMITS_STORE=redis://...``), the setting for workers on
several machines. Then the example DAGs of the vendors whose limits span processes (NICE
CXone's call spacing, Brightmetrics' daily budget) and one Genesys Cloud DAG are backfilled
again over three other intervals, so tasks of one tenant run at once on both workers and in
the triggerer. (``CC_E2E_CELERY_DAGS=all`` backfills every example DAG: the same checks, a
longer run.)

Asserted: every run succeeds; both workers ran tasks of these runs; the waits ran in the
triggerer; no vendor job beyond those landed; and every shared limit was kept in the one
store: each request the sandbox saw from a budgeted vendor (Brightmetrics) was counted in
the Redis budget, and no spaced vendor (NICE CXone) answered a request with its throttling
error - although the requests came from three processes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from .airflow_stack import AirflowStack, example_dags
from .checks import trigger_logs
from .conftest import SandboxProcess
from .plans import ANCHOR, BackfillPlan, export_vendors, load_dag, plan_backfill
from .services import DEBIAN_PACKAGES, PostgresServer, RedisServer, redis_binary
from .test_backfill import (
    RUNS_TIMEOUT,
    assert_runs_succeeded,
    backfill_runs,
    finished_runs,
    jobs_created,
    landed_job_ids,
)

WORKERS = ("worker-1", "worker-2")
#: Vendors with limits that span processes, kept in the shared limits store.
SHARED_LIMIT_VENDORS = {"nice_cxone", "brightmetrics"}


def celery_dags() -> list[str]:
    """The DAGs of the shared-limit vendors plus the first Genesys Cloud DAG that defers an export."""
    dags = example_dags()
    if os.environ.get("CC_E2E_CELERY_DAGS") == "all":
        return dags
    chosen = [d for d in dags if export_vendors(load_dag(d)) & SHARED_LIMIT_VENDORS]
    genesys = [
        d for d in dags if "genesys_cloud" in export_vendors(load_dag(d)) and plan_backfill(d).deferring_tasks
    ]
    return chosen + genesys[:1]


@pytest.fixture(scope="module")
def redis_server(e2e_root: Path) -> Iterator[RedisServer]:
    binary = redis_binary()
    if binary is None:
        message = f"redis-server is not installed (Debian package {DEBIAN_PACKAGES['redis']!r}; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(e2e_root / "redis", binary).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def celery_stack(
    stack: AirflowStack,
    postgres: PostgresServer,
    redis_server: RedisServer,
    example_backfills: dict[str, BackfillPlan],
) -> Iterator[AirflowStack]:
    """The session deployment, now scheduling onto two Celery workers (stopped afterwards).

    The LocalExecutor backfills of every example DAG finish first: the executor changes under
    the whole deployment, and the secrets audit reads those runs too.
    """
    for plan in example_backfills.values():
        finished_runs(stack, plan)
    stack.use_celery(
        broker_url=redis_server.url(0),
        # The driver is named: SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql://.
        result_backend="db+" + postgres.url,
        limits_store=redis_server.url(1),
        secrets={"redis_password": redis_server.password},
    )
    try:
        for index, name in enumerate(WORKERS, start=1):
            stack.start("celery-worker", name=name, extra=["--celery-hostname", f"{name}@e2e-{index}"])
        for name in WORKERS:
            stack.services[name].wait_for_log("ready.", timeout=240)
        yield stack
    finally:
        # Keep the worker logs for the secrets audit; drop the processes.
        for name in WORKERS:
            service = stack.services.pop(name, None)
            if service is not None:
                service.stop()


def test_backfill_on_two_celery_workers(
    celery_stack: AirflowStack, sandbox: SandboxProcess, redis_server: RedisServer
) -> None:
    stack = celery_stack
    assert stack.api is not None
    plans: dict[str, BackfillPlan] = {
        dag_id: plan_backfill(dag_id, anchor=ANCHOR - timedelta(days=15)) for dag_id in celery_dags()
    }
    first_request = len(sandbox.admin("GET", "/requests")["requests"])  # type: ignore[index]
    created_before = jobs_created(sandbox.counters())  # type: ignore[arg-type]
    for plan in plans.values():
        stack.unpause(plan.dag_id)
        stack.backfill(plan.dag_id, plan.first_logical_date, plan.last_logical_date, via="api")

    ti_ids: set[str] = set()
    landed: dict[str, set[str]] = {}
    for plan in plans.values():
        runs = backfill_runs(stack, plan)
        done = stack.wait_runs_done(plan.dag_id, [r["dag_run_id"] for r in runs], timeout=RUNS_TIMEOUT)
        assert_runs_succeeded(stack, plan.dag_id, done)
        for run in done:
            ti_ids |= {ti["id"] for ti in stack.api.task_instances(plan.dag_id, run["dag_run_id"])}
            for task_id in plan.deferring_tasks:
                assert trigger_logs(stack, plan.dag_id, run["dag_run_id"], task_id), (plan.dag_id, task_id)
        for vendor, ids in landed_job_ids(stack, plan.dag_id, done).items():
            landed.setdefault(vendor, set()).update(ids)

    # Both workers ran tasks of these runs (each logs the workloads it executes).
    ran = {name: {t for t in ti_ids if t in stack.services[name].log_text()} for name in WORKERS}
    assert all(ran.values()), {name: len(ids) for name, ids in ran.items()}

    # No vendor job beyond those landed, with tasks of one interval on different workers.
    created = jobs_created(sandbox.counters())  # type: ignore[arg-type]
    compared = sorted(set(landed) & set(created))
    assert compared
    assert {v: created[v] - created_before.get(v, 0) for v in compared} == {
        v: len(landed[v]) for v in compared
    }

    requests = sandbox.admin("GET", "/requests")["requests"][first_request:]  # type: ignore[index]
    # No vendor answered a request with its rate-limit error.
    throttled = [r for r in requests if r["status"] == 429]
    assert not throttled, throttled[:5]
    # NICE CXone: every tenant's calls, from workers and triggerer alike, kept the spacing.
    if any("nice_cxone" in export_vendors(load_dag(d)) for d in plans):
        calls = sandbox.admin("POST", "/vendors/nice_cxone/calls", json={})
        tenants = calls["tenants"]  # type: ignore[index]
        assert tenants, calls
        for tenant, log in tenants.items():
            assert log["throttled"] == 0, (tenant, log["throttled"])
            assert log["min_gap"] is None or log["min_gap"] >= calls["spacing_seconds"], (
                tenant,
                log["min_gap"],
            )  # type: ignore[index]
    # Budgeted vendors: every request sent from any process was counted in the one Redis budget.
    budgets = redis_budgets(redis_server)
    for vendor in {key.split(":")[0] for key in budgets}:
        sent = [r for r in requests if r["vendor"] == vendor and r["status"] is not None]
        counted = sum(len(stamps) for key, stamps in budgets.items() if key.startswith(f"{vendor}:"))
        assert counted >= len(sent) > 0, (vendor, counted, len(sent))


def redis_budgets(server: RedisServer) -> dict[str, list[float]]:
    """``{budget key: timestamps}`` of the request budgets kept in the Redis limits store."""
    import redis

    client = redis.Redis.from_url(server.url(1))
    found: dict[str, Any] = {}
    for name in client.scan_iter("contact-center-limits:*"):
        key = name.decode().removeprefix("contact-center-limits:")
        value = client.get(name)
        stamps = json.loads(value) if value else []
        if isinstance(stamps, dict):
            stamps = stamps.get("stamps", [])
        found[key] = stamps
    client.close()
    return {key: stamps for key, stamps in found.items() if key.startswith("brightmetrics:")}
