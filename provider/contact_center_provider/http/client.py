"""The sync (requests) and async (aiohttp) HTTP clients every vendor hook is built on.

Both share :class:`~contact_center_provider.http._common.ClientCore` (URL/header/body building,
the retry decision, error mapping); only sending and sleeping are written twice. Async method
names carry an ``a`` prefix.

Behaviour common to both:

* failures are retried per the :class:`RetryPolicy`, honouring ``Retry-After`` and the deadline;
  ``creates=True`` requests are only resent when the vendor provably did not process them,
  otherwise :class:`AmbiguousSubmissionError` is raised;
* a 401 with a refreshable auth (OAuth 2) refreshes the token once and resends;
* an absolute URL on another host (pre-signed download, vendor ``next`` link) gets no
  credentials and no client-wide headers; query strings never reach logs or errors;
* a status outside ``expect`` raises the typed error for it
  (:func:`~contact_center_provider.http.errors.error_class_for_status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any

import aiohttp
import requests
import urllib3.exceptions
from yarl import URL

from contact_center_provider.http._common import (
    DEFAULT_EXPECT,
    MAX_ERROR_BODY,
    AttemptState,
    ClientCore,
    FormOrBytes,
    JSONBody,
    Response,
    Target,
)
from contact_center_provider.http.errors import VendorTransportError
from contact_center_provider.http.retry import Outcome, OutcomeKind, parse_retry_after

__all__ = ["AsyncHttpClient", "HttpClient", "Response"]


def _root_cause_name(exc: BaseException) -> str:
    """Name the innermost cause (never ``str(exc)``: requests puts the full URL, query included, in it)."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        inner: Any = current.__cause__ or current.__context__
        if inner is None and current.args and isinstance(current.args[0], BaseException):
            inner = current.args[0]
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            inner = current.reason
        if not isinstance(inner, BaseException):
            break
        current = inner
    return type(current).__name__


def _classify_requests_error(exc: requests.RequestException) -> Outcome | None:
    """Map a requests exception to an :class:`Outcome`; ``None`` for programming errors."""
    detail = _root_cause_name(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Outcome(OutcomeKind.CONNECT_ERROR, detail=detail)
    if isinstance(exc, requests.exceptions.Timeout):
        return Outcome(OutcomeKind.TIMEOUT, detail=detail)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return Outcome(OutcomeKind.TRUNCATED, detail=detail)
    if isinstance(exc, requests.exceptions.SSLError):
        return Outcome(OutcomeKind.CONNECT_ERROR, detail=detail)
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        if isinstance(reason, urllib3.exceptions.NewConnectionError):  # refused, DNS (NameResolutionError)
            return Outcome(OutcomeKind.CONNECT_ERROR, detail=detail)
        return Outcome(OutcomeKind.RESET, detail=detail)
    return None


def _classify_aiohttp_error(exc: BaseException) -> Outcome | None:
    """Map an aiohttp exception to an :class:`Outcome`; ``None`` for programming errors."""
    detail = type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
        return Outcome(OutcomeKind.CONNECT_ERROR, detail=detail)
    if isinstance(exc, asyncio.TimeoutError):  # SocketTimeoutError, ServerTimeoutError
        return Outcome(OutcomeKind.TIMEOUT, detail=detail)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return Outcome(OutcomeKind.TRUNCATED, detail=detail)
    if isinstance(exc, aiohttp.TooManyRedirects | aiohttp.InvalidURL):
        return None
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientResponseError):
        return Outcome(OutcomeKind.RESET, detail=detail)
    return None


def _retry_after(status: int, headers: Mapping[str, str]) -> float | None:
    return parse_retry_after(headers.get("Retry-After")) if status >= 400 else None


class HttpClient(ClientCore):
    """Synchronous client (``requests``) for hooks running in workers.

    :param base_url: the vendor API base, e.g. ``https://api.mypurecloud.com``.
    :param vendor: vendor key used in logs and errors.
    :param auth: how to authenticate (``None``: no credentials).
    :param policy: retry policy.
    :param timeout: connect and read timeout of one attempt, in seconds.
    :param headers: headers sent with every request to the vendor's host.
    :param error_parser: turns an error response into code/message/correlation id.
    :param rng: random source for backoff jitter (seed it for reproducible tests).

    Use as a context manager or call :meth:`close`.
    """

    # Created on first use (the constructor is ClientCore's, shared with AsyncHttpClient).
    _session: requests.Session | None = None
    _fresh_session: requests.Session | None = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        for session in (self._session, self._fresh_session):
            if session is not None:
                session.close()
        self._session = self._fresh_session = None

    def _get_session(self, creates: bool) -> requests.Session:
        # Creating requests use their own session whose requests all say "Connection: close",
        # so its pool never holds a stale keep-alive connection (see ClientCore.base_headers).
        if creates:
            if self._fresh_session is None:
                self._fresh_session = requests.Session()
            return self._fresh_session
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None,
        json: JSONBody,
        data: FormOrBytes,
        headers: Mapping[str, str] | None,
        creates: bool,
        expect: tuple[int, ...],
        authenticate: bool | None,
        stream: bool,
    ) -> tuple[Target, requests.Response, Response | None]:
        """The retry loop. Returns the open response (stream) or the complete one."""
        target = self.target(path_or_url, params)
        body, content_type = self.encode_body(json, data)
        use_auth = self.use_auth(target, authenticate)
        session = self._get_session(creates)
        state = AttemptState()
        while True:
            state.attempt += 1
            sent_headers = self.base_headers(target, headers, creates)
            if content_type:
                sent_headers.setdefault("Content-Type", content_type)
            auth_headers: dict[str, str] = {}
            if use_auth and self.auth is not None:
                auth_headers = self.auth.auth_headers(self)
                sent_headers.update(auth_headers)
            raw: requests.Response | None = None
            response: Response | None = None
            keep_open = False
            try:
                raw = session.request(
                    method,
                    target.url,
                    data=body,
                    headers=sent_headers,
                    timeout=(self.timeout, self.timeout),
                    stream=True,
                )
                if stream and raw.status_code in expect:
                    keep_open = True
                    self.log_attempt(method, target, state, str(raw.status_code))
                    return target, raw, None
                content = raw.raw.read(MAX_ERROR_BODY, decode_content=True) if stream else raw.content
                response = self.make_response(method, target, raw.status_code, raw.headers, content)
                outcome = Outcome.response(raw.status_code, _retry_after(raw.status_code, raw.headers))
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                classified = (
                    _classify_requests_error(exc)
                    if isinstance(exc, requests.RequestException)
                    else Outcome(OutcomeKind.TRUNCATED, detail=type(exc).__name__)
                )
                if classified is None:
                    raise
                outcome = classified
            finally:
                if raw is not None and not keep_open:
                    raw.close()
            self.log_attempt(method, target, state, outcome.describe())
            if response is not None and response.status in expect:
                return target, raw, response  # type: ignore[return-value]
            decision = self.on_failure(method, target, state, outcome, creates, use_auth)
            if not decision.retry:
                raise self.failure_error(method, target, state, outcome, decision, response)
            if decision.refresh_auth and self.auth is not None:
                self.auth.invalidate(auth_headers)
            if decision.delay > 0:
                time.sleep(decision.delay)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: JSONBody = None,
        data: FormOrBytes = None,
        headers: Mapping[str, str] | None = None,
        creates: bool = False,
        expect: tuple[int, ...] = DEFAULT_EXPECT,
        authenticate: bool | None = None,
    ) -> Response:
        """Send a request with retries and return the complete response.

        :param method: HTTP method.
        :param path_or_url: a path under ``base_url`` or an absolute URL.
        :param params: query parameters, appended to any query already in ``path_or_url``.
        :param json: a JSON body (mutually exclusive with ``data``).
        :param data: a form (mapping) or raw body (bytes/str).
        :param headers: extra headers for this request.
        :param creates: the request creates a job: never resend it when it may have been processed.
        :param expect: statuses that count as success.
        :param authenticate: attach credentials; ``None`` means only to the base URL's host.
        :raises VendorAPIError: a subclass matching the failure, after retries where retryable.
        """
        _, _, response = self._send(
            method.upper(),
            path_or_url,
            params=params,
            json=json,
            data=data,
            headers=headers,
            creates=creates,
            expect=expect,
            authenticate=authenticate,
            stream=False,
        )
        assert response is not None
        return response

    def get_json(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Any:
        """GET and parse JSON (``None`` for an empty body)."""
        response = self.request("GET", path_or_url, params=params, headers=headers, expect=expect)
        return response.json() if response.content else None

    def post_json(
        self,
        path_or_url: str,
        json: JSONBody = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        creates: bool = False,
        expect: tuple[int, ...] = (200, 201, 202),
    ) -> Any:
        """POST a JSON body and parse the JSON answer (``None`` for an empty body)."""
        response = self.request(
            "POST", path_or_url, params=params, json=json, headers=headers, creates=creates, expect=expect
        )
        return response.json() if response.content else None

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        path_or_url: str,
        *,
        chunk_size: int = 1 << 20,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        authenticate: bool | None = None,
    ) -> Iterator[Iterator[bytes]]:
        """Open a download and yield an iterator of body chunks (for big files).

        Failures are retried until the status line arrives; once bytes flow, a broken
        connection raises :class:`VendorTransportError` (the caller restarts the download).
        """
        target, raw, _ = self._send(
            method.upper(),
            path_or_url,
            params=params,
            json=None,
            data=None,
            headers=headers,
            creates=False,
            expect=expect,
            authenticate=authenticate,
            stream=True,
        )
        try:
            yield self._iter_chunks(method.upper(), target, raw, chunk_size)
        finally:
            raw.close()

    def _iter_chunks(
        self, method: str, target: Target, raw: requests.Response, chunk_size: int
    ) -> Iterator[bytes]:
        error: VendorTransportError | None = None
        try:
            yield from raw.iter_content(chunk_size)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            error = VendorTransportError(
                vendor=self.vendor,
                method=method,
                url=target.safe_url,
                message=f"download interrupted ({_root_cause_name(exc)}); restart it",
            )
        if error is not None:
            raise error


class AsyncHttpClient(ClientCore):
    """Asynchronous client (``aiohttp``) for triggers and async code; same constructor as :class:`HttpClient`.

    The ``aiohttp.ClientSession`` is created lazily inside the running loop; use
    ``async with`` or call :meth:`aclose`. One instance serves one event loop.
    """

    # Created lazily inside the running loop (the constructor is ClientCore's).
    _session: aiohttp.ClientSession | None = None
    _fresh_session: aiohttp.ClientSession | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> AsyncHttpClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the sessions (and their connections)."""
        for session in (self._session, self._fresh_session):
            if session is not None:
                await session.close()
        self._session = self._fresh_session = None
        self._loop = None

    def _get_session(self, creates: bool) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            raise RuntimeError(
                "AsyncHttpClient is bound to another event loop; create one client per loop "
                "(e.g. inside the trigger's run())"
            )
        self._loop = loop
        if creates:
            if self._fresh_session is None:
                # force_close: every creating request gets a fresh connection (no stale keep-alive).
                self._fresh_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
            return self._fresh_session
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _asend(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None,
        json: JSONBody,
        data: FormOrBytes,
        headers: Mapping[str, str] | None,
        creates: bool,
        expect: tuple[int, ...],
        authenticate: bool | None,
        stream: bool,
    ) -> tuple[Target, aiohttp.ClientResponse, Response | None]:
        """The async retry loop; mirrors :meth:`HttpClient._send`."""
        target = self.target(path_or_url, params)
        body, content_type = self.encode_body(json, data)
        use_auth = self.use_auth(target, authenticate)
        session = self._get_session(creates)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=self.timeout)
        # encoded=True: send the URL byte for byte (re-quoting would break pre-signed signatures).
        url = URL(target.url, encoded=True)
        state = AttemptState()
        while True:
            state.attempt += 1
            sent_headers = self.base_headers(target, headers, creates)
            if content_type:
                sent_headers.setdefault("Content-Type", content_type)
            auth_headers: dict[str, str] = {}
            if use_auth and self.auth is not None:
                auth_headers = await self.auth.aauth_headers(self)
                sent_headers.update(auth_headers)
            raw: aiohttp.ClientResponse | None = None
            response: Response | None = None
            keep_open = False
            try:
                raw = await session.request(method, url, data=body, headers=sent_headers, timeout=timeout)
                if stream and raw.status in expect:
                    keep_open = True
                    self.log_attempt(method, target, state, str(raw.status))
                    return target, raw, None
                content = await (raw.content.read(MAX_ERROR_BODY) if stream else raw.read())
                response = self.make_response(method, target, raw.status, raw.headers, content)
                outcome = Outcome.response(raw.status, _retry_after(raw.status, raw.headers))
            except (TimeoutError, aiohttp.ClientError) as exc:
                classified = _classify_aiohttp_error(exc)
                if classified is None:
                    raise
                outcome = classified
            finally:
                if raw is not None and not keep_open:
                    raw.release()
            self.log_attempt(method, target, state, outcome.describe())
            if response is not None and response.status in expect:
                assert raw is not None
                return target, raw, response
            decision = self.on_failure(method, target, state, outcome, creates, use_auth)
            if not decision.retry:
                raise self.failure_error(method, target, state, outcome, decision, response)
            if decision.refresh_auth and self.auth is not None:
                self.auth.invalidate(auth_headers)
            if decision.delay > 0:
                await asyncio.sleep(decision.delay)

    async def arequest(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: JSONBody = None,
        data: FormOrBytes = None,
        headers: Mapping[str, str] | None = None,
        creates: bool = False,
        expect: tuple[int, ...] = DEFAULT_EXPECT,
        authenticate: bool | None = None,
    ) -> Response:
        """Async twin of :meth:`HttpClient.request`."""
        _, _, response = await self._asend(
            method.upper(),
            path_or_url,
            params=params,
            json=json,
            data=data,
            headers=headers,
            creates=creates,
            expect=expect,
            authenticate=authenticate,
            stream=False,
        )
        assert response is not None
        return response

    async def aget_json(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Any:
        """Async twin of :meth:`HttpClient.get_json`."""
        response = await self.arequest("GET", path_or_url, params=params, headers=headers, expect=expect)
        return response.json() if response.content else None

    async def apost_json(
        self,
        path_or_url: str,
        json: JSONBody = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        creates: bool = False,
        expect: tuple[int, ...] = (200, 201, 202),
    ) -> Any:
        """Async twin of :meth:`HttpClient.post_json`."""
        response = await self.arequest(
            "POST", path_or_url, params=params, json=json, headers=headers, creates=creates, expect=expect
        )
        return response.json() if response.content else None

    @contextlib.asynccontextmanager
    async def astream(
        self,
        method: str,
        path_or_url: str,
        *,
        chunk_size: int = 1 << 20,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        authenticate: bool | None = None,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """Async twin of :meth:`HttpClient.stream`: yields an async iterator of body chunks."""
        target, raw, _ = await self._asend(
            method.upper(),
            path_or_url,
            params=params,
            json=None,
            data=None,
            headers=headers,
            creates=False,
            expect=expect,
            authenticate=authenticate,
            stream=True,
        )
        try:
            yield self._aiter_chunks(method.upper(), target, raw, chunk_size)
        finally:
            raw.release()

    async def _aiter_chunks(
        self, method: str, target: Target, raw: aiohttp.ClientResponse, chunk_size: int
    ) -> AsyncIterator[bytes]:
        error: VendorTransportError | None = None
        try:
            async for chunk in raw.content.iter_chunked(chunk_size):
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = VendorTransportError(
                vendor=self.vendor,
                method=method,
                url=target.safe_url,
                message=f"download interrupted ({type(exc).__name__}); restart it",
            )
        if error is not None:
            raise error
