"""GenesysCddsHook against the sandbox: the artifact job, landing, the location mode, secrets."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from contact_center_provider.hooks import genesys_cdds_history as hist
from contact_center_provider.hooks.genesys_cdds import GenesysCddsHook
from contact_center_provider.http.errors import VendorAuthError
from contact_center_provider.http.retry import RetryPolicy
from contact_center_provider.jobs import JobOutcome, UnknownJobStateError
from contact_center_provider.storage.raw_zone import RawLanding
from contact_center_provider.transforms.artifact_errors import MissingPartError
from contact_center_provider.transforms.cdds_artifacts import ArtifactPart, open_export
from contact_center_provider.transforms.genesys_cdds import build_tables
from tests.genesys_cdds_fixtures import cdds_connection_env, patch_cdds

TITLE = "Contact History - Interactions"
START, END = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02)


@pytest.fixture
def conn_id(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    patch_cdds(sandbox, first_run="2026-11-01T00:00:00Z")
    monkeypatch.setenv("AIRFLOW_CONN_CDDS_SANDBOX", cdds_connection_env(sandbox.url))
    return "cdds_sandbox"


@pytest.fixture
def hook(conn_id: str) -> Any:
    made = GenesysCddsHook(conn_id, retry_policy=FAST)
    yield made
    made.close()


def _requests(sandbox: Any, path: str = "/genesys-cdds") -> list[dict[str, Any]]:
    response = requests.get(f"{sandbox.url}/_sandbox/requests", params={"path": path}, timeout=10)
    records: list[dict[str, Any]] = response.json()["requests"]
    return records


def _land(hook: GenesysCddsHook, job: Any, tmp_path: Path) -> tuple[RawLanding, dict[str, Any]]:
    landing = RawLanding(str(tmp_path / "raw"))
    facts = hook.land_result(job, hook.get_job_status(job), landing)
    return landing, facts


def test_test_connection_through_get_hook(conn_id: str, sandbox: Any) -> None:
    from airflow.sdk.definitions.connection import Connection

    raw = json.loads(cdds_connection_env(sandbox.url))
    built = Connection(conn_id=conn_id, **raw).get_hook()
    assert isinstance(built, GenesysCddsHook) and built.conn_id == conn_id
    ok, message = built.test_connection()
    assert ok, message


def test_submit_creates_nothing_at_the_vendor(hook: GenesysCddsHook, sandbox: Any) -> None:
    before = len(_requests(sandbox))
    job = hook.submit_job("interactions", START, END, {"job_title": TITLE})
    assert len(_requests(sandbox)) == before
    assert job["extra"]["window"] == ["2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z"]
    assert hook.find_job("interactions", START, END, {"job_title": TITLE}) == job
    with pytest.raises(ValueError, match="job_title"):
        hook.submit_job("interactions", START, END, {})
    with pytest.raises(ValueError, match="Unknown Genesys CDDS dataset"):
        hook.submit_job("calls", START, END, {"job_title": TITLE})


def test_complete_export_succeeds_and_lands_unchanged(
    hook: GenesysCddsHook, sandbox: Any, tmp_path: Path
) -> None:
    job = hook.submit_job("interactions", START, END, {"job_title": TITLE})
    status = hook.get_job_status(job)
    assert status.outcome is JobOutcome.SUCCEEDED
    files = status.details["files"]
    assert files[0].endswith(".z01.smime") and files[-1].endswith(".zip.smime")
    assert status.details["created"] == "2026-11-03T00:00:00Z"

    landing, facts = _land(hook, job, tmp_path)

    assert [a["file_name"] for a in facts["artifacts"]] == files
    assert facts["export"] == files[-1].removesuffix(".zip.smime")
    assert landing.pages[0].endswith("page-00000.z01.smime") and landing.pages[-1].endswith(".zip.smime")
    served = requests.get(
        f"{sandbox.url}/genesys-cdds/data-download/v3/files/{files[0]}",
        headers={
            "x-api-key": "sandbox-api-key",
            "Authorization": hook.client.auth.auth_headers(hook.client)["Authorization"],
        },  # type: ignore[union-attr]
        timeout=10,
    ).content
    assert Path(landing.pages[0]).read_bytes() == served
    parts = [ArtifactPart(a["file_name"], a["uri"]) for a in facts["artifacts"]]
    opened = open_export(parts, hook.smime_key(), str(tmp_path / "work"))
    tables = build_tables([(m.name, m.path) for m in opened.members], "interactions")
    assert tables.rows["interactions"] == 30


def test_running_until_the_run_has_files(hook: GenesysCddsHook, sandbox: Any) -> None:
    patch_cdds(sandbox, polls_until_complete=1)
    job = hook.submit_job("interactions", START, END, {"job_title": TITLE})
    first = hook.get_job_status(job)
    assert (first.outcome, first.vendor_state) == (JobOutcome.RUNNING, "IN_PROGRESS")
    assert hook.get_job_status(job).outcome is JobOutcome.SUCCEEDED


def test_future_interval_waits_and_a_long_gone_one_expires(hook: GenesysCddsHook) -> None:
    future = hook.submit_job(
        "interactions",
        datetime(2030, 1, 1, tzinfo=UTC),
        datetime(2030, 1, 2, tzinfo=UTC),
        {"job_title": TITLE},
    )
    assert (hook.get_job_status(future).outcome, hook.get_job_status(future).vendor_state) == (
        JobOutcome.RUNNING,
        "NO_EXPORT_YET",
    )
    old = hook.submit_job(
        "interactions",
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2026, 9, 2, tzinfo=UTC),
        {"job_title": TITLE},
    )
    status = hook.get_job_status(old)
    assert status.outcome is JobOutcome.EXPIRED
    assert "CDDS deletes files 30 days after an export" in (status.message or "")


async def test_async_status_matches(conn_id: str) -> None:
    hook = GenesysCddsHook(conn_id, retry_policy=FAST)
    try:
        job = hook.submit_job("contacts", START, END, {"job_title": "Contact History - Contacts"})
        status = await hook.aget_job_status(job)
        assert status.outcome is JobOutcome.SUCCEEDED
        assert [f.endswith(".zip.smime") for f in status.details["files"]] == [True]
    finally:
        await hook.aclose()


def test_history_cut_off_before_the_interval_is_asked_again_wider(conn_id: str, sandbox: Any) -> None:
    hook = GenesysCddsHook(conn_id, retry_policy=FAST, history_size=2)
    job = hook.submit_job("interactions", START, END, {"job_title": TITLE})
    assert hook.get_job_status(job).outcome is JobOutcome.SUCCEEDED
    sizes = [r["query"]["size"] for r in _requests(sandbox, "/genesys-cdds/data-download/v4/export/history")]
    assert sizes[0] == "2" and int(sizes[1]) > 2
    hook.close()


def test_missing_last_part_is_caught_at_rejoin_naming_it(
    hook: GenesysCddsHook, sandbox: Any, tmp_path: Path
) -> None:
    patch_cdds(sandbox, interaction_split_size_bytes=1024, fault="withhold_last_part")
    job = hook.submit_job("interactions", START, END, {"job_title": TITLE})
    status = hook.get_job_status(job)
    assert status.outcome is JobOutcome.SUCCEEDED  # the names left look complete
    _, facts = _land(hook, job, tmp_path)
    parts = [ArtifactPart(a["file_name"], a["uri"]) for a in facts["artifacts"]]
    with pytest.raises(MissingPartError) as caught:
        open_export(parts, hook.smime_key(), str(tmp_path / "work"))
    expected = f"{facts['export']}.z{len(parts):02d}.smime"
    assert caught.value.file == expected


def test_location_mode(hook: GenesysCddsHook, tmp_path: Path) -> None:
    api_job = hook.submit_job("interactions", START, END, {"job_title": TITLE})
    _, facts = _land(hook, api_job, tmp_path)
    drop = tmp_path / "drop" / "2026-11-02"
    drop.mkdir(parents=True)
    for artifact in facts["artifacts"][:-1]:
        shutil.copy(artifact["uri"], drop / artifact["file_name"])
    job = hook.submit_job("interactions", START, END, {"location_uri": drop.as_uri()})
    waiting = hook.get_job_status(job)
    assert waiting.outcome is JobOutcome.RUNNING
    assert waiting.vendor_state == f"PARTS_MISSING ({facts['artifacts'][-1]['file_name']})"
    last = facts["artifacts"][-1]
    shutil.copy(last["uri"], drop / last["file_name"])
    assert hook.get_job_status(job).outcome is JobOutcome.SUCCEEDED
    landing = RawLanding(str(tmp_path / "raw2"))
    landed = hook.land_result(job, hook.get_job_status(job), landing)
    assert landed["artifact_source"] == "location"
    assert [Path(a["uri"]).read_bytes() for a in landed["artifacts"]] == [
        Path(a["uri"]).read_bytes() for a in facts["artifacts"]
    ]
    (drop / "export-other.zip.smime").write_bytes(b"x")
    several = hook.get_job_status(job)
    assert several.outcome is JobOutcome.FAILED and "pass export_id" in (several.message or "")
    chosen = hook.submit_job(
        "interactions", START, END, {"location_uri": drop.as_uri(), "export_id": facts["export"]}
    )
    assert hook.get_job_status(chosen).outcome is JobOutcome.SUCCEEDED


def test_wrong_password_fails_without_showing_secrets(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    patch_cdds(sandbox, first_run="2026-11-01T00:00:00Z")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CDDS_BAD", cdds_connection_env(sandbox.url, client_secret="sandbox-secret")
    )
    env = cdds_connection_env(sandbox.url)
    import json

    conn = json.loads(env)
    conn["password"] = "Pa ss&word=1"
    monkeypatch.setenv("AIRFLOW_CONN_CDDS_BAD", json.dumps(conn))
    hook = GenesysCddsHook("cdds_bad", retry_policy=FAST)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(VendorAuthError) as caught:
        hook.check_connection()
    text = f"{caught.value} {caught.value!r} {caplog.text}"
    assert caught.value.code == "invalid_grant"
    for secret in ("Pa ss&word=1", "Pa+ss%26word%3D1", "sandbox-api-key", "sandbox-secret"):
        assert secret not in text
    assert "sandbox-api-key" not in repr(hook.client.auth)
    hook.close()


def test_check_connection_reports_history_and_key(hook: GenesysCddsHook) -> None:
    text = hook.check_connection()
    assert (
        text.startswith("Connected to Genesys CDDS: ")
        and "decryption key matches certificate O=airflow-provider-contact-center sandbox,CN=CDDS sandbox tenant"
        in text
    )
    assert "'***'" in repr(hook.smime_key())


def test_connection_needs_its_fields(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CDDS_HALF", cdds_connection_env(sandbox.url, api_key="", client_id=""))
    with pytest.raises(ValueError, match="missing api_key, client_id"):
        _ = GenesysCddsHook("cdds_half").client


# -- the pure judgement --------------------------------------------------------------------------


def _item(
    name: str, status: str | None = "COMPLETED", created: str = "2026-11-03T00:00:00Z"
) -> hist.HistoryItem:
    return hist.HistoryItem(1, TITLE, name, 10, hist.parse_instant(created), status)


def test_judge_names_a_gap() -> None:
    items = [_item("export-a.z01.smime"), _item("export-a.z03.smime"), _item("export-a.zip.smime")]
    status = hist.judge("j", items)
    assert (status.outcome, status.vendor_state) == (JobOutcome.RUNNING, "PARTS_MISSING (export-a.z02.smime)")


def test_judge_failed_item_and_unknown_state() -> None:
    assert hist.judge("j", [_item("export-a.zip.smime", "FAILED")]).outcome is JobOutcome.FAILED
    with pytest.raises(UnknownJobStateError, match="'HALF_DONE'"):
        hist.judge("j", [_item("export-a.zip.smime", "HALF_DONE")])


def test_judge_items_without_status_count_by_file_name() -> None:
    assert hist.judge("j", [_item("export-a.zip.smime", None)]).outcome is JobOutcome.SUCCEEDED
    assert hist.judge("j", [_item("", None)]).outcome is JobOutcome.RUNNING


def test_judge_takes_the_newest_export_and_lists_the_others() -> None:
    items = [
        _item("export-old.zip.smime", created="2026-11-03T01:00:00Z"),
        _item("export-new.zip.smime", created="2026-11-03T05:00:00Z"),
    ]
    status = hist.judge("j", items)
    assert status.details["export"] == "export-new" and status.details["other_exports"] == ["export-old"]


def test_select_items_by_title_and_window() -> None:
    window = (hist.parse_instant("2026-11-03T00:00:00Z"), hist.parse_instant("2026-11-04T00:00:00Z"))
    items = [
        _item("a.zip.smime"),
        _item("b.zip.smime", created="2026-11-04T00:00:00Z"),
        hist.HistoryItem(2, "Other job", "c.zip.smime", 1, window[0], "COMPLETED"),
    ]
    assert [i.file_name for i in hist.select_items(items, TITLE, window)] == ["a.zip.smime"]
    assert len(hist.select_items(items, "interactions", window, exact_title=False)) == 1
