"""The GMS Context Services sandbox over real HTTP: wire shape, files on disk, filter semantics."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from genesys_context_services_fixtures import AUTH, CLOCK, FROM, STREAM, TO, Gms, connection, gms

from contact_center_provider.sandbox.genesys_context_services import CSV_COLUMNS, VENDOR, default_export_dir
from contact_center_provider.sandbox.genesys_context_services.errors import EXCEPTION_CLASS

__all__ = ["gms"]


def stream(gms: Gms, **params: str) -> list[Any]:
    query = {"time_from": FROM, "time_to": TO, "export_content": "true", **params}
    response = requests.get(f"{gms.url}{STREAM}", params=query, auth=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body


def test_export_answers_the_paths_and_writes_three_files(gms: Gms) -> None:
    response = gms.export(file_prefix="C:/export/cc_")
    assert response.status_code == 200
    paths = response.json()
    assert [p.rsplit("_", 1)[-1] for p in paths] == ["services.csv", "states.csv", "tasks.csv"]
    # The server's own view of the path, as the document shows it: prefix + yyyyMMdd_HHmmss_SSS.
    assert paths[0] == "C:/export/cc_20261103_000000_000_services.csv"
    assert sorted(p.name for p in gms.export_dir.iterdir()) == sorted(p.rsplit("/", 1)[-1] for p in paths)
    first = gms.read(paths[0]).decode("utf-8").splitlines()[0].split(",")
    assert len(first) == len(CSV_COLUMNS["services"]) + 5  # + the attached-data values
    assert first[0].count("-") == 5  # "377-fffa514f-..." like the document's sample rows


def test_the_documents_typo_path_and_status_202_are_served(gms: Gms) -> None:
    gms.settings(files_status=202)
    response = requests.post(
        f"{gms.url}/genesys/1/cs/maintenance/services/file",
        params={"time_from": FROM, "time_to": TO, "file_prefix": "C:/export", "format": "csv"},
        auth=AUTH,
        timeout=30,
    )
    assert response.status_code == 202
    assert len(response.json()) == 3


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"file_prefix": ""}, "'file_prefix' is mandatory"),
        ({"time_from": ""}, "'time_from' is mandatory"),
        ({"time_from": "yesterday"}, "not a valid date/time"),
        ({"format": "xml"}, "'format' must be one of csv, json"),
        ({"compression": "bzip2"}, "'compression' must be one of"),
        ({"filter_state": "closed"}, "'filter_state' must be one of"),
        ({"time_to": "2026-11-02T13:00:00.000Z"}, "'time_to' is before 'time_from'"),
    ],
)
def test_bad_parameters_get_the_context_services_error_body(
    gms: Gms, params: dict[str, str], fragment: str
) -> None:
    response = gms.export(**params)
    assert response.status_code == 400
    body = response.json()
    assert fragment in body["message"] and body["exception"] == EXCEPTION_CLASS
    assert list(gms.export_dir.iterdir()) == []


def test_basic_auth_is_required_and_a_wrong_password_refused(gms: Gms) -> None:
    assert gms.export(auth=None).status_code == 401
    refused = gms.export(auth=("someone", "wrong-password"))
    assert refused.status_code == 401 and refused.json()["exception"] == EXCEPTION_CLASS
    gms.settings(required_username="ops")
    assert gms.export(auth=("other", "x")).status_code == 401
    assert gms.export(auth=("ops", "x")).status_code == 200


@pytest.mark.parametrize(
    ("compression", "style", "suffix"),
    [("gzip", "append", ".csv.gz"), ("zip", "append", ".csv.zip"), ("gzip", "replace", ".gz")],
)
def test_compressed_files_are_real_archives(gms: Gms, compression: str, style: str, suffix: str) -> None:
    gms.settings(compressed_extension=style)
    plain = gms.export(file_prefix="/x/plain_").json()
    packed = gms.export(file_prefix="/x/packed_", compression=compression).json()
    assert all(p.endswith(suffix) for p in packed)
    for plain_path, packed_path in zip(plain, packed, strict=True):
        raw = gms.read(packed_path)
        if compression == "gzip":
            content = gzip.decompress(raw)
        else:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                (member,) = archive.infolist()
                assert member.filename.endswith(".csv")
                content = archive.read(member)
        assert content == gms.read(plain_path)


def test_json_files_carry_attached_data_and_non_ascii(gms: Gms) -> None:
    paths = gms.export(format="json").json()
    services = json.loads(gms.read(paths[0]))
    keys = {k for s in services for k in s} - {"service_id", "service_type", "customer_id", "contact_key"}
    assert {"Résidence", "Catégorie", "Feedback"} <= keys
    assert any(s.get("Résidence") == "東京" for s in services)
    # Raw UTF-8, not \\u escapes: what a Java server writes.
    assert "Résidence".encode() in gms.read(paths[0])
    states = json.loads(gms.read(paths[1]))
    assert {s["service_id"] for s in states} <= {s["service_id"] for s in services}


def test_same_seed_and_interval_give_the_same_bytes(gms: Gms) -> None:
    first = [gms.read(p) for p in gms.export(file_prefix="/x/a_").json()]
    second = [gms.read(p) for p in gms.export(file_prefix="/x/b_").json()]
    assert first == second and len(first[0]) > 1000


def test_unquoted_values_can_shift_csv_columns(gms: Gms) -> None:
    """``csv_quoting=none`` reproduces a server that writes a comma inside a value raw."""
    quoted = gms.read(gms.export(file_prefix="/x/q_").json()[0]).decode()
    gms.settings(csv_quoting="none")
    raw = gms.read(gms.export(file_prefix="/x/r_").json()[0]).decode()
    width = len(CSV_COLUMNS["services"]) + 5
    assert all(len(row.split(",")) >= width for row in raw.splitlines())
    assert any(len(row.split(",")) > width for row in raw.splitlines())
    assert '"Très bien, merci"' in quoted and '"Très bien, merci"' not in raw


def test_filter_state_is_evaluated_at_export_time_not_over_the_range(gms: Gms) -> None:
    everything = {s["service_id"]: s for s in stream(gms)}
    active = {s["service_id"] for s in stream(gms, filter_state="active")}
    inactive = {s["service_id"] for s in stream(gms, filter_state="inactive")}
    assert active and inactive and not active & inactive and active | inactive == set(everything)
    assert all("completed" not in everything[i] for i in active)
    # A service that completed after the range but before "now" is inactive, as the document's
    # matrix says for S1 (started/inactive): its completion lies outside the range.
    started = {s["service_id"] for s in stream(gms, filter_events="started", filter_state="inactive")}
    assert any(everything[i]["completed"]["timestamp"] >= TO.replace(".000", "") for i in started)
    # Re-running an interval later: services that completed since are no longer "active".
    gms.settings(clock="2026-11-02T15:30:00Z")
    soon = {s["service_id"] for s in stream(gms, filter_state="active")}
    gms.settings(clock="2026-11-10T00:00:00Z")
    later = {s["service_id"] for s in stream(gms, filter_state="active")}
    assert later < soon and later == active


def test_filter_events_select_start_and_end_events_in_the_range(gms: Gms) -> None:
    def in_range(event: dict[str, Any] | None) -> bool:
        return event is not None and FROM.replace(".000", "") <= event["timestamp"] < TO.replace(".000", "")

    started = stream(gms, filter_events="started")
    completed = stream(gms, filter_events="completed")
    any_ = {s["service_id"] for s in stream(gms)}
    assert started and completed
    assert all(in_range(s["started"]) for s in started)
    assert all(in_range(s.get("completed")) for s in completed)
    assert {s["service_id"] for s in started} | {s["service_id"] for s in completed} == any_


def test_stream_refuses_filter_state_without_content(gms: Gms) -> None:
    response = requests.get(
        f"{gms.url}{STREAM}", params={"time_from": FROM, "filter_state": "active"}, auth=AUTH, timeout=10
    )
    assert response.status_code == 400 and "export_content" in response.json()["message"]


def test_hold_writes_half_a_file_until_finished(gms: Gms) -> None:
    gms.settings(partial_write="hold")
    paths = gms.export(compression="gzip").json()
    half = gms.read(paths[0])
    with pytest.raises(EOFError):
        gzip.decompress(half)
    assert sorted(gms.finish_writes()["finished"]) == sorted(p.rsplit("/", 1)[-1] for p in paths)
    assert gzip.decompress(gms.read(paths[0])).count(b"\n") > 10


def test_missing_files_are_announced_but_never_written(gms: Gms) -> None:
    gms.settings(missing_files=["tasks"])
    paths = gms.export().json()
    assert len(paths) == 3
    assert not (gms.export_dir / paths[2].rsplit("/", 1)[-1]).exists()
    counters = requests.get(f"{gms.root}/_sandbox/counters", timeout=10).json()["jobs"][
        "genesys_context_services"
    ]
    assert counters["exports"] == 1 and counters["last"]["services"] > 0


def test_unknown_missing_file_type_is_a_settings_error(gms: Gms) -> None:
    response = requests.patch(
        f"{gms.root}/_sandbox/vendors/genesys_context_services/settings",
        json={"missing_files": ["invoices"]},
        timeout=10,
    )
    assert response.status_code == 400 and "invoices" in response.text


def test_vendor_connection_points_at_the_folder_the_sandbox_writes(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without export_dir, the sandbox and its VendorSpec connection agree on one folder."""
    monkeypatch.delenv("CC_SANDBOX_GMS_EXPORT_DIR", raising=False)
    conn = VENDOR.airflow_connection(sandbox.url)  # type: ignore[misc]
    folder = Path(default_export_dir(sandbox.url))
    assert conn["extra"]["files_base_url"] == folder.as_uri()
    requests.patch(
        f"{sandbox.url}/_sandbox/vendors/genesys_context_services/settings", json={"clock": CLOCK}, timeout=10
    ).raise_for_status()
    paths = requests.post(
        f"{conn['host']}/genesys/1/cs/maintenance/services/files",
        params={"time_from": FROM, "time_to": TO, "file_prefix": "/var/gms/export/default_probe_"},
        auth=(conn["login"], conn["password"]),
        timeout=30,
    ).json()
    try:
        assert all((folder / p.rsplit("/", 1)[-1]).is_file() for p in paths)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # outside tmp_path: leave nothing behind
    monkeypatch.setenv("CC_SANDBOX_GMS_EXPORT_DIR", str(tmp_path))
    assert VENDOR.airflow_connection(sandbox.url)["extra"]["files_base_url"] == tmp_path.as_uri()  # type: ignore[misc]
    assert connection(sandbox.url, tmp_path)["conn_type"] == "genesys_context_services"
