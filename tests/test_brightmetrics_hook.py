"""BrightmetricsHook against the sandbox over real HTTP: auth, discovery, the asynchronous export
driven by the shared poll trigger, landing, and the 150-requests-a-day budget.

Requests are counted by the sandbox (``/_sandbox/requests``), never by the code under test.
Long exports run on the sandbox's accelerated clock (``time_scale``), with the poll schedule
scaled by the same factor: no test sleeps through a real backoff.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from contact_center_provider.hooks.brightmetrics import (
    DOCUMENTED_RETRY_AFTER,
    BrightmetricsHook,
)
from contact_center_provider.http.limits import FileLimitStore, RequestBudget, RequestBudgetExhausted
from contact_center_provider.jobs import JobOutcome, JobRef, JobResult, JobStatus
from contact_center_provider.sandbox.brightmetrics import VENDOR
from contact_center_provider.storage.raw_zone import RawLanding
from contact_center_provider.transforms.odata_filters import FilterRule, FilterRuleError
from contact_center_provider.triggers.events import EventKind, JobEvent
from contact_center_provider.triggers.job_poll import JobPollTrigger
from contact_center_provider.triggers.polling import PollSchedule

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
HASH = "XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg="
API_KEY = "4df21f67c293413fa988d8f1535cd12f"
#: Sandbox seconds per real second: a 30-minute export runs for two real seconds.
SCALE = 900.0


@dataclass
class Bm:
    url: str
    store: str

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def settings(self, **values: Any) -> None:
        self.admin("PATCH", "vendors/brightmetrics/settings", values)

    def requests(self) -> list[dict[str, Any]]:
        log = self.admin("GET", "requests?path=^/brightmetrics/")["requests"]
        return list(log)

    def hook(self, conn_id: str = "bm", **kwargs: Any) -> BrightmetricsHook:
        return BrightmetricsHook(conn_id, limits_store=self.store, **kwargs)

    def local_budget(self, limit: int = 150) -> RequestBudget:
        """The budget the hook counts in: the sandbox connection's account."""
        account = json.loads(conn_json(self.url))["extra"]["account"]
        store = FileLimitStore(self.store.removeprefix("file://"))
        return RequestBudget(store, f"brightmetrics:{account}", limit, 86400)


def conn_json(root: str, **changes: Any) -> str:
    conn = VENDOR.airflow_connection(root)  # type: ignore[misc]
    extra = {**conn["extra"], **changes.pop("extra", {})}
    return json.dumps({**conn, **changes, "extra": extra})


@pytest.fixture
def bm(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bm:
    monkeypatch.setenv("AIRFLOW_CONN_BM", conn_json(sandbox.url))
    return Bm(sandbox.url, (tmp_path / "limits").as_uri())


def schedule(timeout: float = 60.0) -> dict[str, Any]:
    """The export operator's schedule (first look after Retry-After, then 10 s doubling up to 10 minutes),
    on the sandbox's clock."""
    return PollSchedule.starting_now(
        timeout,
        interval=2 * DOCUMENTED_RETRY_AFTER / SCALE,
        max_interval=600 / SCALE,
        backoff=2.0,
        first_delay=DOCUMENTED_RETRY_AFTER / SCALE,
    ).to_dict()


def wait(bm: Bm, job: JobRef, stage: Path, **hook_params: Any) -> JobEvent:
    trigger = JobPollTrigger(
        hook_class="contact_center_provider.hooks.brightmetrics.BrightmetricsHook",
        conn_id="bm",
        job=job,
        schedule=schedule(),
        hook_params={"limits_store": bm.store, **hook_params},
        stage_uri=stage.as_uri(),
    )
    return trigger.poll_in_worker()


def land(
    hook: BrightmetricsHook, job: JobRef, event: JobEvent, tmp_path: Path
) -> tuple[RawLanding, dict[str, Any]]:
    landing = RawLanding((tmp_path / "raw").as_uri())
    status = JobStatus(
        job["job_id"],
        JobOutcome.SUCCEEDED,
        details={"polls": event.polls},
        result=JobResult(staged_uri=event.staged_uri),
    )
    return landing, hook.land_result(job, status, landing)


# -- connection and discovery ----------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {},  # the sandbox connection: email + base64 SHA-256 hash
        {"password": "*passpassword"},
        {"login": "apikey", "password": API_KEY},
        {"login": None, "password": None, "extra": {"api_key": API_KEY}},
    ],
    ids=["hash", "clear-prefixed", "basic-apikey", "bearer-api-key"],
)
def test_every_auth_form_connects_through_get_hook(
    bm: Bm, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any]
) -> None:
    from airflow.sdk.definitions.connection import Connection

    changes = {**changes, "extra": {"account": "acme", **changes.get("extra", {})}}
    raw = json.loads(conn_json(bm.url, **changes))
    monkeypatch.setenv("AIRFLOW_CONN_BM_AUTH", json.dumps(raw))
    built = Connection(conn_id="bm_auth", **raw).get_hook(hook_params={"limits_store": bm.store})  # type: ignore[no-untyped-call]
    assert isinstance(built, BrightmetricsHook)
    ok, message = built.test_connection()
    assert ok, message
    assert "5 saved reports" in message and "149 of 150 requests left" in message
    assert [r["path"] for r in bm.requests()] == ["/brightmetrics/OData.ashx"]


def test_a_clear_password_without_prefix_is_refused_before_any_request(
    bm: Bm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BM_CLEAR", conn_json(bm.url, password="password"))
    ok, message = bm.hook("bm_clear").test_connection()
    assert not ok and "brightmetrics_password" in message and "*pass" in message
    assert "'password'" not in message
    assert bm.requests() == []


def test_wrong_credentials_fail_without_showing_them(bm: Bm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BM_WRONG", conn_json(bm.url, password="*passnot-it"))
    ok, message = bm.hook("bm_wrong").test_connection()
    assert not ok and "401" in message and "not-it" not in message


def test_discovery_lists_reports_and_reads_filters(bm: Bm) -> None:
    hook = bm.hook()
    reports = {r.id: r.title for r in hook.list_reports()}
    assert reports[AGENT_DETAIL] == "Agent Detail"
    metadata = hook.get_report_metadata(AGENT_DETAIL.replace("-", "").upper())
    assert metadata.filters["Call_Date_Time"] == "Edm.DateTimeOffset"
    assert metadata.filters["Time_Talk_Total"] == "Edm.Double"


def test_a_filter_the_report_does_not_have_fails_before_the_export_is_requested(bm: Bm) -> None:
    with pytest.raises(FilterRuleError) as caught:
        bm.hook().submit_job(AGENT_DETAIL, START, END, {"filters": {"Queue_Name": "Sales"}})
    assert caught.value.rule is FilterRule.UNKNOWN_FILTER and "Media_Type" in str(caught.value)
    assert [r["path"] for r in bm.requests()] == [f"/brightmetrics/OData.ashx/{AGENT_DETAIL}/$metadata"]


# -- the asynchronous export -----------------------------------------------------------------


def test_a_30_minute_export_completes_in_at_most_12_requests(bm: Bm, tmp_path: Path) -> None:
    bm.settings(time_scale=SCALE, job_seconds=1800)
    hook = bm.hook()
    job = hook.submit_job(CALLER_ID, START, END, {"format": "csv"})
    assert job["extra"]["retry_after"] == pytest.approx(DOCUMENTED_RETRY_AFTER / SCALE, abs=1e-3)
    assert "password" not in json.dumps(job).lower() and HASH not in json.dumps(job)
    event = wait(bm, job, tmp_path / "staged.body")
    assert event.kind is EventKind.FINISHED and event.outcome is JobOutcome.SUCCEEDED
    landing, facts = land(hook, job, event, tmp_path)
    sent = bm.requests()
    polls = [r for r in sent if "/status/" in r["path"]]
    assert len(sent) <= 12, [(r["method"], r["path"], r["status"]) for r in sent]
    assert [r["status"] for r in polls][-1] == 200 and len(polls) == event.polls
    assert sum(1 for r in sent if r["path"].endswith(CALLER_ID)) == 1  # the result was never fetched again
    assert facts["requests_spent"] == len(sent) and facts["budget_left"] == 150 - len(sent)
    page = Path(landing.pages[0].removeprefix("file://")).read_bytes()
    assert page == (tmp_path / "staged.body").read_bytes()
    assert page.startswith(b"Call Date/Time,") and landing.records == 48


def test_json_result_follows_next_links_to_the_end(bm: Bm, tmp_path: Path) -> None:
    bm.settings(page_async_results=True, page_span_hours=6, job_seconds=0)
    hook = bm.hook()
    job = hook.submit_job(CALLER_ID, START, END, {"validate_filters": False})
    event = wait(bm, job, tmp_path / "staged.body")
    landing, facts = land(hook, job, event, tmp_path)
    assert facts["result_pages"] == 4 and len(landing.pages) == 4
    assert landing.records == 48
    skip = [r for r in bm.requests() if "$skiptoken" in r["query"]]
    assert len(skip) == 3 and all(r["status"] == 200 for r in skip)


def test_wrapped_results_failed_exports_and_expired_status_urls(bm: Bm, tmp_path: Path) -> None:
    hook = bm.hook()
    bm.settings(job_seconds=0, wrap_result="always")
    job = hook.submit_job(CALLER_ID, START, END, {"format": "csv", "validate_filters": False})
    status = hook.get_job_status(job)
    assert status.outcome is JobOutcome.SUCCEEDED and status.result is not None
    assert status.result.body is not None and status.result.body.startswith(b"Call Date/Time,")
    assert status.result.media_type is not None and status.result.media_type.startswith("text/csv")
    bm.settings(job_outcome="failed", wrap_result="never")
    failed = hook.get_job_status(hook.submit_job(CALLER_ID, START, END, {"validate_filters": False}))
    assert failed.outcome is JobOutcome.FAILED and "could not be generated" in (failed.message or "")
    bm.admin("POST", "vendors/brightmetrics/advance", {"seconds": 3601})
    expired = hook.get_job_status(job)
    assert expired.outcome is JobOutcome.EXPIRED and expired.vendor_state == "410 Gone"


def test_cancel_deletes_the_status_url(bm: Bm) -> None:
    bm.settings(job_seconds=3000)
    hook = bm.hook()
    job = hook.submit_job(CALLER_ID, START, END, {"validate_filters": False})
    hook.cancel_job(job)
    assert bm.admin("GET", "counters")["jobs"]["brightmetrics"]["cancelled"] == 1
    assert hook.get_job_status(job).outcome is JobOutcome.EXPIRED


# -- the request budget ----------------------------------------------------------------------


def test_with_the_budget_nearly_spent_the_export_fails_before_sending(bm: Bm) -> None:
    budget = bm.local_budget()
    for _ in range(148):
        budget.acquire()
    with pytest.raises(RequestBudgetExhausted) as caught:
        bm.hook().submit_job(AGENT_DETAIL, START, END, {})
    message = str(caught.value)
    assert "2 of 150 requests left" in message and "frees at" in message and "needs at least 3" in message
    assert bm.requests() == []


def test_a_poll_the_budget_cannot_pay_for_is_not_sent_and_ends_the_wait(bm: Bm, tmp_path: Path) -> None:
    bm.settings(time_scale=SCALE, job_seconds=1800)
    budget = bm.local_budget()
    for _ in range(145):
        budget.acquire()
    job = bm.hook().submit_job(CALLER_ID, START, END, {"format": "csv"})  # metadata + request: 3 left
    event = wait(bm, job, tmp_path / "staged.body")
    assert event.kind is EventKind.API_ERROR
    assert "0 of 150 requests left" in (event.message or "") and "frees at" in (event.message or "")
    assert len(bm.requests()) == 5 and budget.remaining()[0] == 0


def test_two_exports_at_once_never_overspend_together(bm: Bm, tmp_path: Path) -> None:
    bm.settings(time_scale=SCALE, job_seconds=600)
    budget = bm.local_budget()
    for _ in range(140):
        budget.acquire()
    outcomes: list[Any] = []

    def export(n: int) -> None:
        try:
            hook = bm.hook()
            job = hook.submit_job(CALLER_ID, START, END, {"format": "csv"})
            outcomes.append(wait(bm, job, tmp_path / f"staged-{n}.body"))
        except RequestBudgetExhausted as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=export, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(bm.requests()) <= 10
    assert budget.remaining()[0] >= 0
    failures = [o for o in outcomes if not (isinstance(o, JobEvent) and o.succeeded)]
    assert failures, "ten requests cannot pay for two 10-minute exports"
    assert all("requests left" in str(getattr(f, "message", f)) for f in failures)


def test_the_vendors_own_429_ends_the_wait_with_the_reason(bm: Bm, tmp_path: Path) -> None:
    bm.settings(job_seconds=3000, budget_limit=3)
    job = bm.hook().submit_job(CALLER_ID, START, END, {"format": "csv"})
    bm.admin("POST", "vendors/brightmetrics/spend", {"company": "acme", "requests": 5})
    event = wait(bm, job, tmp_path / "staged.body")
    assert event.kind is EventKind.API_ERROR
    assert "request budget is spent" in (event.message or "") and "My Account" in (event.message or "")
    assert [r["status"] for r in bm.requests()][-1] == 429


def test_secrets_stay_out_of_logs_and_errors(
    bm: Bm, caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_BM_KEY", conn_json(bm.url, login=None, password=None, extra={"api_key": API_KEY})
    )
    caplog.set_level(logging.DEBUG)
    bm.settings(job_seconds=0)
    hook = bm.hook()
    job = hook.submit_job(CALLER_ID, START, END, {"format": "csv"})
    land(hook, job, wait(bm, job, tmp_path / "s.body"), tmp_path)
    bm.settings(budget_limit=1)
    ok, message = bm.hook("bm_key").test_connection()
    text = caplog.text + message
    assert not ok and "429" in message
    for secret in (HASH, API_KEY, "*passpassword"):
        assert secret not in text


def test_password_hash_cli_prints_the_documented_hash() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "contact_center_provider.hooks.brightmetrics_password", "--stdin"],
        input="abcd1234\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "6c7nGrky/ehjM40Ivk3p3+OeoEm9r7NCzmWexUULaa4="  # the document's example
    assert "abcd1234" not in result.stdout + result.stderr


def test_an_export_requested_elsewhere_is_attached_by_its_status_url(bm: Bm, tmp_path: Path) -> None:
    bm.settings(job_seconds=0)
    accepted = requests.get(
        f"{bm.url}/brightmetrics/OData.ashx/{CALLER_ID}?$format=csv",
        auth=("user@example.com", "*passpassword"),
        headers={"Prefer": "respond-async"},
        timeout=10,
    )
    hook = bm.hook()
    job = hook.attach_job(CALLER_ID, accepted.headers["Location"])
    assert job["extra"]["status_url"].startswith("/status/")
    assert hook.attach_job(CALLER_ID, job["job_id"])["job_id"] == job["job_id"]
    landing, facts = land(hook, job, wait(bm, job, tmp_path / "staged.body"), tmp_path)
    assert facts["format"] == "csv" and landing.pages[0].endswith(".csv")
