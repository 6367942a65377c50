"""A real Airflow deployment on loopback: api-server, scheduler, dag-processor, triggerer.

Every component is its own process started with the same command a deployment runs (and
``docker-compose.yaml`` runs), sharing nothing but the PostgreSQL metadata database, the
configuration in the environment and the log folder. The example DAGs in ``dags/`` are
served as they are; their vendor connections come from each sandbox vendor's
``VendorSpec.airflow_connection`` (through ``scripts/demo.py:sandbox_connections``).

The tests talk to the deployment the way an operator would: the ``airflow`` CLI for
backfills and the REST API (``/api/v2``) for everything they wait on.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from .services import HarnessError, PostgresServer, Service, free_port, tail, wait_until

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
AIRFLOW = Path(sys.executable).with_name("airflow")

sys.path.insert(0, str(REPO / "scripts"))
from demo import example_dags as all_example_dags  # noqa: E402
from demo import sandbox_connections  # noqa: E402

__all__ = ["AirflowStack", "ApiClient", "example_dags", "sandbox_connections"]


def example_dags() -> list[str]:
    """Every example DAG in ``dags/``, or those named in ``CC_E2E_DAGS`` (comma-separated)."""
    found = all_example_dags()
    wanted = [d.strip() for d in os.environ.get("CC_E2E_DAGS", "").split(",") if d.strip()]
    unknown = set(wanted) - set(found)
    if unknown:
        raise ValueError(f"CC_E2E_DAGS names no example DAG: {sorted(unknown)}; known: {found}")
    return wanted or found


#: The one command line per component: the same as docker-compose.yaml's (``tests/test_compose.py``
#: checks that), plus the loopback address and port the harness picked.
COMPONENT_COMMANDS: dict[str, list[str]] = {
    "api-server": ["api-server", "--workers", "1"],
    # Log servers would bind every interface; logs are read from the shared folder instead.
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
    "celery-worker": ["celery", "worker", "--skip-serve-logs", "--concurrency", "2"],
}

TERMINAL_RUN_STATES = {"success", "failed"}


def _base_env() -> dict[str, str]:
    """The session's environment without the unit tests' Airflow, AWS and example-DAG settings."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "CC_", "AWS_", "_AIRFLOW"))
    }


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass
class ApiClient:
    """The REST API (``/api/v2``) with a token from the simple auth manager."""

    url: str
    username: str
    password: str
    session: requests.Session = field(default_factory=requests.Session)

    def login(self) -> None:
        answer = requests.post(
            f"{self.url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=30,
        )
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 60)
        answer = self.session.request(method, f"{self.url}/api/v2{path}", **kwargs)
        if answer.status_code == 401:  # the token expired: log in again once
            self.login()
            answer = self.session.request(method, f"{self.url}/api/v2{path}", **kwargs)
        if answer.status_code >= 400:
            raise HarnessError(f"{method} {path}: {answer.status_code} {answer.text[:2000]}")
        return answer.json() if answer.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def patch(self, path: str, body: Mapping[str, Any], **params: Any) -> Any:
        return self.request("PATCH", path, json=dict(body), params=params)

    # -- the few calls the tests wait on --------------------------------------------------
    def dag_runs(self, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.get(f"/dags/{dag_id}/dagRuns", limit=100, **filters)["dag_runs"]
        return sorted(runs, key=lambda r: r["data_interval_start"] or "")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)[
            "task_instances"
        ]
        return found

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        )["task_instances"]
        return found

    def health(self) -> dict[str, Any]:
        found: dict[str, Any] = self.get("/monitor/health")
        return found


@dataclass
class AirflowStack:
    """The deployment: its environment, its processes and clients for its CLI and API.

    :param root: private folder (AIRFLOW_HOME, logs, the output zones).
    :param postgres: the running metadata database.
    :param sandbox_url: root URL of the running vendor sandbox.
    :param executor: ``LocalExecutor`` or ``CeleryExecutor`` (then ``celery_broker`` is needed).
    :param extra_env: more environment (e.g. ``CC_LIMITS_STORE``).
    """

    root: Path
    postgres: PostgresServer
    sandbox_url: str
    executor: str = "LocalExecutor"
    extra_env: dict[str, str] = field(default_factory=dict)
    dags_folder: Path = DAGS
    api_port: int = field(default_factory=free_port)
    services: dict[str, Service] = field(default_factory=dict)
    _secrets: dict[str, str] = field(default_factory=dict)
    api: ApiClient | None = None

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.output.mkdir(parents=True, exist_ok=True)
        self._secrets = {
            "fernet_key": _fernet_key(),
            "api_secret_key": secrets.token_urlsafe(24),
            "jwt_secret": secrets.token_urlsafe(64),  # >= 64 bytes for HS512
            "admin_password": secrets.token_urlsafe(18),
        }
        passwords = self.home / "simple_auth_manager_passwords.json"
        passwords.write_text(json.dumps({"admin": self._secrets["admin_password"]}))
        os.chmod(passwords, 0o600)

    # -- layout ---------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.root / "airflow-home"

    @property
    def output(self) -> Path:
        """Where the example DAGs' raw, tables and reports zones land (``CC_OUTPUT_BASE_URI``)."""
        return self.root / "output"

    @property
    def logs(self) -> Path:
        """Task and trigger logs (``[logging] base_log_folder``)."""
        return self.home / "logs"

    @property
    def service_logs(self) -> Path:
        return self.root / "logs"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def harness_secrets(self) -> dict[str, str]:
        """Secrets of the deployment itself (the audit looks for these too)."""
        return {**self._secrets, "postgres_password": self.postgres.password}

    def connections(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` of every sandbox vendor, as the vendors declare them."""
        return sandbox_connections(self.sandbox_url)

    def env(self, **overrides: str) -> dict[str, str]:
        env = _base_env()
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__FERNET_KEY": self._secrets["fernet_key"],
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                    self.home / "simple_auth_manager_passwords.json"
                ),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__SECRET_KEY": self._secrets["api_secret_key"],
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secrets["jwt_secret"],
                # A task process gives the execution API 5 s per call by default; on two shared
                # cores the api-server can take longer while it starts or many tasks start.
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                # Only the tests' backfills run: no scheduled run for "the latest interval" appears
                # when a DAG is unpaused, so every run and partition is one a test asked for.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                # A killed triggerer's triggers move to a live one once its heartbeat is this old.
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "15",
                "CC_OUTPUT_BASE_URI": self.output.as_uri(),
                "CC_LIMITS_STORE": (self.root / "limits").as_uri(),
                # A killed task's retry comes after seconds, not the example DAGs' two minutes.
                "CC_RETRY_DELAY_SECONDS": "10",
                **self.connections(),
                **self.extra_env,
            }
        )
        env.update(overrides)
        return env

    # -- CLI --------------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against the deployment; raise with its output when it fails."""
        done = subprocess.run(
            [str(AIRFLOW), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if check and done.returncode:
            raise HarnessError(
                f"airflow {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
            )
        return done

    def migrate(self) -> None:
        self.cli("db", "migrate", timeout=600)

    # -- processes ------------------------------------------------------------------------------
    def start(self, component: str, *, name: str | None = None, extra: Sequence[str] = ()) -> Service:
        """Start ``airflow <component>`` (see :data:`COMPONENT_COMMANDS`) as a new process."""
        name = name or component
        argv = [str(AIRFLOW), *COMPONENT_COMMANDS[component], *extra]
        if component == "api-server":
            argv += ["--host", "127.0.0.1", "--port", str(self.api_port)]
        service = Service(name, argv, self.env(), self.service_logs / f"{name}.log", cwd=self.root).start()
        self.services[name] = service
        return service

    def start_core(self) -> None:
        """api-server, scheduler, dag-processor and triggerer; returns once all are healthy."""
        api = self.start("api-server")
        wait_until(
            "the api-server to answer /api/v2/version",
            lambda: _answers(f"{self.api_url}/api/v2/version"),
            timeout=240,
            on_timeout=lambda: tail(api.log),
        )
        self.api = ApiClient(self.api_url, "admin", self._secrets["admin_password"])
        self.api.login()
        for component in ("dag-processor", "scheduler", "triggerer"):
            self.start(component)
        self.wait_healthy(("scheduler", "triggerer", "dag_processor"))

    def wait_healthy(self, components: Iterable[str], timeout: float = 240) -> None:
        assert self.api is not None
        wanted = list(components)

        def check() -> bool:
            self.assert_alive()
            health = self.api.health()  # type: ignore[union-attr]
            return all(health.get(c, {}).get("status") == "healthy" for c in wanted)

        wait_until(f"{', '.join(wanted)} to report healthy", check, timeout=timeout, on_timeout=self.describe)

    def assert_alive(self) -> None:
        """Fail at once (with its log) when a component died by itself."""
        for name, service in self.services.items():
            if (
                service.proc is not None
                and service.proc.poll() is not None
                and not getattr(service, "expected_exit", False)
            ):
                raise HarnessError(f"{name} exited with {service.proc.returncode}:\n{tail(service.log, 60)}")

    def describe(self) -> str:
        return "\n".join(f"--- {name} ({s.log}):\n{tail(s.log, 25)}" for name, s in self.services.items())

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    def use_celery(
        self, *, broker_url: str, result_backend: str, limits_store: str, secrets: dict[str, str]
    ) -> None:
        """Switch to the CeleryExecutor: restart the scheduler and the triggerer with its settings.

        The api-server and the dag-processor run on; workers are started with :meth:`start`
        (``"celery-worker"``). The limits store moves to ``limits_store`` for every process
        that talks to vendors (workers and triggerer), as on several machines.
        """
        for name in ("scheduler", "triggerer"):
            self.services.pop(name).stop()
        self.executor = "CeleryExecutor"
        self._secrets.update(secrets)
        self.extra_env.update(
            {
                "AIRFLOW__CELERY__BROKER_URL": broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
                "CC_LIMITS_STORE": limits_store,
            }
        )
        for name in ("scheduler", "triggerer"):
            self.start(name)
        self.wait_healthy(("scheduler", "triggerer"))

    # -- DAGs ---------------------------------------------------------------------------------
    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 300) -> None:
        """Wait until the dag-processor serialized every DAG; fail on an import error of one."""
        assert self.api is not None
        wanted = set(dag_ids)

        def check() -> bool:
            self.assert_alive()
            errors = self.api.get("/importErrors", limit=100)["import_errors"]  # type: ignore[union-attr]
            if errors:
                raise HarnessError(
                    "import errors:\n" + "\n".join(f"{e['filename']}: {e['stack_trace']}" for e in errors)
                )
            found = {d["dag_id"] for d in self.api.get("/dags", limit=100)["dags"]}  # type: ignore[union-attr]
            return wanted <= found

        wait_until(f"DAGs {sorted(wanted)} to be parsed", check, timeout=timeout, on_timeout=self.describe)

    def unpause(self, dag_id: str) -> None:
        assert self.api is not None
        self.api.patch(f"/dags/{dag_id}", {"is_paused": False})

    def backfill(self, dag_id: str, first: datetime, last: datetime, *, via: str = "cli") -> None:
        """A backfill from the first to the last logical date (both inclusive).

        ``via="cli"``: ``airflow backfill create`` (what the example-DAG tests use);
        ``via="api"``: ``POST /api/v2/backfills``, the same backfill without the CLI's seconds of
        start-up on two busy cores (the failure scenarios).

        Airflow allows one running backfill per DAG, and the scheduler marks a backfill completed
        only some loops after its last run ended: an earlier one is waited for first.
        """
        self.wait_backfills_completed(dag_id)
        if via == "api":
            assert self.api is not None
            self.api.request(
                "POST",
                "/backfills",
                json={"dag_id": dag_id, "from_date": first.isoformat(), "to_date": last.isoformat()},
            )
            return
        self.cli(
            "backfill",
            "create",
            "--dag-id",
            dag_id,
            "--from-date",
            first.isoformat(),
            "--to-date",
            last.isoformat(),
        )

    def wait_backfills_completed(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until no backfill of ``dag_id`` is still open (``completed_at`` unset)."""
        assert self.api is not None

        def check() -> bool:
            self.assert_alive()
            backfills = self.api.get("/backfills", dag_id=dag_id, limit=100)["backfills"]  # type: ignore[union-attr]
            return all(b["completed_at"] for b in backfills)

        wait_until(f"earlier backfills of {dag_id} to complete", check, timeout=timeout, interval=1)

    def wait_runs_done(self, dag_id: str, run_ids: Iterable[str], timeout: float) -> list[dict[str, Any]]:
        """Wait until each of ``run_ids`` is success or failed; return them."""
        assert self.api is not None
        wanted = set(run_ids)

        def check() -> list[dict[str, Any]] | None:
            self.assert_alive()
            runs = [r for r in self.api.dag_runs(dag_id) if r["dag_run_id"] in wanted]  # type: ignore[union-attr]
            if len(runs) == len(wanted) and all(r["state"] in TERMINAL_RUN_STATES for r in runs):
                return runs
            return None

        return wait_until(
            f"{dag_id} runs {sorted(wanted)} to end",
            check,
            timeout=timeout,
            interval=2,
            on_timeout=self.describe,
        )


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False
