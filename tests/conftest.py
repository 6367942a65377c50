"""Test harness: a private Airflow home, the sandbox and an S3 API on loopback.

Airflow reads its configuration at import time, so the environment is set here,
before any test module imports airflow. We deliberately do NOT set
``AIRFLOW__CORE__UNIT_TEST_MODE``: it flips ``create_cron_data_intervals`` and the
example DAGs must be tested with the production data-interval semantics.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="cc-airflow-home-"))

os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__LOAD_DEFAULT_CONNECTIONS"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
# Two bundles: the example DAGs, and the DAGs the tests drive (fault scenarios).
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(path)},
        }
        for name, path in (("examples", REPO / "dags"), ("test_dags", REPO / "tests" / "dags"))
    ]
)
os.environ["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "True"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
# Tests never talk to real AWS: credentials for moto only.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_key, _value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def airflow_home() -> Iterator[Path]:
    """The session's AIRFLOW_HOME; its SQLite metadata DB is created on first use."""
    yield _AIRFLOW_HOME
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """Create the metadata database once per session (dag.test needs it)."""
    from airflow.utils import db

    db.resetdb(skip_init=False)
    return airflow_home


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[object]:
    """The vendor sandbox as a real aiohttp server on a free loopback port."""
    from contact_center_provider.sandbox.server import SandboxServer

    with SandboxServer(host="127.0.0.1", port=0, seed=42) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: object) -> object:
    """The session sandbox, reset (faults, logs, counters, jobs, settings) before the test."""
    import requests

    requests.post(f"{sandbox_server.url}/_sandbox/reset", timeout=10).raise_for_status()  # type: ignore[attr-defined]
    return sandbox_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 API in server mode on loopback; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AIRFLOW_CONN_CC_TEST_S3"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A fresh, empty bucket on the moto server; yields its name."""
    import uuid

    import boto3

    name = f"cc-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def genesys_connection_env(
    sandbox_url: str, *, client_id: str = "sandbox-client", secret: str = "sandbox-secret"
) -> str:
    """``AIRFLOW_CONN_*`` JSON for a Genesys Cloud connection pointing at the sandbox."""
    return json.dumps(
        {
            "conn_type": "genesys_cloud",
            "login": client_id,
            "password": secret,
            "extra": {
                "api_base_url": f"{sandbox_url}/genesys-cloud",
                "login_base_url": f"{sandbox_url}/genesys-cloud/login",
            },
        }
    )


@pytest.fixture
def genesys_conn(sandbox: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """Connection id ``genesys_sandbox`` pointing at the (reset) sandbox."""
    monkeypatch.setenv("AIRFLOW_CONN_GENESYS_SANDBOX", genesys_connection_env(sandbox.url))  # type: ignore[attr-defined]
    return "genesys_sandbox"
