"""NiceCxoneHook on the wire: the real hook against the sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from contact_center_provider.exceptions import ExportJobFailed
from contact_center_provider.hooks import nice_cxone
from contact_center_provider.hooks.nice_cxone import NICE_RETRY_POLICY, NiceConnection, NiceCxoneHook
from contact_center_provider.http import RetryPolicy
from contact_center_provider.http.errors import AmbiguousSubmissionError, VendorNotFoundError
from contact_center_provider.jobs import JobOutcome, JobRef, JobStatus
from contact_center_provider.sandbox.nice_cxone import ACCESS_KEY_SECRET, CLIENT_SECRET
from contact_center_provider.sandbox.nice_cxone.auth import tenant_for_access_key
from contact_center_provider.sandbox.nice_cxone.data import QM_WORKFLOWS_V1, render_csv

KEY = "sandbox-access-key"
TENANT = tenant_for_access_key(KEY).id
START = datetime(2024, 5, 1, tzinfo=UTC)
END = datetime(2024, 5, 3, tzinfo=UTC)
SPACING = 0.2
#: The gate stamps a call when it lets it go; the sandbox when it arrives. The margin absorbs
#: the difference (a cold connection, a busy machine), as the 1 s default does in production.
MARGIN = 0.3
#: Short waits between attempts; the gate still spaces every attempt.
FAST = RetryPolicy(
    max_attempts=20,
    initial_backoff=0.01,
    max_backoff=0.05,
    jitter=0.0,
    deadline=60.0,
    retry_statuses=NICE_RETRY_POLICY.retry_statuses,
    resend_statuses=NICE_RETRY_POLICY.resend_statuses,
)


class MemoryLanding:
    """A LandingSink keeping objects in memory."""

    def __init__(self) -> None:
        self.objects: list[bytes] = []
        self.records: list[int | None] = []

    def write_page(self, raw: bytes, records: int | None, *, extension: str | None = None) -> str:
        self.objects.append(raw)
        return f"mem://{len(self.objects)}"

    def write_stream(
        self,
        chunks: Iterable[bytes],
        records: int | Callable[[], int | None] | None = None,
        *,
        extension: str | None = None,
    ) -> str:
        assert extension == ".csv"
        data = b"".join(chunks)
        self.records.append(records() if callable(records) else records)
        return self.write_page(data, None)


@pytest.fixture(autouse=True)
def fresh_discovery() -> Iterator[None]:
    nice_cxone._TOKEN_ENDPOINTS.clear()
    nice_cxone._API_BASES.clear()
    yield


def sandbox_settings(sandbox: Any, **values: Any) -> None:
    response = requests.patch(f"{sandbox.url}/_sandbox/vendors/nice_cxone/settings", json=values, timeout=5)
    assert response.status_code == 200, response.text


def connect(
    monkeypatch: pytest.MonkeyPatch,
    sandbox: Any,
    tmp_path: Path,
    name: str = "nice_test",
    password: str = ACCESS_KEY_SECRET,
    **extra: Any,
) -> str:
    base = f"{sandbox.url}/nice-cxone"
    values: dict[str, Any] = {
        "api_base_url": base,
        "auth_base_url": base,
        "call_spacing_seconds": SPACING,
        "call_spacing_margin_seconds": MARGIN,
        "limits_store": str(tmp_path / "limits"),
    }
    values.update(extra)
    conn = {"conn_type": "nice_cxone", "login": KEY, "password": password, "extra": values}
    monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}", json.dumps(conn))
    return name


@pytest.fixture
def nice(sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A connection to the reset sandbox; the sandbox enforces the spacing on every call."""
    sandbox_settings(
        sandbox, call_spacing_seconds=SPACING, spacing_applies_to_auth=True, job_polls_to_complete=1
    )
    return connect(monkeypatch, sandbox, tmp_path)


def tenant_calls(sandbox: Any) -> dict[str, Any]:
    calls = requests.post(f"{sandbox.url}/_sandbox/vendors/nice_cxone/calls", timeout=5).json()
    tenant: dict[str, Any] = calls["tenants"][TENANT]
    return tenant


def jobs(sandbox: Any) -> dict[str, Any]:
    counters: dict[str, Any] = requests.get(f"{sandbox.url}/_sandbox/counters", timeout=5).json()["jobs"][
        "nice_cxone"
    ]
    return counters


def wait_done(hook: NiceCxoneHook, ref: JobRef) -> JobStatus:
    for _ in range(10):
        status = hook.get_job_status(ref)
        if status.outcome.terminal:
            return status
    raise AssertionError("job never finished")


def assert_spaced(sandbox: Any, minimum: float = SPACING) -> dict[str, Any]:
    tenant = tenant_calls(sandbox)
    assert tenant["throttled"] == 0, tenant["calls"]
    assert tenant["min_gap"] >= minimum, tenant["calls"]
    return tenant


def expected_csv(first: date, days: int) -> bytes:
    return render_csv(
        42,
        "qm-workflows",
        "1",
        [first + timedelta(days=i) for i in range(days)],
        per_day=40,
        tenant="Sandbox Tenant",
    )


def test_access_key_export_end_to_end_with_every_call_spaced(sandbox: Any, nice: str) -> None:
    hook = NiceCxoneHook(nice, retry_policy=FAST)
    ref = hook.submit_job("qm-workflows", START, END, {})
    assert ref["extra"] == {"version": "1", "start_date": "2024-05-01", "end_date": "2024-05-03"}
    status = wait_done(hook, ref)
    assert status.outcome is JobOutcome.SUCCEEDED and status.result is not None and status.result.url
    landing = MemoryLanding()
    facts = hook.land_result(ref, JobStatus(ref["job_id"], JobOutcome.SUCCEEDED), landing)
    assert landing.objects == [expected_csv(date(2024, 5, 1), 2)]
    rows = len(list(csv.reader(io.StringIO(landing.objects[0].decode(), newline="")))) - 1
    assert landing.records == [rows]
    assert facts == {
        "entity": "qm-workflows",
        "version": "1",
        "columns": list(QM_WORKFLOWS_V1),
        "rows": rows,
        "url_refreshes": 0,
    }
    tenant = assert_spaced(sandbox)
    paths = [c["path"].removeprefix("/nice-cxone") for c in tenant["calls"]]
    assert paths.count("/authentication/v1/token/access-key") == 1  # one token, cached
    assert paths[:3] == [
        "/authentication/v1/token/access-key",
        "/data-extraction/v1/jobs",
        "/data-extraction/v1/jobs",
    ]
    assert jobs(sandbox)["items"][ref["job_id"]]["downloads"] == 1


def test_oauth_generation_discovers_token_endpoint_and_api_host(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sandbox_settings(
        sandbox, call_spacing_seconds=SPACING, spacing_applies_to_auth=True, job_polls_to_complete=0
    )
    name = connect(
        monkeypatch,
        sandbox,
        tmp_path,
        api_base_url=None,
        client_id="sandbox-client",
        client_secret=CLIENT_SECRET,
    )
    hook = NiceCxoneHook(name, retry_policy=FAST, find_orphans=False)
    assert hook.test_connection()[0]
    ref = hook.submit_job("qm-workflows", START, END, {"version": "3"})
    assert wait_done(hook, ref).outcome is JobOutcome.SUCCEEDED
    assert hook.tenant.tenant_id == TENANT
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json()["requests"]
    paths = [r["path"].removeprefix("/nice-cxone") for r in log]
    assert paths[:4] == [
        "/.well-known/openid-configuration",
        "/auth/token",
        "/.well-known/cxone-configuration",
        "/data-extraction/v1/jobs",
    ]
    assert log[2]["query"] == {"tenantId": TENANT}
    assert_spaced(sandbox)


def test_token_is_fetched_again_after_a_401(sandbox: Any, nice: str) -> None:
    hook = NiceCxoneHook(nice, retry_policy=FAST, find_orphans=False)
    hook.list_jobs()
    requests.post(f"{sandbox.url}/_sandbox/vendors/nice_cxone/expire-tokens", timeout=5).raise_for_status()
    ref = hook.submit_job("qm-workflows", START, END, {})
    assert ref["job_id"] and jobs(sandbox)["created"] == 1
    # The refused submit names no tenant, so only the sandbox's request log shows it.
    paths = [c["path"].rsplit("/", 1)[-1] for c in assert_spaced(sandbox)["calls"]]
    assert paths == ["access-key", "jobs", "access-key", "jobs"]
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json()["requests"]
    assert [(r["method"], r["status"]) for r in log if r["path"].endswith("/jobs")] == [
        ("GET", 200),
        ("POST", 401),
        ("POST", 202),
    ]


def test_expired_url_is_refreshed_once(sandbox: Any, nice: str) -> None:
    hook = NiceCxoneHook(nice, retry_policy=FAST, find_orphans=False)
    ref = hook.submit_job("qm-workflows", START, END, {})
    wait_done(hook, ref)
    sandbox_settings(sandbox, issue_expired_urls=1)
    landing = MemoryLanding()
    facts = hook.land_result(ref, JobStatus(ref["job_id"], JobOutcome.SUCCEEDED), landing)
    assert facts["url_refreshes"] == 1
    assert landing.objects == [expected_csv(date(2024, 5, 1), 2)]
    item = jobs(sandbox)["items"][ref["job_id"]]
    assert item["downloads"] == 1
    s3 = [
        r
        for r in requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json()["requests"]
        if "/s3/" in r["path"]
    ]
    assert [r["status"] for r in s3] == [403, 200]
    assert all(r["query"]["X-Amz-Signature"] == "***" for r in s3)  # the sandbox log masks it too
    assert_spaced(sandbox)


def test_url_refreshes_are_bounded_and_never_show_the_url(
    sandbox: Any, nice: str, caplog: pytest.LogCaptureFixture
) -> None:
    hook = NiceCxoneHook(nice, retry_policy=FAST, find_orphans=False, url_refreshes=2)
    ref = hook.submit_job("qm-workflows", START, END, {})
    status = wait_done(hook, ref)
    assert status.result is not None and status.result.url
    signature = status.result.url.split("X-Amz-Signature=")[1]
    sandbox_settings(sandbox, issue_expired_urls=10)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExportJobFailed, match="failed 3 times") as caught:
        hook.land_result(ref, status, MemoryLanding())
    assert "403 AccessDenied: Request has expired" in str(caught.value)
    for text in (str(caught.value), caplog.text):
        assert "X-Amz-Signature" not in text and signature not in text and ACCESS_KEY_SECRET not in text


@pytest.mark.parametrize("outcome", ["FAILED", "CANCELLED", "EXPIRED"])
def test_each_terminal_state(sandbox: Any, nice: str, outcome: str) -> None:
    sandbox_settings(sandbox, job_outcome=outcome)
    hook = NiceCxoneHook(nice, retry_policy=FAST, find_orphans=False)
    ref = hook.submit_job("qm-workflows", START, END, {})
    status = wait_done(hook, ref)
    assert status.outcome is JobOutcome(outcome) and status.vendor_state == outcome and status.result is None
    if outcome == "FAILED":
        assert status.message and "Data extraction failed" in status.message
    with pytest.raises(ExportJobFailed, match=f"is {outcome} when its result was to be downloaded"):
        hook.land_result(ref, status, MemoryLanding())


def test_async_status_twin(sandbox: Any, nice: str) -> None:
    hook = NiceCxoneHook(nice, retry_policy=FAST, find_orphans=False)
    ref = hook.submit_job("qm-workflows", START, END, {})

    async def poll() -> list[JobOutcome]:
        try:
            return [(await hook.aget_job_status(ref)).outcome for _ in range(2)]
        finally:
            await hook.aclose()

    assert asyncio.run(poll()) == [JobOutcome.RUNNING, JobOutcome.SUCCEEDED]
    assert_spaced(sandbox)


@pytest.mark.parametrize("throttle_status", [403, 429])
def test_throttling_answers_are_waited_out_never_failed(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, throttle_status: int
) -> None:
    # The vendor spaces calls 1 s apart, this connection only 0.1 s: as if another caller used the tenant.
    sandbox_settings(
        sandbox, call_spacing_seconds=1.0, throttle_status=throttle_status, throttled_calls_count=False
    )
    name = connect(monkeypatch, sandbox, tmp_path, call_spacing_seconds=0.1, call_spacing_margin_seconds=0)
    hook = NiceCxoneHook(name, retry_policy=FAST, find_orphans=False)
    hook.list_jobs()
    ref = hook.submit_job("qm-workflows", START, END, {})  # a creating request, resent when throttled
    assert hook.get_job_status(ref).outcome is JobOutcome.RUNNING
    tenant = tenant_calls(sandbox)
    assert tenant["throttled"] >= 2
    assert jobs(sandbox)["created"] == 1
    posts = [c for c in tenant["calls"] if c["method"] == "POST" and c["path"].endswith("/jobs")]
    assert posts[0]["throttled"] and not posts[-1]["throttled"]


def test_spacing_holds_across_concurrent_exports(sandbox: Any, nice: str) -> None:
    errors: list[BaseException] = []
    landings = [MemoryLanding() for _ in range(3)]

    def export(index: int) -> None:
        hook = NiceCxoneHook(nice, retry_policy=FAST, find_orphans=False)
        try:
            first = START + timedelta(days=index)
            ref = hook.submit_job("qm-workflows", first, first + timedelta(days=1), {})
            wait_done(hook, ref)
            hook.land_result(ref, JobStatus(ref["job_id"], JobOutcome.SUCCEEDED), landings[index])
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            hook.close()

    threads = [threading.Thread(target=export, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert [lg.objects for lg in landings] == [[expected_csv(date(2024, 5, 1 + i), 1)] for i in range(3)]
    tenant = assert_spaced(sandbox)
    assert len(tenant["calls"]) >= 3 * 4


def test_ambiguous_submit_finds_its_orphan(sandbox: Any, nice: str) -> None:
    fault = {"method": "POST", "path": "/data-extraction/v1/jobs$", "kind": "reset", "phase": "after"}
    requests.post(f"{sandbox.url}/_sandbox/faults", json=fault, timeout=5).raise_for_status()
    hook = NiceCxoneHook(nice, retry_policy=FAST)
    with pytest.raises(AmbiguousSubmissionError):
        hook.submit_job("qm-workflows", START, END, {})
    created = list(jobs(sandbox)["items"])
    assert len(created) == 1
    found = hook.find_job("qm-workflows", START, END, {})
    assert found is not None and found["job_id"] == created[0]
    assert found["extra"]["start_date"] == "2024-05-01"
    # another process cannot tell this job from any other: it attributes none
    assert NiceCxoneHook(nice, retry_policy=FAST).find_job("qm-workflows", START, END, {}) is None
    assert jobs(sandbox)["created"] == 1


def test_requests_the_vendor_refuses(sandbox: Any, nice: str) -> None:
    hook = NiceCxoneHook(nice, retry_policy=FAST, find_orphans=False)
    with pytest.raises(VendorNotFoundError, match="Missing entity or invalid version"):
        hook.submit_job("qm-workflows", START, END, {"version": "2"})
    with pytest.raises(ValueError, match="name its version"):
        hook.submit_job("wfm-payroll", START, END, {})
    with pytest.raises(ValueError, match="does not start and end at UTC midnight"):
        hook.submit_job("qm-workflows", START + timedelta(hours=1), END, {})
    with pytest.raises(ValueError, match="more than 14 per request"):
        hook.submit_job("qm-workflows", START, START + timedelta(days=15), {})
    widened = hook.submit_job("qm-workflows", START + timedelta(hours=1), END, {"widen_to_days": True})
    assert widened["extra"]["start_date"] == "2024-05-01"
    assert jobs(sandbox)["created"] == 1


def test_permission_refusal_fails_after_spaced_retries(sandbox: Any, nice: str) -> None:
    sandbox_settings(sandbox, forbidden_entities=["qm-workflows"])
    policy = RetryPolicy(**{**FAST.to_dict(), "max_attempts": 3})  # type: ignore[arg-type]
    hook = NiceCxoneHook(nice, retry_policy=policy, find_orphans=False)
    with pytest.raises(Exception, match="permission") as caught:
        hook.submit_job("qm-workflows", START, END, {})
    assert "after 3 attempts" in str(caught.value)
    assert jobs(sandbox)["created"] == 0
    assert_spaced(sandbox)


def test_sync_extraction_is_supported(sandbox: Any, nice: str) -> None:
    hook = NiceCxoneHook(nice, retry_policy=FAST)
    landing = MemoryLanding()
    facts = hook.extract_sync("qm-workflows", START, END, {}, landing)
    assert facts["mode"] == "sync" and landing.objects == [expected_csv(date(2024, 5, 1), 2)]


def test_connection_test_and_secrets(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow.sdk.definitions.connection import Connection

    sandbox_settings(sandbox, call_spacing_seconds=SPACING)
    good = connect(monkeypatch, sandbox, tmp_path)
    raw = json.loads(os.environ[f"AIRFLOW_CONN_{good.upper()}"])
    hook = Connection(conn_id=good, **raw).get_hook()
    assert isinstance(hook, NiceCxoneHook) and hook.conn_id == good
    ok, message = hook.test_connection()
    assert ok and TENANT in message
    bad = connect(monkeypatch, sandbox, tmp_path, name="nice_bad", password="wrong-secret")
    caplog.set_level(logging.DEBUG)
    ok, message = NiceCxoneHook(bad, retry_policy=FAST).test_connection()
    assert not ok and "401" in message and "wrong-secret" not in message
    assert "wrong-secret" not in caplog.text


def test_connection_fields_are_checked() -> None:
    def conn(login: str | None = KEY, password: str | None = "s") -> Any:
        return SimpleNamespace(conn_id="c", login=login, password=password)

    parsed = NiceConnection.parse(conn(), {"region": "EU1"})
    assert parsed.api_base_url == "https://eu1.niceincontact.com"
    assert parsed.auth_base_url == "https://eu1.niceincontact.com" and parsed.auth_mode == "access_key"
    assert parsed.tenant_key == KEY and parsed.call_spacing == 30.0
    assert "s" not in repr(parsed).split("access_key_id")[0]
    oauth = NiceConnection.parse(conn(), {"client_id": "a", "client_secret": "b", "tenant": "acme"})
    assert oauth.auth_mode == "oauth" and oauth.api_base_url is None  # discovered
    assert oauth.auth_base_url == "https://cxone.niceincontact.com" and oauth.tenant_key == "acme"
    for extras, words in [
        ({"region": "us9"}, "unknown region 'us9'"),
        ({"auth_mode": "oauth"}, "client_id and client_secret"),
        ({"auth_mode": "saml"}, "auth_mode must be"),
        ({"call_spacing_seconds": 0}, "must be > 0"),
    ]:
        with pytest.raises(ValueError, match=words):
            NiceConnection.parse(conn(), extras)
    with pytest.raises(ValueError, match="access key id"):
        NiceConnection.parse(conn(password=None), {})
