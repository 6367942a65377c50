"""The shared HTTP core over real HTTP against the sandbox, for both client flavours.

Every wire test runs twice (``sync`` = :class:`HttpClient`, ``async`` = :class:`AsyncHttpClient`)
and asserts on what the sandbox recorded (request log, counters), never on our internals.
"""

from __future__ import annotations

import logging
import pickle
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import requests

from contact_center_provider.http import (
    AmbiguousSubmissionError,
    ApiKeyHeader,
    AsyncHttpClient,
    BasicAuth,
    BearerToken,
    CursorPaginator,
    HttpClient,
    NextUriPaginator,
    OAuth2ClientCredentials,
    ODataNextLinkPaginator,
    PageNumberPaginator,
    RequestSpec,
    RetryPolicy,
    VendorAPIError,
    VendorAuthError,
    VendorClientError,
    VendorNotFoundError,
    VendorRateLimitError,
    VendorResponseError,
    VendorServerError,
    VendorTransportError,
    aiter_pages,
    default_error_parser,
    error_class_for_status,
    iter_pages,
)
from contact_center_provider.http.errors import query_secrets, redact_urls, strip_query
from contact_center_provider.http.paging import Paginator
from contact_center_provider.http.retry import OutcomeKind
from contact_center_provider.http.transport import Phase, RedactFilter, classify

VENDOR = "genesys_cloud"
CLIENT_ID = "sandbox-client"
SECRET = "tOp-SeCrEt-client-secret-4711"
ORG = "/api/v2/organizations/me"
JOBS = "/api/v2/analytics/conversations/details/jobs"
INTERVAL = "2024-05-01T00:00:00.000Z/2024-05-02T00:00:00.000Z"
FAST = RetryPolicy(
    max_attempts=4, initial_backoff=0.01, multiplier=2.0, max_backoff=0.05, jitter=0.0, deadline=30.0
)


# == pure parts =================================================================================


def test_error_str_has_method_path_status_code_and_correlation_but_no_query() -> None:
    err = VendorClientError(
        vendor="genesys_cloud",
        method="post",
        url="https://api.mypurecloud.com/api/v2/analytics/conversations/details/jobs?sig=SECRET#frag",
        status=400,
        code="bad.request",
        message="interval is required",
        correlation_id="abc",
    )
    assert str(err) == (
        "genesys_cloud POST /api/v2/analytics/conversations/details/jobs failed: "
        "HTTP 400 bad.request: interval is required (correlation id abc)"
    )
    assert err.url == "https://api.mypurecloud.com/api/v2/analytics/conversations/details/jobs"
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is VendorClientError and str(clone) == str(err) and clone.code == "bad.request"


def test_ambiguous_submission_error_says_what_to_do() -> None:
    err = AmbiguousSubmissionError(vendor="nice_cxone", method="POST", url="https://h/jobs", message="reset")
    assert isinstance(err, VendorTransportError)
    assert "may have been created" in str(err) and "NOT resent" in str(err)


def test_exhausted_error_says_attempts_and_time() -> None:
    err = VendorServerError(
        vendor="v", method="GET", url="https://h/x", status=503, attempts=6, elapsed=12.34
    )
    assert str(err).endswith("after 6 attempts over 12.3 s")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, VendorAuthError),
        (403, VendorAuthError),
        (404, VendorNotFoundError),
        (429, VendorRateLimitError),
        (400, VendorClientError),
        (409, VendorClientError),
        (500, VendorServerError),
        (503, VendorServerError),
        (202, VendorResponseError),
    ],
)
def test_status_mapping(status: int, cls: type[VendorAPIError]) -> None:
    assert error_class_for_status(status) is cls


@pytest.mark.parametrize(
    ("headers", "body", "code", "message", "correlation"),
    [
        (  # Genesys ErrorBody
            {"ININ-Correlation-Id": "cid-1"},
            b'{"message": "Invalid interval", "code": "bad.request", "status": 400, "contextId": "cid-1"}',
            "bad.request",
            "Invalid interval",
            "cid-1",
        ),
        (  # Genesys header only
            {"inin-correlation-id": "cid-2"},
            b'{"message": "nope", "code": "not.found"}',
            "not.found",
            "nope",
            "cid-2",
        ),
        (  # OAuth
            {},
            b'{"error": "invalid_client", "error_description": "authentication failed"}',
            "invalid_client",
            "authentication failed",
            None,
        ),
        ({}, b'{"message": "Unauthorized"}', None, "Unauthorized", None),
        (  # OData
            {"X-Request-Id": "r-9"},
            b'{"error": {"code": "BadRequest", "message": "Invalid $filter"}}',
            "BadRequest",
            "Invalid $filter",
            "r-9",
        ),
        ({}, b"Service Unavailable", None, "Service Unavailable", None),
        ({}, b"", None, "", None),
    ],
)
def test_default_error_parser_shapes(
    headers: dict[str, str], body: bytes, code: str | None, message: str, correlation: str | None
) -> None:
    info = default_error_parser(400, headers, body)
    assert (info.code, info.message, info.correlation_id) == (code, message, correlation)


def test_default_error_parser_truncates_plain_text() -> None:
    info = default_error_parser(502, {}, b"x" * 5000)
    assert len(info.message) == 500 and info.message.endswith("...")


def test_importing_the_trigger_loads_no_http_client_library() -> None:
    # The triggerer imports trigger modules inside its event loop: a slow import blocks it.
    code = (
        "import contact_center_provider.triggers.job_poll, sys; "
        "print('requests' in sys.modules, 'aiohttp' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


_REQUEST = httpx.Request("GET", "https://h/x?sig=SECRET")


@pytest.mark.parametrize(
    ("exc", "phase", "kind"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), Phase.SENDING, OutcomeKind.CONNECT_ERROR),
        (httpx.ConnectTimeout("timed out"), Phase.SENDING, OutcomeKind.CONNECT_ERROR),
        (httpx.ProxyError("407 Proxy Authentication Required"), Phase.SENDING, OutcomeKind.CONNECT_ERROR),
        (httpx.ReadTimeout("timed out"), Phase.SENDING, OutcomeKind.TIMEOUT),
        (httpx.WriteTimeout("timed out"), Phase.SENDING, OutcomeKind.TIMEOUT),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), Phase.SENDING, OutcomeKind.RESET),
        (httpx.RemoteProtocolError("Server disconnected"), Phase.SENDING, OutcomeKind.RESET),
        (httpx.RemoteProtocolError("incomplete chunked read"), Phase.BODY, OutcomeKind.TRUNCATED),
        (httpx.ReadTimeout("timed out"), Phase.BODY, OutcomeKind.TRUNCATED),
        (httpx.DecodingError("bad gzip"), Phase.BODY, OutcomeKind.TRUNCATED),
        (httpx.InvalidURL("Invalid port: 'x'"), Phase.SENDING, OutcomeKind.INVALID_REQUEST),
        (
            httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'"),
            Phase.SENDING,
            OutcomeKind.INVALID_REQUEST,
        ),
        (
            httpx.LocalProtocolError("Illegal header value b'Bearer SECRET\\n'"),
            Phase.SENDING,
            OutcomeKind.INVALID_REQUEST,
        ),
        (
            httpx.TooManyRedirects("Exceeded maximum allowed redirects.", request=_REQUEST),
            Phase.SENDING,
            OutcomeKind.TOO_MANY_REDIRECTS,
        ),
    ],
)
def test_transport_failures_are_classified_once_for_both_clients(
    exc: httpx.HTTPError, phase: Phase, kind: OutcomeKind
) -> None:
    outcome = classify(exc, phase)
    assert outcome.kind is kind
    assert "SECRET" not in outcome.describe()
    if kind in (OutcomeKind.CONNECT_ERROR, OutcomeKind.RESET):
        assert str(exc) in outcome.detail  # OS and TLS texts are kept: they say what to fix


def test_url_helpers_never_leak_a_query() -> None:
    assert strip_query("https://user:pw@h:8443/a/b?sig=S#f") == "https://h:8443/a/b"
    assert strip_query("http://[::1/a?sig=S") == "http://[::1/a"  # unparseable: cut, not raised
    assert strip_query("http://u:pw@h:12ab/a?sig=S") == "http://h:12ab/a"
    assert redact_urls("see https://h/p?X-Amz-Signature=S and /next?cursor=C.") == (
        "see https://h/p?<redacted> and /next?<redacted>"
    )
    assert redact_urls("and/or? fine") == "and/or? fine"
    secrets = query_secrets("https://h/p?pageSize=100&X-Amz-Signature=a%2Bb&token=T#frag")
    assert secrets[0] == "pageSize=100&X-Amz-Signature=a%2Bb&token=T"
    assert {"a%2Bb", "a+b", "T"} <= set(secrets) and "100" not in secrets


def test_httpx_and_httpcore_log_records_lose_queries_and_cookies() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        "f",
        1,
        'HTTP Request: %s %s "%s"',
        ("GET", "https://h/x?sig=S", "200 OK"),
        None,
    )
    assert (
        RedactFilter().filter(record)
        and record.getMessage() == 'HTTP Request: GET https://h/x?<redacted> "200 OK"'
    )
    headers = "receive_response_headers.complete return_value=(b'HTTP/1.1', 302, b'Found', [(b'Location', b'https://s3/o?X-Amz-Signature=S'), (b'Set-Cookie', b'session=abc')])"
    record = logging.LogRecord("httpcore.http11", logging.DEBUG, "f", 1, headers, None, None)
    RedactFilter().filter(record)
    assert "X-Amz-Signature" not in record.getMessage() and "session=abc" not in record.getMessage()


def test_auth_reprs_hide_secrets() -> None:
    strategies = [
        OAuth2ClientCredentials("https://login.example/oauth/token?k=QUERYSECRET", "cid", SECRET, vendor="v"),
        BasicAuth("user", SECRET),
        BearerToken(SECRET),
        ApiKeyHeader("X-Api-Key", SECRET),
    ]
    for strategy in strategies:
        assert SECRET not in repr(strategy) and "QUERYSECRET" not in repr(strategy)


def test_page_number_paginator() -> None:
    paginator = PageNumberPaginator(25)
    first = paginator.first_request()
    assert first == RequestSpec(params={"pageSize": 25, "pageNumber": 1})
    second = paginator.next_request({"pageCount": 3}, 25, first)
    assert second == RequestSpec(params={"pageSize": 25, "pageNumber": 2})
    assert paginator.next_request({"pageCount": 2}, 25, second) is None  # type: ignore[arg-type]
    assert paginator.next_request({}, 0, first) is None  # an empty page ends it
    assert paginator.next_request({}, 25, first) is not None  # no pageCount: go on until empty


def test_cursor_and_link_paginators() -> None:
    cursor = CursorPaginator()
    first = cursor.first_request()
    nxt = cursor.next_request({"cursor": "abc", "conversations": [1]}, 1, RequestSpec(params={"pageSize": 5}))
    assert nxt == RequestSpec(params={"pageSize": 5, "cursor": "abc"})
    assert cursor.next_request({"conversations": []}, 0, first) is None
    nested = CursorPaginator(cursor_field="paging.next", cursor_param="after")
    assert nested.next_request({"paging": {"next": "n2"}}, 1, first) == RequestSpec(params={"after": "n2"})

    link = NextUriPaginator()
    assert link.next_request({"nextUri": "/api/v2/users?pageNumber=2"}, 1, first) == RequestSpec(
        path="/api/v2/users?pageNumber=2"
    )
    assert link.next_request({"nextUri": None}, 1, first) is None
    odata = ODataNextLinkPaginator()
    assert odata.next_request({"@odata.nextLink": "https://h/odata?$skiptoken=2"}, 1, first) == RequestSpec(
        path="https://h/odata?$skiptoken=2"
    )
    assert odata.next_request({"value": []}, 0, first) is None


# == wire tests against the sandbox =============================================================


class Admin:
    """The sandbox control plane (``/_sandbox/``)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def fault(self, **rule: Any) -> str:
        response = requests.post(f"{self.url}/_sandbox/faults", json=rule, timeout=10)
        response.raise_for_status()
        return str(response.json()["id"])

    def requests(self, path: str, method: str | None = None) -> list[dict[str, Any]]:
        params = {"path": path, **({"method": method} if method else {})}
        response = requests.get(f"{self.url}/_sandbox/requests", params=params, timeout=10)
        response.raise_for_status()
        return list(response.json()["requests"])

    def counters(self) -> dict[str, Any]:
        response = requests.get(f"{self.url}/_sandbox/counters", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def settings(self, **values: Any) -> None:
        response = requests.patch(
            f"{self.url}/_sandbox/vendors/genesys_cloud/settings", json=values, timeout=10
        )
        response.raise_for_status()

    def expire_tokens(self) -> None:
        response = requests.post(
            f"{self.url}/_sandbox/vendors/genesys_cloud/expire-tokens", json={}, timeout=10
        )
        response.raise_for_status()

    def token_requests(self) -> list[dict[str, Any]]:
        return self.requests(r"/login/oauth/token$", "POST")

    def jobs_created(self) -> int:
        return int(self.counters()["jobs"]["genesys_cloud"]["created"])


class Driver:
    """One async API over either client flavour, so every wire test runs against both."""

    def __init__(self, flavour: str, client: HttpClient | AsyncHttpClient) -> None:
        self.flavour = flavour
        self.client = client

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if isinstance(self.client, AsyncHttpClient):
            return await self.client.arequest(method, path, **kwargs)
        return self.client.request(method, path, **kwargs)

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        if isinstance(self.client, AsyncHttpClient):
            return await self.client.aget_json(path, **kwargs)
        return self.client.get_json(path, **kwargs)

    async def post_json(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        if isinstance(self.client, AsyncHttpClient):
            return await self.client.apost_json(path, json, **kwargs)
        return self.client.post_json(path, json, **kwargs)

    async def pages(self, method: str, path: str, **kwargs: Any) -> list[tuple[Any, bytes]]:
        if isinstance(self.client, AsyncHttpClient):
            return [page async for page in aiter_pages(self.client, method, path, **kwargs)]
        return list(iter_pages(self.client, method, path, **kwargs))

    async def download(self, path: str, **kwargs: Any) -> bytes:
        if isinstance(self.client, AsyncHttpClient):
            async with self.client.astream("GET", path, **kwargs) as chunks:
                return b"".join([chunk async for chunk in chunks])
        with self.client.stream("GET", path, **kwargs) as sync_chunks:
            return b"".join(sync_chunks)

    async def close(self) -> None:
        if isinstance(self.client, AsyncHttpClient):
            await self.client.aclose()
        else:
            self.client.close()


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def admin(sandbox: Any) -> Admin:
    """The (reset) session sandbox's control plane; conftest's ``sandbox`` resets it per test."""
    return Admin(sandbox.url)


def oauth(sandbox_url: str, secret: str = SECRET) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        f"{sandbox_url}/genesys-cloud/login/oauth/token", CLIENT_ID, secret, vendor=VENDOR
    )


@pytest.fixture
async def make(admin: Admin, flavour: str) -> AsyncIterator[Any]:
    """Factory of drivers talking to the sandbox's Genesys API; closes them afterwards."""
    drivers: list[Driver] = []

    def factory(
        *,
        secret: str = SECRET,
        policy: RetryPolicy = FAST,
        base_url: str | None = None,
        timeout: float = 10.0,
    ) -> Driver:
        cls = AsyncHttpClient if flavour == "async" else HttpClient
        client = cls(
            base_url or f"{admin.url}/genesys-cloud",
            vendor=VENDOR,
            auth=oauth(admin.url, secret),
            policy=policy,
            timeout=timeout,
            rng=random.Random(0),
        )
        driver = Driver(flavour, client)
        drivers.append(driver)
        return driver

    yield factory
    for driver in drivers:
        await driver.close()


def statuses(records: list[dict[str, Any]]) -> list[int | None]:
    return [r["status"] for r in records]


async def test_capped_retry_after_keeps_tests_fast(admin: Admin, make: Any) -> None:
    # Uncapped, "Retry-After: 120" would pass the 60 s deadline and fail (see the deadline test).
    policy = RetryPolicy(initial_backoff=0.01, max_backoff=0.05, deadline=60.0, max_retry_after=0.05)
    driver = make(policy=policy)
    admin.fault(
        method="GET", path=f"{ORG}$", kind="status", status=429, headers={"Retry-After": "120"}, times=1
    )
    assert (await driver.get_json(ORG))["id"]
    assert statuses(admin.requests(f"{ORG}$", "GET")) == [429, 200]


async def test_retry_after_is_waited_out(admin: Admin, make: Any) -> None:
    driver = make()
    admin.fault(
        method="GET", path=f"{ORG}$", kind="status", status=429, headers={"Retry-After": "2"}, times=1
    )
    org = await driver.get_json(ORG)
    assert org["id"]
    log = admin.requests(f"{ORG}$", "GET")
    assert statuses(log) == [429, 200]
    assert log[1]["t"] - log[0]["t"] >= 2.0


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 502},
        {"kind": "status", "status": 503},
        {"kind": "reset"},
        {"kind": "reset", "phase": "after"},
        {"kind": "truncated", "phase": "after"},
    ],
    ids=["500", "502", "503", "reset-before", "reset-after", "truncated"],
)
async def test_get_failures_are_retried_then_succeed(admin: Admin, make: Any, fault: dict[str, Any]) -> None:
    driver = make()
    admin.fault(method="GET", path=f"{ORG}$", times=2, **fault)
    org = await driver.get_json(ORG)
    assert org["id"]
    log = admin.requests(f"{ORG}$", "GET")
    assert len(log) == 3 and log[-1]["status"] == 200
    assert all(record["fault"] for record in log[:2])


@pytest.mark.parametrize("status", [503, 429])
async def test_creating_post_retried_when_provably_not_processed(
    admin: Admin, make: Any, status: int
) -> None:
    driver = make()
    admin.fault(
        method="POST", path=f"{JOBS}$", kind="status", status=status, headers={"Retry-After": "0"}, times=1
    )
    body = await driver.post_json(JOBS, {"interval": INTERVAL}, creates=True)
    assert body["jobId"]
    assert statuses(admin.requests(f"{JOBS}$", "POST")) == [status, 202]
    assert admin.jobs_created() == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "reset", "phase": "after"},
        {"kind": "status", "status": 500, "phase": "after"},
        {"kind": "status", "status": 502, "phase": "after"},
        {"kind": "truncated", "phase": "after"},
    ],
    ids=["reset", "500", "502", "truncated"],
)
async def test_creating_post_not_resent_when_ambiguous(
    admin: Admin, make: Any, fault: dict[str, Any]
) -> None:
    driver = make()
    admin.fault(method="POST", path=f"{JOBS}$", times=5, **fault)
    with pytest.raises(AmbiguousSubmissionError) as caught:
        await driver.post_json(JOBS, {"interval": INTERVAL}, creates=True)
    assert len(admin.requests(f"{JOBS}$", "POST")) == 1
    assert admin.jobs_created() == 1  # the vendor did create it: that is why we must not resend
    err = caught.value
    assert err.path == "/genesys-cloud" + JOBS and err.attempts == 1
    assert "may have been created" in str(err)


async def test_read_timeout_retries_get_but_not_a_creating_post(admin: Admin, make: Any) -> None:
    driver = make(timeout=0.3)
    await driver.get_json(ORG)  # token fetched before any fault
    admin.fault(method="GET", path=f"{ORG}$", kind="delay", delay=1.0, phase="after", times=1)
    assert (await driver.get_json(ORG))["id"]
    assert len(admin.requests(f"{ORG}$", "GET")) == 3
    admin.fault(method="POST", path=f"{JOBS}$", kind="delay", delay=1.0, phase="after", times=1)
    with pytest.raises(AmbiguousSubmissionError) as caught:
        await driver.post_json(JOBS, {"interval": INTERVAL}, creates=True)
    assert "read timeout" in str(caught.value)
    assert len(admin.requests(f"{JOBS}$", "POST")) == 1
    assert admin.jobs_created() == 1


async def test_idempotent_post_is_retried_on_500(admin: Admin, make: Any) -> None:
    driver = make()
    admin.fault(method="POST", path=f"{JOBS}$", kind="status", status=500, times=1)
    await driver.post_json(JOBS, {"interval": INTERVAL}, creates=False)
    assert statuses(admin.requests(f"{JOBS}$", "POST")) == [500, 202]


async def test_401_refreshes_the_token_exactly_once(admin: Admin, make: Any) -> None:
    driver = make()
    await driver.get_json(ORG)
    assert len(admin.token_requests()) == 1
    admin.expire_tokens()
    await driver.get_json(ORG)
    assert statuses(admin.token_requests()) == [200, 200]
    assert statuses(admin.requests(f"{ORG}$", "GET")) == [200, 401, 200]


async def test_persistent_401_is_not_a_retry_storm(admin: Admin, make: Any) -> None:
    driver = make()
    admin.fault(method="GET", path=f"{ORG}$", kind="status", status=401, times=None)
    with pytest.raises(VendorAuthError) as caught:
        await driver.get_json(ORG)
    assert caught.value.status == 401
    assert statuses(admin.requests(f"{ORG}$", "GET")) == [401, 401]
    assert len(admin.token_requests()) == 2


async def test_wrong_secret_raises_auth_error_without_retries(admin: Admin, make: Any) -> None:
    driver = make(secret="wrong-secret")
    with pytest.raises(VendorAuthError) as caught:
        await driver.get_json(ORG)
    err = caught.value
    assert (err.status, err.code) == (401, "invalid_client")
    assert "wrong-secret" not in str(err)
    assert len(admin.token_requests()) == 1
    assert admin.requests(f"{ORG}$") == []


async def test_attempts_exhaustion_raises_typed_error_with_correlation_id(admin: Admin, make: Any) -> None:
    driver = make()
    admin.fault(method="GET", path=f"{ORG}$", kind="status", status=503, times=None)
    with pytest.raises(VendorServerError) as caught:
        await driver.get_json(ORG)
    err = caught.value
    assert err.status == 503 and err.code == "service.unavailable"
    assert err.correlation_id and f"(correlation id {err.correlation_id})" in str(err)
    assert err.attempts == FAST.max_attempts == len(admin.requests(f"{ORG}$", "GET"))
    assert "after 4 attempts" in str(err)


async def test_deadline_stops_before_an_overlong_retry_after(admin: Admin, make: Any) -> None:
    driver = make(policy=RetryPolicy(max_attempts=10, initial_backoff=0.01, deadline=5.0))
    admin.fault(
        method="GET", path=f"{ORG}$", kind="status", status=429, headers={"Retry-After": "30"}, times=None
    )
    with pytest.raises(VendorRateLimitError) as caught:
        await driver.get_json(ORG)
    err = caught.value
    assert err.status == 429 and err.retry_after == 30.0 and err.correlation_id
    assert "deadline" in str(err)
    assert len(admin.requests(f"{ORG}$", "GET")) == 1


async def test_connection_refused_exhausts_as_transport_error(admin: Admin, make: Any) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    driver = make(base_url=f"http://127.0.0.1:{port}/genesys-cloud")
    driver.client.auth = None
    with pytest.raises(VendorTransportError) as caught:
        await driver.get_json(ORG)
    assert caught.value.status is None and caught.value.attempts == FAST.max_attempts
    assert "connection failed before sending" in str(caught.value)


async def test_other_4xx_is_not_retried(admin: Admin, make: Any) -> None:
    driver = make()
    with pytest.raises(VendorNotFoundError) as caught:
        await driver.get_json(f"{JOBS}/00000000-0000-0000-0000-000000000000")
    assert caught.value.code == "not.found" and caught.value.attempts == 1
    assert len(admin.requests(f"{JOBS}/0000")) == 1


async def test_malformed_json_names_the_url_path(admin: Admin, make: Any) -> None:
    driver = make()
    admin.fault(method="GET", path=f"{ORG}$", kind="malformed", times=1)
    with pytest.raises(VendorResponseError) as caught:
        await driver.get_json(ORG)
    assert f"GET /genesys-cloud{ORG} failed" in str(caught.value)
    assert "not valid JSON" in str(caught.value)


async def test_users_page_number_paging(admin: Admin, make: Any) -> None:
    driver = make()
    pages = await driver.pages("GET", "/api/v2/users", paginator=PageNumberPaginator(7), items_key="entities")
    first = pages[0][0]
    assert first["pageCount"] > 1
    assert len(pages) == first["pageCount"]
    ids = [user["id"] for page, _ in pages for user in page["entities"]]
    assert len(ids) == len(set(ids)) == first["total"]
    assert all(raw.startswith(b"{") for _, raw in pages)
    numbers = [r["query"].get("pageNumber") for r in admin.requests(r"/api/v2/users$", "GET")]
    assert numbers == [str(n) for n in range(1, len(pages) + 1)]


async def test_users_next_uri_paging(admin: Admin, make: Any) -> None:
    driver = make()
    pages = await driver.pages(
        "GET", "/api/v2/users", paginator=NextUriPaginator(), items_key="entities", params={"pageSize": 10}
    )
    total = pages[0][0]["total"]
    assert len(pages) == pages[0][0]["pageCount"] == -(-total // 10)
    assert sum(len(page["entities"]) for page, _ in pages) == total
    assert "nextUri" not in pages[-1][0]


async def test_conversation_job_results_cursor_paging(admin: Admin, make: Any) -> None:
    admin.settings(job_polls_to_complete=0)
    driver = make()
    job_id = (await driver.post_json(JOBS, {"interval": INTERVAL}, creates=True))["jobId"]
    assert (await driver.get_json(f"{JOBS}/{job_id}"))["state"] == "FULFILLED"
    pages = await driver.pages(
        "GET",
        f"{JOBS}/{job_id}/results",
        paginator=CursorPaginator(),
        items_key="conversations",
        params={"pageSize": 50},
    )
    assert len(pages) > 1
    assert "cursor" not in pages[-1][0]
    ids = [c["conversationId"] for page, _ in pages for c in page.get("conversations", [])]
    assert len(ids) == len(set(ids)) > 50
    log = admin.requests(rf"{JOBS}/{job_id}/results$", "GET")
    assert len(log) == len(pages)


async def test_stream_retries_before_the_first_byte(admin: Admin, make: Any) -> None:
    driver = make()
    expected = (await driver.request("GET", ORG)).content
    admin.fault(method="GET", path=f"{ORG}$", kind="status", status=503, times=1)
    assert await driver.download(ORG, chunk_size=16) == expected
    assert statuses(admin.requests(f"{ORG}$", "GET")) == [200, 503, 200]


async def test_foreign_host_gets_no_credentials(admin: Admin, make: Any) -> None:
    driver = make()
    await driver.get_json(ORG)  # token fetched, works on the base host
    foreign = admin.url.replace("127.0.0.1", "localhost") + "/genesys-cloud" + ORG
    with pytest.raises(VendorAuthError) as caught:
        await driver.get_json(foreign)
    assert caught.value.status == 401 and caught.value.code == "authentication.required"


async def test_no_secret_token_or_presigned_query_in_logs_or_errors(
    admin: Admin, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    driver = make()
    admin.fault(
        method="GET", path=f"{ORG}$", kind="status", status=429, headers={"Retry-After": "0"}, times=1
    )
    await driver.get_json(ORG, params={"X-Amz-Signature": "SIGNATURE-SECRET"})
    admin.expire_tokens()
    await driver.get_json(ORG)
    errors: list[str] = []
    presigned = (
        f"{admin.url}/genesys-cloud{ORG}?X-Amz-Credential=CRED-SECRET&X-Amz-Signature=SIGNATURE-SECRET"
    )
    admin.fault(method="GET", path=f"{ORG}$", kind="status", status=500, times=FAST.max_attempts)
    with pytest.raises(VendorServerError) as caught:
        await driver.get_json(presigned)
    errors.append(str(caught.value))
    with pytest.raises(VendorAuthError) as foreign:  # another host: no credentials attached
        await driver.get_json(presigned.replace("127.0.0.1", "localhost"))
    errors.append(str(foreign.value))
    with pytest.raises(VendorAuthError) as wrong:
        await make(secret="wrong-secret").get_json(ORG)
    errors.append(str(wrong.value))

    tokens = [v for v in driver.client.auth.secret_values() if v != SECRET]
    assert tokens, "the auth strategy should hold a fetched token"
    assert any("retrying" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for text in (logged, *errors):
        for secret in (SECRET, "wrong-secret", "SIGNATURE-SECRET", "CRED-SECRET", *tokens):
            assert secret not in text


def test_sync_client_works_without_event_loop(admin: Admin) -> None:
    with HttpClient(
        f"{admin.url}/genesys-cloud", vendor=VENDOR, auth=oauth(admin.url), policy=FAST
    ) as client:
        assert client.get_json(ORG)["id"]
        assert client.request("GET", ORG).headers["content-type"].startswith("application/json")


class _Repeating(Paginator):
    def next_request(self, page_json: Any, items_count: int, previous: RequestSpec) -> RequestSpec | None:
        return previous


async def test_paging_that_does_not_advance_is_an_error(admin: Admin, make: Any) -> None:
    driver = make()
    with pytest.raises(VendorResponseError, match="did not advance"):
        await driver.pages("GET", ORG, paginator=_Repeating())
