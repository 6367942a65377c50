"""The Genesys CDDS sensor, operators and example DAG in real Airflow (``dag.test``), deferred.

Done-when of the vendor issue: the DAG lands the encrypted parts unchanged and writes the
tables; a wrong key, a missing part, a corrupt part, a ``../`` member and a zip bomb each
fail the tables task with an error naming the file and publish no table.
"""

from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
import requests

from contact_center_provider.storage.raw_zone import read_manifest
from contact_center_provider.transforms.genesys_cdds import expected_tables
from tests.genesys_cdds_fixtures import cdds_connection_env, patch_cdds

sys.path.insert(0, str(Path(__file__).parent / "dags"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))
import genesys_cdds_test_dags as test_dags

pytestmark = pytest.mark.usefixtures("airflow_db")

# dag.test(D) covers the day ending at D: [2026-11-01, 2026-11-02); CDDS's run at 2026-11-02T00:00 exports it.
DAY_END = datetime(2026, 11, 2, tzinfo=UTC)
DAY = "interval_start=20261101T000000Z/interval_end=20261102T000000Z"
CONN = "cdds_dag_test"


@pytest.fixture
def cdds(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    patch_cdds(sandbox, first_run="2026-10-25T00:00:00Z")
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", cdds_connection_env(sandbox.url))
    return sandbox


def run(dag: Any, base: str, out_conn: str | None = None) -> dict[str, str]:
    dag_run = dag.test(logical_date=DAY_END, run_conf={"base": base, "conn": CONN, "out_conn": out_conn})
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    captured = capfd.readouterr()
    return caplog.text + captured.out + captured.err


def tables_dir(base: Path, table: str) -> Path:
    return base / "tables" / "genesys_cdds" / table / DAY


def published(base: Path) -> dict[Path, bytes]:
    return (
        {p: p.read_bytes() for p in (base / "tables").rglob("*") if p.is_file()}
        if (base / "tables").exists()
        else {}
    )


def test_interactions_land_unchanged_and_become_tables(cdds: Any, tmp_path: Path) -> None:
    assert run(test_dags.interactions_dag, tmp_path.as_uri()) == {
        "wait": "success",
        "export": "success",
        "tables": "success",
    }
    manifest = read_manifest(str(tmp_path / "raw" / "genesys_cdds" / "interactions" / DAY))
    names = [a["file_name"] for a in manifest["artifacts"]]
    assert len(names) >= 2 and names[-1].endswith(".zip.smime") and names[0].endswith(".z01.smime")
    assert all(
        Path(a["uri"].removeprefix("file://")).stat().st_size == a["bytes"] for a in manifest["artifacts"]
    )
    schemas = expected_tables("interactions")
    for table, schema in schemas.items():
        parquet = pq.read_table(tables_dir(tmp_path, table) / "part-00000.parquet")
        assert parquet.schema.equals(schema, check_metadata=False), table
    assert pq.read_table(tables_dir(tmp_path, "interactions") / "part-00000.parquet").num_rows == 30
    assert pq.read_table(tables_dir(tmp_path, "enum_labels") / "part-00000.parquet").num_rows == 11


def test_contacts_to_s3_with_3des_through_the_openssl_fallback(
    cdds: Any, s3_bucket: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    patch_cdds(cdds, cipher="des3", extra_field="GDPR_CONSENT")
    base = f"s3://{s3_bucket}/cc"
    assert run(test_dags.contacts_dag, base, "cc_test_s3") == {
        "wait": "success",
        "export": "success",
        "tables": "success",
    }
    out = logged(caplog, capfd)
    assert "(openssl)" in out  # every 3DES part went through the openssl command
    assert "contacts.GDPR_CONSENT" in out  # counted, never a crash
    s3 = boto3.client("s3", endpoint_url=_endpoint(), region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert f"cc/tables/genesys_cdds/contacts/{DAY}/part-00000.parquet" in keys
    assert f"cc/tables/genesys_cdds/contact_attributes/{DAY}/part-00000.parquet" in keys
    assert not any("enum_labels" in k for k in keys)


def _endpoint() -> str:
    import json
    import os

    return str(json.loads(os.environ["AIRFLOW_CONN_CC_TEST_S3"])["extra"]["endpoint_url"])


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        ("other_certificate", "is not encrypted to the configured certificate"),
        ("withhold_last_part", "parts but only"),
        ("corrupt_part", "member 'ContactHistory/Interaction/Interaction-"),
        ("traversal", "member '../../Interaction-"),
        ("bomb", "compression-ratio limit"),
    ],
)
def test_bad_exports_fail_naming_the_file_and_publish_nothing(
    cdds: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    fault: str,
    named: str,
) -> None:
    assert run(test_dags.interactions_dag, tmp_path.as_uri())["tables"] == "success"
    before = published(tmp_path)
    logged(caplog, capfd)
    patch_cdds(cdds, fault=fault, interaction_split_size_bytes=1024)

    states = run(test_dags.interactions_dag, tmp_path.as_uri())

    assert states == {"wait": "success", "export": "success", "tables": "failed"}
    out = logged(caplog, capfd)
    manifest = read_manifest(str(tmp_path / "raw" / "genesys_cdds" / "interactions" / DAY))
    export = manifest["export"]
    assert named in out
    assert f"{export}." in out  # the part or the archive is named
    # Nothing half-published: the previous complete table set is untouched, byte for byte.
    assert published(tmp_path) == before
    # The raw zone keeps what CDDS sent.
    assert [a["file_name"].startswith(export) for a in manifest["artifacts"]] == [True] * len(
        manifest["artifacts"]
    )


def test_example_dag_runs_both_jobs(cdds: Any, tmp_path: Path) -> None:
    module = importlib.import_module("genesys_cdds_contact_history")
    dag_run = module.dag.test(
        logical_date=DAY_END, run_conf={"output_base_uri": tmp_path.as_uri(), "cdds_conn_id": CONN}
    )
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    for table in ("interactions", "documents", "enum_labels", "contacts", "contact_attributes"):
        assert (tables_dir(tmp_path, table) / "part-00000.parquet").exists(), table
        assert (tables_dir(tmp_path, table) / "part-00000.csv").exists(), table


def test_sensor_defers_until_the_run_lists_its_files(cdds: Any, tmp_path: Path) -> None:
    patch_cdds(cdds, polls_until_complete=3)
    assert run(test_dags.contacts_dag, tmp_path.as_uri()) == {
        "wait": "success",
        "export": "success",
        "tables": "success",
    }
    history = requests.get(
        f"{cdds.url}/_sandbox/requests",
        params={"path": "/genesys-cdds/data-download/v4/export/history"},
        timeout=10,
    ).json()["requests"]
    # Three listings saw the run in progress before its file appeared; then the export task's own.
    assert len(history) >= 4
    assert pq.read_table(tables_dir(tmp_path, "contacts") / "part-00000.parquet").num_rows == 15
