"""No secret leaks from the HTTP core: OAuth2 password grant and pre-signed URLs through every error path.

A tiny local vendor (stdlib HTTP server on loopback) grants tokens by the password grant and
misbehaves on demand: 401, 403, 500, connection reset, redirect loop, a response that never
comes. Its error bodies echo what it received (the Authorization header, the form, the query),
as careless vendors do. Every failure is provoked with both clients, logs captured at DEBUG, and
neither the password, the client secret, the token nor the URL signature may appear in the logs,
in ``str``/``repr`` of the error or in its formatted traceback.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import struct
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest

from contact_center_provider.http import (
    AsyncHttpClient,
    HttpClient,
    OAuth2PasswordGrant,
    RetryPolicy,
    VendorAPIError,
    VendorAuthError,
    VendorRequestError,
    VendorResponseError,
    VendorServerError,
    VendorTransportError,
)
from contact_center_provider.http.transport import REDACTED_LOGGERS

USERNAME = "access-key-id-1234"
PASSWORD = "p@ss w0rd&=/+PASSWORD-SECRET"
CLIENT_ID = "cxone-client"
CLIENT_SECRET = "CLIENT-SECRET-9f8e"
TOKEN = "ACCESS-TOKEN-SECRET-abc123"
SIGNATURE = "SIGNATURE-SECRET-0a1b2c"
PRESIGNED_QUERY = f"X-Amz-Credential=AKIA%2F20240501&X-Amz-Signature={SIGNATURE}"
SECRETS = (PASSWORD, quote_plus(PASSWORD), CLIENT_SECRET, TOKEN, SIGNATURE)
FAST = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02, jitter=0.0, deadline=30.0)


class _Vendor(BaseHTTPRequestHandler):
    """A vendor that answers with the faults the path names and echoes secrets in error bodies."""

    server: _VendorServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _echo(self) -> dict[str, Any]:
        return {
            "error": "echo",
            "error_description": f"auth={self.headers.get('Authorization')} path={self.path}",
        }

    def do_POST(self) -> None:
        form_text = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = {k: v[0] for k, v in parse_qs(form_text).items()}
        self.server.seen.append(("POST", urlsplit(self.path).path))
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if self.path == "/token-broken":  # the token endpoint fails and echoes the form
            self._send(400, {"error": "invalid_request", "error_description": f"bad form {form_text}"})
        elif (
            form.get("grant_type") == "password"
            and form.get("username") == USERNAME
            and form.get("password") == PASSWORD
            and self.headers.get("Authorization") == f"Basic {basic}"
        ):
            self._send(200, {"access_token": TOKEN, "token_type": "bearer", "expires_in": 3600})
        else:
            self._send(401, {"error": "invalid_grant", "error_description": f"rejected {form_text}"})

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.seen.append(("GET", path))
        if path.startswith("/api/status/"):
            self._send(int(path.rsplit("/", 1)[1]), self._echo())
        elif path == "/api/reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif path == "/api/loop":
            self._send(302, {}, {"Location": self.path})  # to itself, query and all
        elif path == "/api/hang":
            self.server.release.wait(30)  # answers only when the test is over
            self.close_connection = True
        else:
            self._send(200, {"ok": True})


class _VendorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Vendor)
        self.seen: list[tuple[str, str]] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """Everything at DEBUG, httpx's and httpcore's chatty loggers included (Airflow's logging
    config silences or disables them; a user debugging a connection turns them back on)."""
    import airflow.sdk.log  # noqa: F401  (Airflow configures logging on first import: before we adjust it)

    caplog.set_level(logging.DEBUG)
    for name in REDACTED_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    return caplog


@pytest.fixture(scope="module")
def vendor() -> Iterator[_VendorServer]:
    server = _VendorServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def grant(vendor: _VendorServer, token_path: str = "/token") -> OAuth2PasswordGrant:
    return OAuth2PasswordGrant(
        f"{vendor.url}{token_path}",
        USERNAME,
        PASSWORD,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        vendor="nice_cxone",
    )


async def call(flavour: str, vendor: _VendorServer, url: str, *, token_path: str = "/token") -> Any:
    if flavour == "async":
        async with AsyncHttpClient(
            vendor.url, vendor="nice_cxone", auth=grant(vendor, token_path), policy=FAST, timeout=0.3
        ) as aclient:
            return await aclient.aget_json(url)
    with HttpClient(
        vendor.url, vendor="nice_cxone", auth=grant(vendor, token_path), policy=FAST, timeout=0.3
    ) as client:
        return client.get_json(url)


def presigned(vendor: _VendorServer, path: str) -> str:
    return f"{vendor.url}{path}?{PRESIGNED_QUERY}"


CASES: list[tuple[str, Any, type[VendorAPIError], str]] = [
    # (id, url builder, error type, text the error must contain)
    ("401", lambda v: presigned(v, "/api/status/401"), VendorAuthError, "HTTP 401 echo"),
    ("403", lambda v: presigned(v, "/api/status/403"), VendorAuthError, "HTTP 403 echo"),
    ("500", lambda v: presigned(v, "/api/status/500"), VendorServerError, "after 2 attempts"),
    ("reset", lambda v: presigned(v, "/api/reset"), VendorTransportError, "connection reset after sending"),
    ("timeout", lambda v: presigned(v, "/api/hang"), VendorTransportError, "read timeout after sending"),
    ("redirects", lambda v: presigned(v, "/api/loop"), VendorResponseError, "too many redirects"),
    ("bad-port", lambda v: f"http://127.0.0.1:12ab/api?{PRESIGNED_QUERY}", VendorRequestError, "InvalidURL"),
    ("bad-ipv6", lambda v: f"http://[::1/api?{PRESIGNED_QUERY}", VendorRequestError, "invalid URL"),
    (
        "bad-scheme",
        lambda v: f"ftp://127.0.0.1/api?{PRESIGNED_QUERY}",
        VendorRequestError,
        "UnsupportedProtocol",
    ),
]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into: {text[:300]!r}"


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize(("case", "url_of", "error", "says"), CASES, ids=[c[0] for c in CASES])
async def test_no_secret_reaches_errors_or_logs(
    vendor: _VendorServer,
    debug_logs: pytest.LogCaptureFixture,
    flavour: str,
    case: str,
    url_of: Any,
    error: type[VendorAPIError],
    says: str,
) -> None:
    url = url_of(vendor)
    with pytest.raises(error) as caught:
        await call(flavour, vendor, url)
    exc = caught.value
    assert type(exc) is error and says in str(exc)
    logged = [debug_logs.text, *debug_logs.messages]
    assert_no_secret(str(exc), repr(exc), "".join(traceback.format_exception(exc)), *logged)
    if case in ("401", "403", "500", "reset", "timeout", "redirects"):
        # the failure happened on the wire, with httpx and httpcore logging every step
        assert any(r.name == "httpx" for r in debug_logs.records)
        assert any(r.name == "httpcore.http11" for r in debug_logs.records)
        assert ("GET", urlsplit(url).path) in vendor.seen


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_refused_and_broken_token_requests_leak_nothing(
    vendor: _VendorServer, debug_logs: pytest.LogCaptureFixture, flavour: str
) -> None:
    with pytest.raises(VendorAuthError) as broken:  # 400 echoing the URL-encoded form
        await call(flavour, vendor, "/api/ok", token_path="/token-broken")
    assert broken.value.code == "invalid_request" and "bad form" in str(broken.value)
    assert "username=access-key-id-1234" in str(broken.value)  # the username is no secret
    wrong = OAuth2PasswordGrant(
        f"{vendor.url}/token",
        USERNAME,
        "wrong " + PASSWORD,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        vendor="nice_cxone",
    )
    with (
        HttpClient(vendor.url, vendor="nice_cxone", auth=wrong, policy=FAST) as client,
        pytest.raises(VendorAuthError) as refused,
    ):
        client.get_json("/api/ok")
    assert refused.value.code == "invalid_grant" and refused.value.status == 401
    for exc in (broken.value, refused.value):
        assert_no_secret(str(exc), repr(exc), "".join(traceback.format_exception(exc)))
    assert_no_secret(debug_logs.text, *debug_logs.messages)


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_password_grant_sends_the_form_and_uses_the_token(vendor: _VendorServer, flavour: str) -> None:
    assert await call(flavour, vendor, presigned(vendor, "/api/ok")) == {"ok": True}
    strategy = grant(vendor)
    assert strategy._token_request() == (
        {"grant_type": "password", "username": USERNAME, "password": PASSWORD},
        {
            "Accept": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
        },
    )
    in_body = OAuth2PasswordGrant(
        "https://h/t",
        USERNAME,
        PASSWORD,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        vendor="v",
        credentials_in="body",
        extra_headers={"x-api-key": "API-KEY-SECRET"},
    )
    form, headers = in_body._token_request()
    assert form["client_id"] == CLIENT_ID and form["client_secret"] == CLIENT_SECRET
    assert "Authorization" not in headers and headers["x-api-key"] == "API-KEY-SECRET"
    secrets = in_body.secret_values()
    assert {PASSWORD, quote_plus(PASSWORD), CLIENT_SECRET, "API-KEY-SECRET"} <= set(secrets)
    assert USERNAME not in secrets
    assert_no_secret(repr(strategy), repr(in_body))
    assert "API-KEY-SECRET" not in repr(in_body)


def test_password_grant_registers_its_secrets_with_the_airflow_masker(vendor: _VendorServer) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    with HttpClient(vendor.url, vendor="nice_cxone", auth=grant(vendor), policy=FAST) as client:
        assert client.get_json("/api/ok") == {"ok": True}
    masked = redact(f"password={PASSWORD} secret={CLIENT_SECRET} token={TOKEN} user={USERNAME}")
    assert isinstance(masked, str)
    assert_no_secret(masked)
    assert USERNAME in masked
