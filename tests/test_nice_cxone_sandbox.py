"""The NICE CXone sandbox over real HTTP (and its model and data generator without HTTP)."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from contact_center_provider.sandbox import SandboxServer
from contact_center_provider.sandbox.nice_cxone import NiceCxoneModel, NiceSettings
from contact_center_provider.sandbox.nice_cxone.auth import tenant_for_access_key
from contact_center_provider.sandbox.nice_cxone.data import QM_WORKFLOWS_V1, render_csv
from contact_center_provider.sandbox.nice_cxone.errors import NiceApiError

SEED = 42
KEY, SECRET = "sandbox-access-key", "sandbox-access-secret"
QM = {"entityName": "qm-workflows", "version": "1", "startDate": "2024-05-01", "endDate": "2024-05-03"}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, seed=SEED, vendors=["nice_cxone"]) as running:
        yield running


@pytest.fixture
def nice(server: SandboxServer) -> str:
    requests.post(f"{server.url}/_sandbox/reset", timeout=5).raise_for_status()
    # No spacing unless a test asks for it: these tests are about the other behaviours.
    settings(server, enforce_spacing=False)
    return server.vendor_url("nice_cxone")


def settings(server: SandboxServer, **values: Any) -> None:
    response = requests.patch(f"{server.url}/_sandbox/vendors/nice_cxone/settings", json=values, timeout=5)
    assert response.status_code == 200, response.text


def access_key_token(nice: str, key: str = KEY, secret: str = SECRET) -> dict[str, str]:
    response = requests.post(
        f"{nice}/authentication/v1/token/access-key",
        json={"accessKeyId": key, "accessKeySecret": secret},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return loaded


def submit(nice: str, headers: dict[str, str], body: dict[str, Any] = QM) -> str:
    response = requests.post(f"{nice}/data-extraction/v1/jobs", json=body, headers=headers, timeout=5)
    assert response.status_code == 202, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    job_id = response.json()
    assert isinstance(job_id, str) and response.text == json.dumps(job_id)  # a bare JSON string
    return job_id


def status(nice: str, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    response = requests.get(f"{nice}/data-extraction/v1/jobs/{job_id}", headers=headers, timeout=5)
    assert response.status_code == 202, response.text  # as documented
    body: dict[str, Any] = response.json()["jobStatus"]
    return body


def until_done(nice: str, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    for _ in range(10):
        body = status(nice, headers, job_id)
        if body["status"] != "RUNNING":
            return body
    raise AssertionError("job never finished")


# -- authentication and discovery ------------------------------------------------------------------


def test_access_key_token_and_its_tenant(nice: str) -> None:
    response = requests.post(
        f"{nice}/authentication/v1/token/access-key",
        json={"accessKeyId": KEY, "accessKeySecret": SECRET},
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["refresh_token"]
    assert claims(body["access_token"])["tenantId"] == tenant_for_access_key(KEY).id
    # the form-encoded variant a public connector sends
    form = requests.post(
        f"{nice}/authentication/v1/token/access-key",
        data={"accessKeyId": KEY, "accessKeySecret": SECRET},
        timeout=5,
    )
    assert form.status_code == 200
    refused = requests.post(
        f"{nice}/authentication/v1/token/access-key",
        json={"accessKeyId": KEY, "accessKeySecret": "wrong-secret"},
        timeout=5,
    )
    assert refused.status_code == 401 and refused.json() == {"message": "Unauthorized"}


def test_openid_discovery_password_grant_and_api_discovery(nice: str) -> None:
    config = requests.get(f"{nice}/.well-known/openid-configuration", timeout=5).json()
    assert config["token_endpoint"] == f"{nice}/auth/token"
    assert config["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    grant = {"grant_type": "password", "username": KEY, "password": SECRET}
    response = requests.post(
        config["token_endpoint"], data=grant, auth=("client", "client-secret"), timeout=5
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"access_token", "token_type", "refresh_token", "expires_in", "id_token"} <= set(body)
    tenant = claims(body["id_token"])["tenantId"]
    discovered = requests.get(
        f"{nice}/.well-known/cxone-configuration", params={"tenantId": tenant}, timeout=5
    ).json()
    assert discovered["api_endpoint"] == nice and discovered["area"] == "na1"
    # client credentials may also come in the form
    in_form = requests.post(
        config["token_endpoint"], data={**grant, "client_id": "c", "client_secret": "s"}, timeout=5
    )
    assert in_form.status_code == 200
    bad_client = requests.post(config["token_endpoint"], data=grant, auth=("c", "wrong-secret"), timeout=5)
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    bad_user = requests.post(
        config["token_endpoint"], data={**grant, "password": "wrong-secret"}, auth=("c", "s"), timeout=5
    )
    assert bad_user.status_code == 400 and bad_user.json()["error"] == "invalid_grant"
    unknown = requests.get(f"{nice}/.well-known/cxone-configuration", params={"tenantId": "nope"}, timeout=5)
    assert unknown.status_code == 404


def test_api_requires_a_live_token(server: SandboxServer, nice: str) -> None:
    assert requests.get(f"{nice}/data-extraction/v1/jobs", timeout=5).status_code == 401
    headers = access_key_token(nice)
    assert requests.get(f"{nice}/data-extraction/v1/jobs", headers=headers, timeout=5).status_code == 200
    expired = requests.post(f"{server.url}/_sandbox/vendors/nice_cxone/expire-tokens", timeout=5)
    assert expired.json() == {"expired": 1}
    response = requests.get(f"{nice}/data-extraction/v1/jobs", headers=headers, timeout=5)
    assert response.status_code == 401 and response.json()["message"] == "Unauthorized"


# -- jobs ------------------------------------------------------------------------------------------


def test_job_life_cycle_url_and_download(nice: str) -> None:
    headers = access_key_token(nice)
    job_id = submit(nice, headers)
    assert status(nice, headers, job_id) == {"id": job_id, "status": "RUNNING"}
    listed = requests.get(f"{nice}/data-extraction/V1/jobs", headers=headers, timeout=5)  # the document's V1
    assert listed.status_code == 200 and listed.json() == {"jobs": [{"id": job_id, "status": "RUNNING"}]}
    done = until_done(nice, headers, job_id)
    assert done["status"] == "SUCCEEDED"
    url = done["result"]["url"]
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["30"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    download = requests.get(url, timeout=5)
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == QM_WORKFLOWS_V1 and len(rows) > 1
    # a pre-signed URL carries its own authentication: S3 refuses a second one
    doubled = requests.get(url, headers=headers, timeout=5)
    assert doubled.status_code == 400 and b"<Code>InvalidArgument</Code>" in doubled.content
    tampered = requests.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=5)
    assert tampered.status_code == 403 and b"SignatureDoesNotMatch" in tampered.content
    # every status answer carries a freshly signed URL
    again = status(nice, headers, job_id)["result"]["url"]
    assert again != url


def test_result_url_expires_after_its_lifetime(server: SandboxServer, nice: str) -> None:
    settings(server, issue_expired_urls=1)
    headers = access_key_token(nice)
    job_id = submit(nice, headers)
    stale = until_done(nice, headers, job_id)["result"]["url"]
    expired = requests.get(stale, timeout=5)
    assert expired.status_code == 403
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in expired.content
    assert b"<X-Amz-Expires>30</X-Amz-Expires>" in expired.content
    fresh = status(nice, headers, job_id)["result"]["url"]
    assert requests.get(fresh, timeout=5).status_code == 200


@pytest.mark.parametrize("outcome", ["FAILED", "CANCELLED", "EXPIRED"])
def test_terminal_states(server: SandboxServer, nice: str, outcome: str) -> None:
    settings(server, job_outcome=outcome, job_polls_to_complete=0)
    headers = access_key_token(nice)
    body = status(nice, headers, submit(nice, headers))
    assert body["status"] == outcome
    if outcome == "FAILED":
        assert body["result"] == {"errorMessage": NiceSettings().job_error_message}
    else:
        assert "result" not in body


def test_job_status_code_can_be_200(server: SandboxServer, nice: str) -> None:
    settings(server, job_status_http_status=200)
    headers = access_key_token(nice)
    job_id = submit(nice, headers)
    response = requests.get(f"{nice}/data-extraction/v1/jobs/{job_id}", headers=headers, timeout=5)
    assert response.status_code == 200


def test_sync_extraction_answers_a_url(nice: str) -> None:
    headers = access_key_token(nice)
    response = requests.post(f"{nice}/data-extraction/v1/jobs/sync", json=QM, headers=headers, timeout=5)
    assert response.status_code == 202
    assert requests.get(response.json()["url"], timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("body", "status_code", "words"),
    [
        ({**QM, "startDate": "2024/05/01"}, 400, "not a valid date"),
        ({**QM, "startDate": "2024-05-03", "endDate": "2024-05-01"}, 400, "must be after"),
        ({**QM, "endDate": "2024-05-01"}, 400, "must be after"),
        ({**QM, "endDate": "2024-06-01"}, 400, "may not exceed 15 days"),
        ({**QM, "version": 1}, 400, "version is required"),
        ({k: v for k, v in QM.items() if k != "entityName"}, 400, "entityName is required"),
        ({**QM, "entityName": "qm-questions"}, 404, "Missing entity or invalid version"),
        ({**QM, "version": "2"}, 404, "Missing entity or invalid version"),
    ],
)
def test_bad_requests(nice: str, body: dict[str, Any], status_code: int, words: str) -> None:
    headers = access_key_token(nice)
    response = requests.post(f"{nice}/data-extraction/v1/jobs", json=body, headers=headers, timeout=5)
    assert response.status_code == status_code, response.text
    assert words in response.json()["message"]


def test_permission_unknown_job_and_injected_500(server: SandboxServer, nice: str) -> None:
    settings(server, forbidden_entities=["qm-workflows"])
    headers = access_key_token(nice)
    forbidden = requests.post(f"{nice}/data-extraction/v1/jobs", json=QM, headers=headers, timeout=5)
    assert forbidden.status_code == 403 and "permission" in forbidden.json()["message"]
    missing = requests.get(f"{nice}/data-extraction/v1/jobs/nope", headers=headers, timeout=5)
    assert missing.status_code == 404
    other_tenant = access_key_token(nice, key="someone-else")
    job_id = submit(nice, other_tenant, {**QM, "entityName": "wfm-payroll"})
    assert (
        requests.get(f"{nice}/data-extraction/v1/jobs/{job_id}", headers=headers, timeout=5).status_code
        == 404
    )
    requests.post(
        f"{server.url}/_sandbox/faults", json={"path": "/data-extraction/v1/jobs$", "status": 500}, timeout=5
    ).raise_for_status()
    failed = requests.get(f"{nice}/data-extraction/v1/jobs", headers=headers, timeout=5)
    assert failed.status_code == 500 and failed.json()["error"] == "Internal Server Error"


# -- the call-spacing rule -------------------------------------------------------------------------


@pytest.mark.parametrize("throttle_status", [403, 429])
def test_spacing_rule_refuses_calls_too_close(server: SandboxServer, nice: str, throttle_status: int) -> None:
    # A long spacing so that the second call is certainly too close, whatever the machine's load.
    settings(server, enforce_spacing=True, call_spacing_seconds=600.0, throttle_status=throttle_status)
    headers = access_key_token(nice)  # token calls are outside the rule by default
    first = requests.get(f"{nice}/data-extraction/v1/jobs", headers=headers, timeout=5)
    second = requests.post(f"{nice}/data-extraction/v1/jobs", json=QM, headers=headers, timeout=5)
    assert first.status_code == 200
    assert second.status_code == throttle_status
    assert "once in a 600 second period" in second.json()["message"]
    calls = requests.post(f"{server.url}/_sandbox/vendors/nice_cxone/calls", timeout=5).json()
    tenant = calls["tenants"][tenant_for_access_key(KEY).id]
    assert [c["throttled"] for c in tenant["calls"]] == [False, False, True]
    assert (
        requests.get(f"{server.url}/_sandbox/counters", timeout=5).json()["jobs"]["nice_cxone"]["created"]
        == 0
    )


def test_spacing_is_per_tenant_and_can_cover_token_calls(server: SandboxServer, nice: str) -> None:
    settings(server, enforce_spacing=True, call_spacing_seconds=600.0, spacing_applies_to_auth=True)
    headers = access_key_token(nice)
    assert requests.get(f"{nice}/data-extraction/v1/jobs", headers=headers, timeout=5).status_code == 403
    other = requests.post(
        f"{nice}/authentication/v1/token/access-key",
        json={"accessKeyId": "key-of-another-tenant", "accessKeySecret": "x"},
        timeout=5,
    )
    assert other.status_code == 200


# -- without HTTP: time, and the data --------------------------------------------------------------


@dataclass
class FakeContext:
    seed: int = SEED
    settings: NiceSettings = field(default_factory=NiceSettings)


def test_one_caller_at_a_time_and_result_retention() -> None:
    ctx = FakeContext(settings=NiceSettings(call_spacing_seconds=0.0, job_polls_to_complete=0))
    model = NiceCxoneModel(ctx)
    now = [1000.0]
    model.clock = lambda: now[0]
    tenant = tenant_for_access_key(KEY)
    assert model.tokens.begin_call(tenant.id, "GET", "/jobs", enforce=True)
    with pytest.raises(NiceApiError) as busy:  # a second caller while the first is in flight
        model.tokens.begin_call(tenant.id, "GET", "/jobs", enforce=True)
    assert busy.value.status == 403
    model.tokens.end_call(tenant.id, True)
    model.tokens.begin_call(tenant.id, "GET", "/jobs", enforce=True)
    model.tokens.end_call(tenant.id, True)

    token, _ = model.tokens.issue(tenant, KEY, "issuer")
    job_id = model.submit(token, QM)
    assert model.job_status(token, job_id, "http://x")["jobStatus"]["status"] == "SUCCEEDED"
    now[0] += 86400
    assert model.job_status(token, job_id, "http://x")["jobStatus"] == {"id": job_id, "status": "EXPIRED"}
    assert model.objects == {}


def test_data_is_deterministic_per_seed_and_day_and_splits_cleanly() -> None:
    days = [date(2024, 5, 1) + timedelta(days=i) for i in range(4)]
    whole = render_csv(SEED, "qm-workflows", "1", days, per_day=40, tenant="T")
    assert whole == render_csv(SEED, "qm-workflows", "1", days, per_day=40, tenant="T")
    assert whole != render_csv(SEED + 1, "qm-workflows", "1", days, per_day=40, tenant="T")
    halves = [
        render_csv(SEED, "qm-workflows", "1", part, per_day=40, tenant="T") for part in (days[:2], days[2:])
    ]
    header = whole.split(b"\r\n", 1)[0] + b"\r\n"
    assert whole == halves[0] + halves[1][len(header) :]


def test_qm_workflows_csv_is_realistic_and_hostile() -> None:
    days = [date(2024, 5, 1) + timedelta(days=i) for i in range(14)]
    text = render_csv(SEED, "qm-workflows", "1", days, per_day=40, tenant="T", bom=True).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = [
        dict(zip(QM_WORKFLOWS_V1, r, strict=True))
        for r in list(csv.reader(io.StringIO(text[1:], newline="")))[1:]
    ]
    assert len(rows) > 300
    self_assessments = [r for r in rows if r["Type"] == "Self-Assessment"]
    assert self_assessments and all(r["Auto Acknowledged"] == "" for r in self_assessments)
    assert {r["Auto Acknowledged"] for r in rows if r["Type"] == "Evaluation"} == {"TRUE", "FALSE"}
    comments = [r["User Review Comments"] for r in rows if r["User Review Comments"]]
    assert any("\n" in c and "," in c and '"' in c for c in comments)
    assert any(c[0] in "=+-@" for c in comments)
    assert any(not r["Agent ID"].isascii() or not r["FirstName (Agent)"].isascii() for r in rows)
    assert all(date(2024, 5, 1).isoformat() <= r["Submission Date"][:10] < "2024-05-15" for r in rows)
