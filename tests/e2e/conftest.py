"""Session fixtures of the end-to-end tests: PostgreSQL, the sandbox and the Airflow deployment.

Everything here is started once per session, by these fixtures, on loopback: a PostgreSQL
cluster (Debian's ``postgresql``), the vendor sandbox as a process, and Airflow's api-server,
scheduler, dag-processor and triggerer as separate processes. Every test in this folder is
marked ``e2e``; ``pytest -m "not e2e"`` leaves them out.

When PostgreSQL is not installed the tests are skipped, except in CI (``CI`` set), where they
fail: ``.ci/run`` installs it. ``CC_E2E_KEEP=1`` keeps the session folder (logs, outputs) for
a look after the run; its path is printed either way.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from .airflow_stack import AirflowStack, example_dags
from .audit import TriggerRowRecorder
from .plans import BackfillPlan, plan_backfill
from .services import DEBIAN_PACKAGES, PostgresServer, Service, postgres_bindir

HERE = Path(__file__).resolve().parent


#: Fixtures that start real services: a test using one is an end-to-end test.
SERVICE_FIXTURES = {"postgres", "sandbox", "stack", "example_backfills", "trigger_rows", "celery_stack"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        in_here = HERE in Path(str(item.fspath)).resolve().parents
        if in_here and SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


def _missing(what: str) -> None:
    message = f"{what} is not installed (Debian package {DEBIAN_PACKAGES[what]!r}; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def e2e_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="cc-e2e-"))
    print(f"\ne2e session folder: {root}", file=sys.stderr)
    yield root
    if not os.environ.get("CC_E2E_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(e2e_root: Path) -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    if bindir is None:
        _missing("postgres")
    assert bindir is not None
    server = PostgresServer(e2e_root / "logs", bindir).start()
    try:
        yield server
    finally:
        server.stop()


class SandboxProcess:
    """The sandbox process (``tests/e2e/recording_sandbox.py``) and its admin API."""

    def __init__(self, service: Service, url: str, record: Path) -> None:
        self.service = service
        self.url = url
        self.record = record

    def admin(self, method: str, path: str, **kwargs: object) -> object:
        answer = requests.request(method, f"{self.url}/_sandbox{path}", timeout=30, **kwargs)  # type: ignore[arg-type]
        answer.raise_for_status()
        return answer.json()

    def counters(self) -> dict[str, object]:
        return self.admin("GET", "/counters")  # type: ignore[return-value]

    def patch_vendor(self, vendor: str, settings: dict[str, object]) -> None:
        self.admin("PATCH", f"/vendors/{vendor}/settings", json=settings)


@pytest.fixture(scope="session")
def sandbox(e2e_root: Path) -> Iterator[SandboxProcess]:
    record = e2e_root / "sandbox-credentials.jsonl"
    service = Service(
        "sandbox",
        [
            sys.executable,
            str(HERE / "recording_sandbox.py"),
            "--record",
            str(record),
            "--port",
            "0",
            "--seed",
            "42",
        ],
        {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))},
        e2e_root / "logs" / "sandbox.log",
    ).start()
    try:
        service.wait_for_log("sandbox ready: ", timeout=120)
        line = next(line for line in service.log_text().splitlines() if line.startswith("sandbox ready: "))
        yield SandboxProcess(service, line.split()[2], record)
    finally:
        service.stop()


@pytest.fixture(scope="session")
def stack(e2e_root: Path, postgres: PostgresServer, sandbox: SandboxProcess) -> Iterator[AirflowStack]:
    """The running deployment with every example DAG parsed (and still paused)."""
    deployment = AirflowStack(e2e_root, postgres, sandbox.url)
    try:
        deployment.migrate()
        deployment.start_core()
        deployment.wait_for_dags(example_dags())
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture(scope="session")
def trigger_rows(stack: AirflowStack, postgres: PostgresServer) -> Iterator[TriggerRowRecorder]:
    """Every trigger row of the session, decrypted, for the secrets audit (rows vanish once fired)."""
    (stack.root / "audit").mkdir(exist_ok=True)
    recorder = TriggerRowRecorder(
        postgres.connect, stack.harness_secrets()["fernet_key"], stack.root / "audit" / "trigger-rows.jsonl"
    ).start()
    try:
        yield recorder
    finally:
        recorder.stop()


@pytest.fixture(scope="session")
def example_backfills(stack: AirflowStack, trigger_rows: TriggerRowRecorder) -> dict[str, BackfillPlan]:
    """Every example DAG unpaused and backfilled over its three intervals (all started at once)."""
    plans = {dag_id: plan_backfill(dag_id) for dag_id in example_dags()}

    def start(plan: BackfillPlan) -> BackfillPlan:
        stack.unpause(plan.dag_id)
        stack.backfill(plan.dag_id, plan.first_logical_date, plan.last_logical_date)
        return plan

    # The CLI calls overlap so the scheduler starts on the first DAGs while the last are created.
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(start, plans.values()))
    return plans
