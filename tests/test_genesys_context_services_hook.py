"""GenesysContextServicesHook against the sandbox: submit, look for the files, land them unchanged."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from genesys_context_services_fixtures import AUTH, Gms, connection, gms

from contact_center_provider.hooks.genesys_context_services import GenesysContextServicesHook
from contact_center_provider.http.errors import VendorResponseError
from contact_center_provider.jobs import JobOutcome, JobRef, JobStatus
from contact_center_provider.sandbox.genesys_context_services import ATTACHED_DATA_KEYS
from contact_center_provider.storage.raw_zone import RawLanding
from contact_center_provider.transforms.genesys_context_services import CsvLayout, iter_file_tables

__all__ = ["gms"]

START = datetime(2026, 11, 2, 14, tzinfo=UTC)
END = datetime(2026, 11, 2, 15, tzinfo=UTC)


def hook(gms: Gms) -> GenesysContextServicesHook:
    return GenesysContextServicesHook(gms.conn_id)


def submit(gms: Gms, **params: Any) -> tuple[GenesysContextServicesHook, JobRef]:
    h = hook(gms)
    return h, h.submit_job("services", START, END, params)


def last_export(gms: Gms) -> dict[str, Any]:
    counters = requests.get(f"{gms.root}/_sandbox/counters", timeout=10).json()
    last: dict[str, Any] = counters["jobs"]["genesys_context_services"]["last"]
    return last


def outcomes(h: GenesysContextServicesHook, job: JobRef, looks: int) -> list[JobOutcome]:
    return [h.get_job_status(job).outcome for _ in range(looks)]


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("compression", ["uncompressed", "zip", "gzip"])
def test_each_format_and_compression_is_collected_unchanged(
    gms: Gms, tmp_path: Path, fmt: str, compression: str
) -> None:
    h, job = submit(gms, format=fmt, compression=compression, separator=";")
    files = job["extra"]["files"]
    assert [f["type"] for f in files] == ["services", "states", "tasks"]
    assert all(f["compression"] == compression for f in files)
    # "both": the first look cannot know the size is stable yet; the second can.
    assert outcomes(h, job, 2) == [JobOutcome.RUNNING, JobOutcome.SUCCEEDED]
    status = h.get_job_status(job)
    landing = RawLanding(str(tmp_path / "raw"))
    facts = h.land_result(job, status, landing)
    landing.publish(**facts)
    assert [f["name"] for f in facts["files"]] == [f["name"] for f in files]
    rows = {"services": 0, "states": 0, "tasks": 0}
    for entry in facts["files"]:
        landed = Path(entry["uri"]).read_bytes()
        assert landed == (gms.export_dir / entry["name"]).read_bytes()
        assert entry["uri"].endswith(
            entry["name"][entry["name"].rfind("_" + entry["type"]) + len(entry["type"]) + 1 :]
        )
        layout = CsvLayout(attached_data_keys=ATTACHED_DATA_KEYS)
        for tables in iter_file_tables(
            landed,
            name=entry["name"],
            file_type=entry["type"],
            fmt=fmt,
            compression=entry["compression"],
            separator=";",
            layout=layout,
        ):
            rows[entry["type"]] += tables[entry["type"]].num_rows
    last = last_export(gms)
    assert rows == {k: last[k] for k in rows} and rows["services"] > 10
    assert last["params"]["separator"] == ";" and last["params"]["format"] == fmt


def test_the_export_request_carries_the_documented_parameters(gms: Gms) -> None:
    submit(gms, filter_events="completed", filter_state="inactive", file_name_prefix="nightly_")
    params = last_export(gms)["params"]
    assert params == {
        "time_from": "2026-11-02T14:00:00.000Z",
        "time_to": "2026-11-02T15:00:00.000Z",
        "filter_events": "completed",
        "filter_state": "inactive",
        "file_prefix": "/var/gms/export/nightly_20261102T140000Z-20261102T150000Z_",
        "compression": "uncompressed",
        "separator": ",",
        "format": "json",
    }


@pytest.mark.parametrize(
    ("fmt", "compression"),
    [("json", "gzip"), ("csv", "zip"), ("json", "uncompressed"), ("csv", "uncompressed")],
)
def test_a_file_still_being_written_when_first_seen_is_waited_for(
    gms: Gms, fmt: str, compression: str
) -> None:
    gms.settings(partial_write="hold")
    h, job = submit(gms, format=fmt, compression=compression)
    first = h.get_job_status(job)
    assert first.outcome is JobOutcome.RUNNING and set(first.details["files"].values()) == {"writing"}
    # Same size twice, but the file does not end like a finished one: still writing.
    assert h.get_job_status(job).outcome is JobOutcome.RUNNING
    # The size rule alone would have been fooled by the paused writer.
    size_only: JobRef = {
        **job,
        "extra": {**job["extra"], "options": {**job["extra"]["options"], "completion": "size_stable"}},
    }
    assert hook(gms).get_job_status(size_only).outcome is JobOutcome.RUNNING
    assert hook(gms).get_job_status(size_only).outcome is JobOutcome.RUNNING  # a new hook: first look again
    fooled = hook(gms)
    assert [fooled.get_job_status(size_only).outcome for _ in range(2)][-1] is JobOutcome.SUCCEEDED
    gms.finish_writes()
    assert outcomes(h, job, 2) == [JobOutcome.RUNNING, JobOutcome.SUCCEEDED]


def test_valid_end_rule_accepts_a_finished_file_on_the_first_look(gms: Gms) -> None:
    h, job = submit(gms, compression="gzip", completion="valid_end")
    assert h.get_job_status(job).outcome is JobOutcome.SUCCEEDED


def test_a_missing_file_fails_past_its_deadline_naming_it(gms: Gms) -> None:
    gms.settings(missing_files=["tasks"])
    h, job = submit(gms, missing_file_timeout=3600)
    status = h.get_job_status(job)
    tasks = job["extra"]["files"][2]["name"]
    assert status.outcome is JobOutcome.RUNNING and status.details["files"][tasks] == "missing"
    _, late = submit(gms, missing_file_timeout=0)
    failed = hook(gms).get_job_status(late)
    assert failed.outcome is JobOutcome.FAILED
    assert failed.message is not None
    assert late["extra"]["files"][2]["name"] in failed.message and gms.export_dir.as_uri() in failed.message
    assert "files_base_url" in failed.message


def test_the_async_twin_judges_like_the_sync_one(gms: Gms) -> None:
    gms.settings(partial_write="hold")
    h, job = submit(gms, compression="zip")

    async def look(times: int) -> list[JobStatus]:
        return [await h.aget_job_status(job) for _ in range(times)]

    assert [s.outcome for s in asyncio.run(look(2))] == [JobOutcome.RUNNING, JobOutcome.RUNNING]
    gms.finish_writes()
    assert [s.outcome for s in asyncio.run(look(2))] == [JobOutcome.RUNNING, JobOutcome.SUCCEEDED]


def test_status_202_is_accepted_like_200(gms: Gms) -> None:
    gms.settings(files_status=202)
    _, job = submit(gms)
    assert len(job["extra"]["files"]) == 3


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"files": []}, "JSON array of file paths"),
        (
            ["/var/gms/export/someone_else_20261103_000000_000_services.json"],
            "does not start with the file_prefix",
        ),
    ],
)
def test_an_answer_that_is_not_ours_is_refused(gms: Gms, body: Any, fragment: str) -> None:
    requests.post(
        f"{gms.root}/_sandbox/faults",
        json={"path": "/maintenance/services/files$", "kind": "status", "status": 200, "body": body},
        timeout=10,
    ).raise_for_status()
    with pytest.raises(VendorResponseError, match=fragment):
        submit(gms)


def test_sftp_location_is_a_clear_not_supported_error(gms: Gms, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = connection(gms.root, gms.export_dir, files_base_url="sftp://gms-host/var/gms/export")
    monkeypatch.setenv("AIRFLOW_CONN_GMS_SFTP", json.dumps(conn))
    with pytest.raises(ValueError, match=r"sftp:// is not supported yet"):
        GenesysContextServicesHook("gms_sftp").submit_job("services", START, END, {})
    assert last_export(gms) is None  # nothing was posted


def test_test_connection_through_get_hook(gms: Gms, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.definitions.connection import Connection

    raw = json.loads(__import__("os").environ["AIRFLOW_CONN_GMS_TEST"])
    built = Connection(conn_id=gms.conn_id, **raw).get_hook()
    assert isinstance(built, GenesysContextServicesHook)
    ok, message = built.test_connection()
    assert ok, message
    assert gms.export_dir.as_uri() in message
    conn = connection(gms.root, gms.export_dir)
    conn["password"] = "wrong-password"
    monkeypatch.setenv("AIRFLOW_CONN_GMS_BAD", json.dumps(conn))
    ok, message = GenesysContextServicesHook("gms_bad").test_connection()
    assert not ok and "401" in message and "wrong-password" not in message


def test_job_reference_holds_no_secret(gms: Gms) -> None:
    _, job = submit(gms)
    text = json.dumps(job)
    assert AUTH[1] not in text and "Authorization" not in text
    assert job["job_id"].startswith("airflow_20261102T140000Z-20261102T150000Z_20261103_000000_")


def test_files_are_collected_from_s3(
    gms: Gms, s3_server: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """GMS's directory synced to object storage: the hook stats and copies through the storage layer."""
    import boto3

    from contact_center_provider.storage.uri import clear_client_cache

    conn = connection(
        gms.root, gms.export_dir, files_base_url=f"s3://{s3_bucket}/gms-export/", files_conn_id="cc_test_s3"
    )
    monkeypatch.setenv("AIRFLOW_CONN_GMS_S3", json.dumps(conn))
    clear_client_cache()
    h = GenesysContextServicesHook("gms_s3")
    job = h.submit_job("services", START, END, {"compression": "zip"})
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    first = job["extra"]["files"][0]["name"]
    s3.put_object(Bucket=s3_bucket, Key=f"gms-export/{first}", Body=(gms.export_dir / first).read_bytes())
    status = h.get_job_status(job)
    assert status.outcome is JobOutcome.RUNNING and status.details["files"][first] == "writing"
    for entry in job["extra"]["files"][1:]:
        s3.put_object(
            Bucket=s3_bucket,
            Key=f"gms-export/{entry['name']}",
            Body=(gms.export_dir / entry["name"]).read_bytes(),
        )
    assert outcomes(h, job, 2) == [JobOutcome.RUNNING, JobOutcome.SUCCEEDED]
    landing = RawLanding(str(tmp_path / "raw"))
    facts = h.land_result(job, status, landing)
    assert [Path(f["uri"]).read_bytes() for f in facts["files"]] == [
        (gms.export_dir / f["name"]).read_bytes() for f in job["extra"]["files"]
    ]


def test_a_bare_job_id_cannot_be_followed(gms: Gms) -> None:
    """GMS has no job to look up: only the reference submit_job returned lists the files."""
    bare: JobRef = {"vendor": "genesys_context_services", "kind": "services", "job_id": "airflow_x"}
    with pytest.raises(ValueError, match="cannot be attached by job_id alone"):
        hook(gms).get_job_status(bare)
