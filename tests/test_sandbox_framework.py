"""The sandbox framework over real HTTP: admin API, fault kinds, request log, counters, CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from contact_center_provider.sandbox import SandboxServer, create_app

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "provider"
JOBS = "/api/v2/analytics/conversations/details/jobs"
INTERVAL = "2024-05-01T00:00:00.000Z/2024-05-02T00:00:00.000Z"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, seed=42) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(sandbox: SandboxServer) -> None:
    assert requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5).json() == {"status": "reset"}


@pytest.fixture
def gc(sandbox: SandboxServer) -> str:
    return sandbox.vendor_url("genesys_cloud")


def bearer(gc: str) -> dict[str, str]:
    response = requests.post(
        f"{gc}/login/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("client", "secret"),
        timeout=5,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def add_fault(sandbox: SandboxServer, **rule: object) -> str:
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=5)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_health_and_vendor_map(sandbox: SandboxServer) -> None:
    assert requests.get(f"{sandbox.url}/_sandbox/health", timeout=5).json() == {"status": "ok", "seed": 42}
    vendors = requests.get(f"{sandbox.url}/_sandbox/vendors", timeout=5).json()
    assert vendors["genesys_cloud"] == f"http://127.0.0.1:{sandbox.port}/genesys-cloud"
    assert sandbox.vendor_url("genesys_cloud") == vendors["genesys_cloud"]
    assert sandbox.url == f"http://127.0.0.1:{sandbox.port}" and sandbox.port > 0


def test_unknown_vendor_is_rejected_with_known_names() -> None:
    with pytest.raises(ValueError, match="genesys_cloud"):
        create_app(vendors=["no_such_vendor"])


def test_status_fault_uses_vendor_error_body_and_fires_once(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    fault_id = add_fault(
        sandbox,
        method="GET",
        path=r"/organizations/me$",
        kind="status",
        status=429,
        headers={"Retry-After": "2"},
    )
    first = requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    body = first.json()
    assert body["code"] == "too.many.requests.retry.after"
    assert body["message"] == "Rate limit exceeded the maximum. Retry the request in [2] seconds"
    assert body["status"] == 429
    assert first.headers["ININ-Correlation-Id"] == body["contextId"]
    assert requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5).status_code == 200
    faults = requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()["faults"]
    assert [(f["id"], f["fired"], f["matched"]) for f in faults] == [(fault_id, 1, 2)]


def test_status_fault_with_explicit_body(sandbox: SandboxServer, gc: str) -> None:
    add_fault(sandbox, path="/organizations/me", kind="status", status=503, body={"custom": True})
    response = requests.get(f"{gc}/api/v2/organizations/me", headers=bearer(gc), timeout=5)
    assert (response.status_code, response.json()) == (503, {"custom": True})


def test_skip_and_times(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    add_fault(sandbox, method="GET", path="/organizations/me", kind="status", status=500, skip=1, times=2)
    statuses = [
        requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 500, 500, 200, 200]


def test_times_null_fires_forever_and_method_filters(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    add_fault(sandbox, method="POST", path="/organizations/me", kind="status", status=500, times=None)
    assert requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5).status_code == 200
    add_fault(sandbox, method=None, path="/organizations/me", kind="status", status=502, times=None)
    assert [
        requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5).status_code
        for _ in range(3)
    ] == [502, 502, 502]


def test_reset_fault_drops_the_connection(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    add_fault(sandbox, path="/organizations/me", kind="reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5)
    assert requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5).status_code == 200
    log = requests.get(f"{sandbox.url}/_sandbox/requests", params={"path": "organizations"}, timeout=5).json()
    assert [(r["status"], r["fault"] is not None) for r in log["requests"]] == [(None, True), (200, False)]


def test_malformed_fault_keeps_status_breaks_json(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    add_fault(sandbox, path="/organizations/me", kind="malformed", phase="after")
    response = requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_truncated_fault(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    add_fault(sandbox, path="/organizations/me", kind="truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5)
    add_fault(sandbox, path="/organizations/me", kind="truncated", phase="after")
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5)


def test_delay_fault_then_normal_answer(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    add_fault(sandbox, path="/organizations/me", kind="delay", delay=0.3)
    started = time.monotonic()
    response = requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and response.json()["name"] == "Genesys Sandbox Org"


def test_phase_before_does_not_process_phase_after_does(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    add_fault(sandbox, method="POST", path=f"{JOBS}$", kind="status", status=503, phase="before")
    assert (
        requests.post(f"{gc}{JOBS}", json={"interval": INTERVAL}, headers=headers, timeout=5).status_code
        == 503
    )
    counters = requests.get(f"{sandbox.url}/_sandbox/counters", timeout=5).json()
    assert counters["jobs"]["genesys_cloud"]["created"] == 0

    add_fault(sandbox, method="POST", path=f"{JOBS}$", kind="reset", phase="after")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(f"{gc}{JOBS}", json={"interval": INTERVAL}, headers=headers, timeout=5)
    counters = requests.get(f"{sandbox.url}/_sandbox/counters", timeout=5).json()
    jobs = counters["jobs"]["genesys_cloud"]
    assert jobs["created"] == 1
    assert jobs["by_interval"] == {INTERVAL: 1}
    assert counters["routes"][f"POST /genesys-cloud{JOBS}"] == 2


def test_request_log_and_counters(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    job_id = requests.post(f"{gc}{JOBS}", json={"interval": INTERVAL}, headers=headers, timeout=5).json()[
        "jobId"
    ]
    for _ in range(3):
        requests.get(f"{gc}{JOBS}/{job_id}", headers=headers, timeout=5)
    requests.get(f"{gc}{JOBS}/{job_id}/results", params={"pageSize": 50}, headers=headers, timeout=5)

    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json()["requests"]
    assert [r["seq"] for r in log] == list(range(1, 7))
    assert [r["method"] for r in log] == ["POST", "POST", "GET", "GET", "GET", "GET"]
    assert log[0]["path"] == "/genesys-cloud/login/oauth/token"
    assert log[1] == {**log[1], "status": 202, "fault": None, "vendor": "genesys_cloud"}
    assert log[-1]["query"] == {"pageSize": "50"}
    assert all(isinstance(r["t"], float) for r in log) and log[0]["t"] <= log[-1]["t"]
    assert "secret" not in str(log) and headers["Authorization"][7:] not in str(log)
    only_gets = requests.get(
        f"{sandbox.url}/_sandbox/requests", params={"method": "GET", "path": r"/results$"}, timeout=5
    ).json()["requests"]
    assert [r["seq"] for r in only_gets] == [6]

    counters = requests.get(f"{sandbox.url}/_sandbox/counters", timeout=5).json()
    assert counters["routes"][f"GET /genesys-cloud{JOBS}/{{jobId}}"] == 3
    assert counters["routes"][f"POST /genesys-cloud{JOBS}"] == 1
    item = counters["jobs"]["genesys_cloud"]["items"][job_id]
    assert item == {
        "kind": "conversations",
        "interval": INTERVAL,
        "polls": 3,
        "result_pages": 1,
        "state": "FULFILLED",
        "cancelled": False,
    }


def test_secrets_in_query_are_masked(sandbox: SandboxServer, gc: str) -> None:
    requests.post(
        f"{gc}/login/oauth/token",
        params={"grant_type": "client_credentials", "client_secret": "s3cr3t"},
        data={"client_id": "a", "client_secret": "s3cr3t"},
        timeout=5,
    )
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json()["requests"]
    assert log[0]["query"] == {"grant_type": "client_credentials", "client_secret": "***"}
    assert "s3cr3t" not in str(log)


def test_reset_clears_everything_but_seed(sandbox: SandboxServer, gc: str) -> None:
    headers = bearer(gc)
    requests.post(f"{gc}{JOBS}", json={"interval": INTERVAL}, headers=headers, timeout=5)
    add_fault(sandbox, path="nothing-matches", kind="status")
    requests.patch(f"{sandbox.url}/_sandbox/settings", json={"latency_ms": 5}, timeout=5)
    requests.patch(
        f"{sandbox.url}/_sandbox/vendors/genesys_cloud/settings", json={"job_polls_to_complete": 7}, timeout=5
    )
    assert requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5).json() == {"status": "reset"}
    assert requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json() == {"faults": []}
    assert requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json() == {"requests": []}
    counters = requests.get(f"{sandbox.url}/_sandbox/counters", timeout=5).json()
    assert counters["routes"] == {} and counters["jobs"]["genesys_cloud"]["created"] == 0
    settings = requests.get(f"{sandbox.url}/_sandbox/settings", timeout=5).json()
    assert settings["global"]["latency_ms"] == 0
    assert settings["vendors"]["genesys_cloud"]["job_polls_to_complete"] == 2
    # Tokens are vendor state too: the old one no longer works.
    assert requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5).status_code == 401
    assert requests.get(f"{sandbox.url}/_sandbox/health", timeout=5).json()["seed"] == 42


def test_fault_admin_delete_one_and_all(sandbox: SandboxServer) -> None:
    first = add_fault(sandbox, path="a", kind="status")
    add_fault(sandbox, path="b", kind="delay", delay=0.1)
    assert requests.delete(f"{sandbox.url}/_sandbox/faults/{first}", timeout=5).status_code == 200
    assert requests.delete(f"{sandbox.url}/_sandbox/faults/{first}", timeout=5).status_code == 404
    assert [
        f["path"] for f in requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()["faults"]
    ] == ["b"]
    requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=5)
    assert requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json() == {"faults": []}


def test_invalid_fault_is_400(sandbox: SandboxServer) -> None:
    for bad in (
        {"path": "(", "kind": "status"},
        {"path": "x", "kind": "explode"},
        {"path": "x", "phase": "later"},
        {"kind": "status"},
        {"path": "x", "colour": "red"},
    ):
        response = requests.post(f"{sandbox.url}/_sandbox/faults", json=bad, timeout=5)
        assert response.status_code == 400, bad
        assert response.json()["error"]


def test_latency_setting(sandbox: SandboxServer, gc: str) -> None:
    response = requests.patch(f"{sandbox.url}/_sandbox/settings", json={"latency_ms": 250}, timeout=5)
    assert response.json() == {"latency_ms": 250.0}
    started = time.monotonic()
    requests.post(
        f"{gc}/login/oauth/token", data={"grant_type": "client_credentials"}, auth=("a", "b"), timeout=5
    )
    assert time.monotonic() - started >= 0.25
    assert (
        requests.patch(f"{sandbox.url}/_sandbox/settings", json={"latency_ms": -1}, timeout=5).status_code
        == 400
    )


def test_vendor_settings_validation(sandbox: SandboxServer) -> None:
    url = f"{sandbox.url}/_sandbox/vendors/genesys_cloud/settings"
    response = requests.patch(url, json={"no_such_knob": 1}, timeout=5)
    assert response.status_code == 400 and "no_such_knob" in response.json()["error"]
    assert requests.patch(url, json={"job_polls_to_complete": "two"}, timeout=5).status_code == 400
    assert requests.patch(url, json={"job_outcome": "EXPLODED"}, timeout=5).status_code == 400
    updated = requests.patch(
        url, json={"job_outcome": "FAILED", "job_seconds_to_complete": 1}, timeout=5
    ).json()
    assert updated["job_outcome"] == "FAILED" and updated["job_seconds_to_complete"] == 1.0
    assert requests.get(url, timeout=5).json()["job_outcome"] == "FAILED"
    assert (
        requests.patch(f"{sandbox.url}/_sandbox/vendors/nope/settings", json={}, timeout=5).status_code == 404
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_runs_in_foreground_and_stops_on_sigterm() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROVIDER_DIR), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "contact_center_provider.sandbox", "--port", str(port), "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("sandbox ready:"):
                break
        assert lines and lines[-1].startswith(f"sandbox ready: http://127.0.0.1:{port}"), lines
        assert f"genesys_cloud: http://127.0.0.1:{port}/genesys-cloud\n" in lines
        health = requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=5).json()
        assert health == {"status": "ok", "seed": 7}
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "sandbox stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
