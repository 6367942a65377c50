"""The CDDS sandbox on the wire: credentials, history, files, and artifacts that the real tools accept."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import pkcs7

from contact_center_provider.sandbox.genesys_cdds import connection
from contact_center_provider.sandbox.genesys_cdds.keys import derived_key_pair
from contact_center_provider.sandbox.server import SandboxServer
from tests.genesys_cdds_fixtures import OPENSSL, ZIP, needs_openssl, needs_zip, patch_cdds

BASE = "/genesys-cdds"
# A short history keeps these tests fast: runs from 2026-11-01, daily at 00:00 UTC.
FIRST_RUN = "2026-11-01T00:00:00Z"


@pytest.fixture
def cdds(sandbox: Any) -> Any:
    patch_cdds(sandbox, first_run=FIRST_RUN)
    return sandbox


def _token(url: str, **form: str) -> requests.Response:
    body = {
        "grant_type": "password",
        "client_id": "sandbox-client",
        "username": "SANDBOX\\cdds-user",
        "password": "sandbox-password",
        **form,
    }
    return requests.post(
        f"{url}{BASE}/auth/v3/oauth/token",
        headers={"x-api-key": "sandbox-api-key"},
        auth=("sandbox-client", "sandbox-secret"),
        data=body,
        timeout=10,
    )


def _headers(url: str) -> dict[str, str]:
    token = _token(url).json()["access_token"]
    return {"x-api-key": "sandbox-api-key", "Authorization": f"Bearer {token}"}


def _history(url: str, **params: Any) -> dict[str, Any]:
    query = {"orderField": "createdDate", "descAsc": "true", "size": 500, **params}
    response = requests.get(
        f"{url}{BASE}/data-download/v4/export/history", headers=_headers(url), params=query, timeout=30
    )
    response.raise_for_status()
    data: dict[str, Any] = response.json()["data"]
    return data


def _download(url: str, name: str) -> bytes:
    response = requests.get(f"{url}{BASE}/data-download/v3/files/{name}", headers=_headers(url), timeout=30)
    response.raise_for_status()
    return response.content


def _openssl_decrypt(data: bytes, key_pem: str, tmp_path: Path) -> bytes:
    """``openssl smime -decrypt -binary`` with the key on stdin (it never goes to disk)."""
    assert OPENSSL is not None
    source = tmp_path / "part.smime"
    source.write_bytes(data)
    done = subprocess.run(
        [OPENSSL, "smime", "-decrypt", "-binary", "-inkey", "/dev/stdin", "-in", str(source)],
        input=key_pem.encode(),
        capture_output=True,
        check=True,
    )
    return done.stdout


def _run_files(data: dict[str, Any], created: str, job_type: str = "Interaction") -> list[dict[str, Any]]:
    items = [i for i in data["items"] if i["createdDate"] == created and i["jobType"] == job_type]
    return sorted(items, key=lambda i: i["id"])


# -- credentials ----------------------------------------------------------------------------


def test_token_needs_api_key_client_and_user(cdds: Any) -> None:
    url = cdds.url
    no_key = requests.post(f"{url}{BASE}/auth/v3/oauth/token", data={"grant_type": "password"}, timeout=10)
    assert (no_key.status_code, no_key.json()) == (403, {"message": "Forbidden"})
    bad_password = _token(url, password="nope")
    assert bad_password.status_code == 400 and bad_password.json()["error"] == "invalid_grant"
    wrong_grant = _token(url, grant_type="client_credentials")
    assert wrong_grant.status_code == 400 and wrong_grant.json()["error"] == "unsupported_grant_type"
    bare_user = _token(url, username="cdds-user")
    assert bare_user.status_code == 200 and bare_user.json()["token_type"] == "bearer"
    bad_client = requests.post(
        f"{url}{BASE}/auth/v3/oauth/token",
        headers={"x-api-key": "sandbox-api-key"},
        auth=("sandbox-client", "wrong"),
        data={"grant_type": "password", "username": "cdds-user", "password": "sandbox-password"},
        timeout=10,
    )
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"


def test_api_needs_key_and_a_live_token(cdds: Any) -> None:
    url = f"{cdds.url}{BASE}/data-download/v4/export/history"
    assert requests.get(url, timeout=10).status_code == 403
    missing = requests.get(url, headers={"x-api-key": "sandbox-api-key"}, timeout=10)
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_token"
    headers = _headers(cdds.url)
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    patch_cdds(cdds, expire_tokens_now=True)
    expired = requests.get(url, headers=headers, timeout=10)
    assert expired.status_code == 401 and expired.json()["error_description"] == "Access token expired"


# -- history and files ------------------------------------------------------------------------


def test_history_lists_every_part_newest_first(cdds: Any) -> None:
    data = _history(cdds.url)
    items = data["items"]
    assert data["count"] == len(items) and data["size"] == 500
    dates = [i["createdDate"] for i in items]
    assert dates == sorted(dates, reverse=True)
    run = _run_files(data, "2026-11-03T00:00:00.000Z")
    names = [i["fileName"] for i in run]
    export = names[-1].removesuffix(".zip.smime")
    assert len(names) >= 2 and names[0] == f"{export}.z01.smime" and names[-1] == f"{export}.zip.smime"
    assert {i["title"] for i in run} == {"Contact History - Interactions"}
    contacts = _run_files(data, "2026-11-03T00:00:00.000Z", "Contact")
    assert [i["fileName"].endswith(".zip.smime") for i in contacts] == [True]  # no split size: one file
    assert {i["status"] for i in items} == {"COMPLETED"}
    assert all(len(_download(cdds.url, i["fileName"])) == i["fileSize"] for i in run)


def test_history_title_filter_and_size(cdds: Any) -> None:
    data = _history(cdds.url, title="Contacts", size=3)
    assert len(data["items"]) == 3 and data["count"] > 3
    assert {i["jobType"] for i in data["items"]} == {"Contact"}


def test_run_in_progress_has_no_file_name_yet(cdds: Any) -> None:
    patch_cdds(cdds, polls_until_complete=1)
    first = _history(cdds.url, title="Interactions")
    assert {(i["status"], i["fileName"]) for i in first["items"]} == {("IN_PROGRESS", "")}
    second = _history(cdds.url, title="Interactions")
    assert {i["status"] for i in second["items"]} == {"COMPLETED"}


def test_retention_drops_old_files(cdds: Any) -> None:
    name = _run_files(_history(cdds.url), "2026-11-03T00:00:00.000Z")[0]["fileName"]
    patch_cdds(cdds, retention_days=1)
    dates = {i["createdDate"] for i in _history(cdds.url)["items"]}
    assert "2026-11-03T00:00:00.000Z" not in dates and len(dates) <= 2
    gone = requests.get(
        f"{cdds.url}{BASE}/data-download/v3/files/{name}", headers=_headers(cdds.url), timeout=10
    )
    assert gone.status_code == 404 and gone.json()["status"]["code"] == 404


def test_withheld_part_is_neither_listed_nor_served(cdds: Any) -> None:
    patch_cdds(cdds, interaction_split_size_bytes=1024)
    full = [i["fileName"] for i in _run_files(_history(cdds.url), "2026-11-03T00:00:00.000Z")]
    patch_cdds(cdds, fault="withhold_last_part")
    withheld = [i["fileName"] for i in _run_files(_history(cdds.url), "2026-11-03T00:00:00.000Z")]
    assert len(full) >= 3
    missing = full[-2]  # the last numbered part: the names left still look like a complete set
    assert withheld == [name for name in full if name != missing]
    gone = requests.get(
        f"{cdds.url}{BASE}/data-download/v3/files/{missing}", headers=_headers(cdds.url), timeout=10
    )
    assert gone.status_code == 404


# -- the artifacts are real -----------------------------------------------------------------------


def _decrypted_run(
    url: str, tmp_path: Path, created: str, job_type: str = "Interaction"
) -> list[tuple[str, bytes]]:
    key = derived_key_pair().key_pem
    return [
        (i["fileName"].removesuffix(".smime"), _openssl_decrypt(_download(url, i["fileName"]), key, tmp_path))
        for i in _run_files(_history(url), created, job_type)
    ]


def _members_via_info_zip(parts: list[tuple[str, bytes]], tmp_path: Path) -> dict[str, bytes]:
    """Rejoin with Info-ZIP's own ``zip -s 0`` (independent of our joiner) and read the members."""
    assert ZIP is not None
    folder = tmp_path / "parts"
    folder.mkdir(exist_ok=True)
    for name, data in parts:
        (folder / name).write_bytes(data)
    final = next(name for name, _ in parts if name.endswith(".zip"))
    subprocess.run([ZIP, "-q", "-s", "0", final, "--out", "single.zip"], cwd=folder, check=True)
    with zipfile.ZipFile(folder / "single.zip") as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


@needs_openssl
@needs_zip
def test_split_artifacts_decrypt_with_openssl_and_rejoin_with_info_zip(cdds: Any, tmp_path: Path) -> None:
    parts = _decrypted_run(cdds.url, tmp_path, "2026-11-03T00:00:00.000Z")
    assert parts[0][1][:4] == b"PK\x07\x08"  # the spanning signature opens a split set
    members = _members_via_info_zip(parts, tmp_path)
    export = parts[-1][0].removesuffix(".zip")
    interactions = members[f"ContactHistory/Interaction/Interaction-{export.removeprefix('export-')}.json"]
    lines = interactions.decode().splitlines()
    assert len(lines) == 30  # interactions_per_run
    assert all(line.startswith('{"IXNID":"000') for line in lines)


@needs_openssl
def test_des3_artifacts_need_the_openssl_fallback(cdds: Any, tmp_path: Path) -> None:
    patch_cdds(cdds, cipher="des3")
    item = _run_files(_history(cdds.url), "2026-11-03T00:00:00.000Z", "Contact")[0]
    data = _download(cdds.url, item["fileName"])
    pair = derived_key_pair()
    with pytest.raises(UnsupportedAlgorithm):
        pkcs7.pkcs7_decrypt_smime(data, pair.certificate, pair.private_key, [])
    plain = _openssl_decrypt(data, pair.key_pem, tmp_path)
    with zipfile.ZipFile(io.BytesIO(plain)) as archive:
        assert archive.testzip() is None
        assert any(n.endswith(".json") and "Contact-Attribute-" in n for n in archive.namelist())


@needs_openssl
def test_contents_are_deterministic_per_seed_and_interval(cdds: Any, tmp_path: Path) -> None:
    first = _decrypted_run(cdds.url, tmp_path, "2026-11-03T00:00:00.000Z", "Contact")
    requests.post(f"{cdds.url}/_sandbox/reset", timeout=10).raise_for_status()
    patch_cdds(cdds, first_run=FIRST_RUN)
    again = _decrypted_run(cdds.url, tmp_path, "2026-11-03T00:00:00.000Z", "Contact")
    other_day = _decrypted_run(cdds.url, tmp_path, "2026-11-04T00:00:00.000Z", "Contact")
    assert first == again  # same plaintext zips (the S/MIME envelopes differ: fresh content keys)
    assert first[0][1] != other_day[0][1]
    with SandboxServer(host="127.0.0.1", port=0, seed=7, vendors=["genesys_cdds"]) as seven:
        patch_cdds(seven, first_run=FIRST_RUN)
        other_seed = _decrypted_run(seven.url, tmp_path, "2026-11-03T00:00:00.000Z", "Contact")
    assert first[0][0] != other_seed[0][0] and first[0][1] != other_seed[0][1]


def test_sandbox_connection_carries_the_matching_derived_key() -> None:
    conn = connection("http://127.0.0.1:1")
    pair = derived_key_pair()
    assert conn["extra"]["private_key"] == pair.key_pem
    assert conn["extra"]["certificate"] == pair.certificate_pem
    assert conn["extra"]["api_base_url"] == "http://127.0.0.1:1/genesys-cdds"
    assert pair.private_key.public_key().public_numbers() == pair.certificate.public_key().public_numbers()  # type: ignore[union-attr]


def test_settings_reject_an_unaligned_first_run(cdds: Any) -> None:
    response = requests.patch(
        f"{cdds.url}/_sandbox/vendors/genesys_cdds/settings",
        json={"first_run": "2026-11-01T05:00:00Z"},
        timeout=10,
    )
    assert response.status_code == 400 and "first_run" in response.text
