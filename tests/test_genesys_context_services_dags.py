"""The Genesys Context Services operators and example DAG in real Airflow (``dag.test``), deferred."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests
from genesys_context_services_fixtures import CLOCK, Gms, gms

from contact_center_provider.sandbox.genesys_context_services import VENDOR, default_export_dir
from contact_center_provider.storage.raw_zone import read_manifest
from contact_center_provider.transforms.genesys_context_services import SCHEMAS

sys.path.insert(0, str(Path(__file__).parent / "dags"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))
import genesys_context_services_test_dags as test_dags

__all__ = ["gms"]

pytestmark = pytest.mark.usefixtures("airflow_db")

HOUR_END = datetime(2026, 11, 2, 15, tzinfo=UTC)
HOUR = "interval_start=20261102T140000Z/interval_end=20261102T150000Z"
DAY_END = datetime(2026, 11, 2, tzinfo=UTC)
DAY = "interval_start=20261101T000000Z/interval_end=20261102T000000Z"
VENDOR_DIR = "genesys_context_services"


def run(dag: Any, base: Path, conn: str, logical_date: datetime = HOUR_END) -> dict[str, str]:
    dag_run = dag.test(logical_date=logical_date, run_conf={"base": base.as_uri(), "conn": conn})
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    captured = capfd.readouterr()
    return caplog.text + captured.out + captured.err


def raw(base: Path, partition: str = HOUR) -> Path:
    return base / "raw" / VENDOR_DIR / "services" / partition


def tables_dir(base: Path, table: str, partition: str = HOUR) -> Path:
    return base / "tables" / VENDOR_DIR / table / partition


def exported(gms: Gms) -> dict[str, Any]:
    counters = requests.get(f"{gms.root}/_sandbox/counters", timeout=10).json()
    last: dict[str, Any] = counters["jobs"]["genesys_context_services"]["last"]
    return last


def test_csv_with_declared_attached_data_lands_and_becomes_tables(gms: Gms, tmp_path: Path) -> None:
    assert run(test_dags.csv_declared_dag, tmp_path, gms.conn_id) == {
        "export": "success",
        "tables": "success",
    }
    manifest = read_manifest(str(raw(tmp_path)))
    last = exported(gms)
    assert [f["name"] for f in manifest["files"]] == [
        last["files"][k] for k in ("services", "states", "tasks")
    ]
    for entry in manifest["files"]:
        assert (
            Path(entry["uri"].removeprefix("file://")).read_bytes()
            == (gms.export_dir / entry["name"]).read_bytes()
        )
        assert entry["uri"].endswith(".csv.zip")
    for table in ("services", "states", "tasks"):
        parquet = pq.read_table(tables_dir(tmp_path, table) / "part-00000.parquet")
        assert parquet.schema.equals(SCHEMAS[table], check_metadata=False)
        assert parquet.num_rows == last[table] > 0
    attached = pq.read_table(tables_dir(tmp_path, "attached_data") / "part-00000.parquet")
    assert "Résidence" in attached.column("key").to_pylist()


def test_a_row_with_the_wrong_field_count_fails_and_publishes_no_table(
    gms: Gms, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    assert run(test_dags.csv_declared_dag, tmp_path, gms.conn_id)["tables"] == "success"
    before = {p: p.read_bytes() for p in (tmp_path / "tables").rglob("*") if p.is_file()}
    logged(caplog, capfd)
    states = run(test_dags.csv_undeclared_dag, tmp_path, gms.conn_id)
    assert states == {"export": "success", "tables": "failed"}
    out = logged(caplog, capfd)
    services = exported(gms)["files"]["services"]
    # The file (and the member inside the zip) and the line are named.
    assert (
        f"{services}!{services.removesuffix('.zip')}, line 1: 26 fields, but the assumed column order" in out
    )
    # Nothing half-published: the previous complete table set is untouched, byte for byte.
    after = {p: p.read_bytes() for p in (tmp_path / "tables").rglob("*") if p.is_file()}
    assert after == before
    # The raw zone keeps what GMS wrote.
    landed = read_manifest(str(raw(tmp_path)))
    assert landed["files"][0]["name"] == services


def test_files_still_being_written_are_waited_for(gms: Gms, tmp_path: Path) -> None:
    gms.settings(partial_write="timed", write_seconds=0.5)
    assert run(test_dags.json_gzip_dag, tmp_path, gms.conn_id) == {"export": "success", "tables": "success"}
    manifest = read_manifest(str(raw(tmp_path)))
    # Had a half-written file been judged complete, the landed copy would be its first half.
    for entry in manifest["files"]:
        assert (
            Path(entry["uri"].removeprefix("file://")).read_bytes()
            == (gms.export_dir / entry["name"]).read_bytes()
        )
    assert (
        pq.read_table(tables_dir(tmp_path, "services") / "part-00000.parquet").num_rows
        == exported(gms)["services"]
    )


def test_a_missing_file_fails_the_export_naming_it(
    gms: Gms, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    gms.settings(missing_files=["states"])
    assert run(test_dags.missing_file_dag, tmp_path, gms.conn_id) == {"export": "failed"}
    out = logged(caplog, capfd)
    assert exported(gms)["files"]["states"] in out and "missing_file_timeout" in out
    assert not (raw(tmp_path) / "_manifest.json").exists()


def test_the_example_dag_runs_against_the_sandbox_default_folder(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's path: the VendorSpec connection, the sandbox's default export folder, the example DAG."""
    monkeypatch.delenv("CC_SANDBOX_GMS_EXPORT_DIR", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_GMS_EXAMPLE", json.dumps(VENDOR.airflow_connection(sandbox.url)))  # type: ignore[misc]
    requests.patch(
        f"{sandbox.url}/_sandbox/vendors/genesys_context_services/settings", json={"clock": CLOCK}, timeout=10
    ).raise_for_status()
    dag = importlib.import_module("genesys_context_services_export").dag
    folder = Path(default_export_dir(sandbox.url))
    try:
        dag_run = dag.test(
            logical_date=DAY_END,
            run_conf={"output_base_uri": tmp_path.as_uri(), "gms_conn_id": "gms_example"},
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the sandbox's default folder, outside tmp_path
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"export": "success", "tables": "success"}
    manifest = read_manifest(str(raw(tmp_path, DAY)))
    assert manifest["interval"] == "2026-11-01T00:00:00Z/2026-11-02T00:00:00Z"
    assert all(f["name"].endswith(".json.gz") for f in manifest["files"])
    counts = requests.get(f"{sandbox.url}/_sandbox/counters", timeout=10).json()["jobs"][
        "genesys_context_services"
    ]
    for table in ("services", "states", "tasks"):
        assert (
            pq.read_table(tables_dir(tmp_path, table, DAY) / "part-00000.parquet").num_rows
            == counts["last"][table]
        )
        assert (tables_dir(tmp_path, table, DAY) / "part-00000.csv").is_file()
    assert counts["last"]["services"] > 500  # a whole day
