"""Secrets audit: after every example DAG ran, no secret is anywhere the deployment kept things.

Searched: task and trigger logs (exceptions included), every service's log, trigger rows
(decrypted while they existed), the whole metadata database as ``pg_dump`` writes it (XComs,
rendered templates, task state, run notes...) and every output object. Secrets: the
connections' secret fields, the tokens the sandbox issued, the credentials it received and
the pre-signed URLs it handed out (``recording_sandbox.py``), and the deployment's own keys.

The first two tests need no services: they plant a secret and show the audit reports it
(and never prints it), so a clean audit means something. The last plants one in the running
deployment's database.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .airflow_stack import AirflowStack
from .audit import (
    Hit,
    Secret,
    TriggerRowRecorder,
    audit,
    connection_secrets,
    file_blobs,
    output_blobs,
    recorded_secrets,
)
from .conftest import SandboxProcess
from .plans import BackfillPlan
from .services import PostgresServer
from .test_backfill import finished_runs

PLANTED = Secret("genesys_cloud_default.password", "pl4nted-Client-Secret/+=value")
PEM = Secret(
    "genesys_cdds_default.extra.private_key",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDtvodd\n"
    "8FapDssZz+at/3YqpE5wY4oarn3P7GzObXEu7n8Br9G5Iytp2RzDj0x\n-----END PRIVATE KEY-----\n",
)


def deployment_blobs(stack: AirflowStack, postgres: PostgresServer, sandbox: SandboxProcess) -> list:
    """Everything the deployment kept, in a stable order."""
    audit_dir = stack.root / "audit"
    audit_dir.mkdir(exist_ok=True)
    dump = postgres.dump(audit_dir / "metadata.sql")
    return [
        *file_blobs("task and trigger logs", stack.logs),
        *file_blobs("service logs", stack.service_logs),
        *file_blobs("trigger rows (decrypted)", audit_dir, exclude=[dump]),
        ("metadata database (pg_dump)", dump.name, dump.read_bytes()),
        *output_blobs(stack.output),
    ]


def all_secrets(stack: AirflowStack, sandbox: SandboxProcess) -> list[Secret]:
    return [
        *connection_secrets(stack.connections()),
        *recorded_secrets(sandbox.record),
        *(Secret(f"deployment {name}", value) for name, value in stack.harness_secrets().items()),
    ]


# --------------------------------------------------------------------------- the audit can fail


def test_audit_reports_a_planted_secret_without_printing_it(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "dag_id=d" / "run_id=r").mkdir(parents=True)
    (logs / "dag_id=d" / "run_id=r" / "attempt=1.log").write_text('{"event": "token fetched"}\n')
    # The secret URL-encoded in a logged request line, and a Basic header.
    (logs / "dag_id=d" / "run_id=r" / "attempt=2.log").write_text(
        f"POST /oauth/token?client_secret={quote(PLANTED.value, safe='')}\n"
    )
    (logs / "scheduler.log").write_text(
        "Authorization: Basic " + base64.b64encode(PLANTED.value.encode()).decode() + "\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    pq.write_table(pa.table({"note": ["ok", f"key {PEM.value.splitlines()[2]}"]}), out / "part-00000.parquet")
    (out / "clean.json").write_text(json.dumps({"rows": 3}))

    hits = audit(
        [PLANTED, PEM, Secret("unused", "never-written-anywhere")],
        [*file_blobs("logs", logs), *output_blobs(out)],
    )

    assert hits == [
        Hit(PLANTED.name, "logs", "dag_id=d/run_id=r/attempt=2.log"),
        Hit(PLANTED.name, "logs", "scheduler.log"),
        Hit(PEM.name, "outputs", "part-00000.parquet"),
    ]
    assert all(PLANTED.value not in str(hit) and "pl4nted" not in str(hit) for hit in hits)


def test_connection_secret_fields() -> None:
    conn = {
        "conn_type": "x",
        "login": "client-id-is-not-secret",
        "password": "pw-secret-1",
        "extra": {
            "api_key": "k-123456789",
            "client_id": "id",
            "certificate": "PUBLIC",
            "access_key_id": "AKIA",
        },
    }
    names = {s.name for s in connection_secrets({"AIRFLOW_CONN_X_DEFAULT": json.dumps(conn)})}
    assert names == {"x_default.password", "x_default.extra.api_key"}


# --------------------------------------------------------------------------- the deployment


def test_no_secret_anywhere_after_every_example_dag(
    stack: AirflowStack,
    postgres: PostgresServer,
    sandbox: SandboxProcess,
    example_backfills: dict[str, BackfillPlan],
    trigger_rows: TriggerRowRecorder,
) -> None:
    for plan in example_backfills.values():
        finished_runs(stack, plan)
    secrets = all_secrets(stack, sandbox)
    kinds = {s.name.split(" #")[0] for s in secrets}
    # The audit looked for real run-time credentials, and had real material to search.
    assert any(k.startswith("sandbox issued_") for k in kinds), kinds
    assert any(k.startswith("sandbox bearer_token") for k in kinds), kinds
    assert trigger_rows.rows > 0
    blobs = deployment_blobs(stack, postgres, sandbox)
    assert any(source == "task and trigger logs" for source, _, _ in blobs)

    hits = audit(secrets, blobs)

    assert not hits, f"{len(hits)} place(s) hold a secret; the first: {hits[0]}"


def test_a_secret_planted_in_the_deployment_is_found(
    stack: AirflowStack,
    postgres: PostgresServer,
    sandbox: SandboxProcess,
    example_backfills: dict[str, BackfillPlan],
) -> None:
    """The same audit over the same deployment, after a run note that quotes a client secret."""
    assert stack.api is not None
    plan = next(iter(example_backfills.values()))
    run = finished_runs(stack, plan)[0]
    secret = connection_secrets(stack.connections())[0]
    path = f"/dags/{plan.dag_id}/dagRuns/{run['dag_run_id']}"
    stack.api.patch(path, {"note": f"rotated? old one was {secret.value}"}, update_mask="note")
    try:
        hits = audit([secret], deployment_blobs(stack, postgres, sandbox))
    finally:
        stack.api.patch(path, {"note": ""}, update_mask="note")
    assert Hit(secret.name, "metadata database (pg_dump)", "metadata.sql") in hits, hits


@pytest.fixture(autouse=True)
def _no_secret_in_test_output(capsys: pytest.CaptureFixture[str]) -> None:
    """The audit's own failures print names and places only (checked for the planted value)."""
    yield
    captured = capsys.readouterr()
    assert PLANTED.value not in captured.out + captured.err
