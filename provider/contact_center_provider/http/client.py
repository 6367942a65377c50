"""The sync and async HTTP clients every vendor hook is built on.

Both send through httpx configured once in :mod:`contact_center_provider.http.transport`
(proxies and CA bundle from the environment, one failure classification) and share
:class:`~contact_center_provider.http._common.ClientCore` (URL/header/body building, the gate,
the retry decision, error mapping); only sending, reading and sleeping are written twice.
Async method names carry an ``a`` prefix.

Behaviour common to both:

* failures are retried per the :class:`RetryPolicy`, honouring ``Retry-After`` and the deadline;
  ``creates=True`` requests are only resent when the vendor provably did not process them,
  otherwise :class:`AmbiguousSubmissionError` is raised;
* a 401 with a refreshable auth (OAuth 2) refreshes the token once and resends;
* every attempt passes the client's :class:`~contact_center_provider.http.limits.RequestGate`
  (if any) right before it is sent;
* an absolute URL on another host (pre-signed download, vendor ``next`` link) gets no
  credentials and no client-wide headers; query strings never reach logs or errors;
* a status outside ``expect`` raises the typed error for it
  (:func:`~contact_center_provider.http.errors.error_class_for_status`); a request that cannot
  be sent (invalid URL) raises :class:`~contact_center_provider.http.errors.VendorRequestError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx

from contact_center_provider.http import transport
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
from contact_center_provider.http.retry import Outcome
from contact_center_provider.http.transport import Phase

__all__ = ["AsyncHttpClient", "HttpClient", "Response"]


def _interrupted(
    client: ClientCore, method: str, target: Target, exc: httpx.HTTPError
) -> VendorTransportError:
    detail = transport.classify(exc, Phase.BODY).detail
    return VendorTransportError(
        vendor=client.vendor,
        method=method,
        url=target.safe_url,
        message=client.scrub(f"download interrupted ({detail}); restart it"),
    )


class HttpClient(ClientCore):
    """Synchronous client for hooks running in workers.

    :param base_url: the vendor API base, e.g. ``https://api.mypurecloud.com``.
    :param vendor: vendor key used in logs and errors.
    :param auth: how to authenticate (``None``: no credentials).
    :param policy: retry policy.
    :param timeout: connect, read and write timeout of one attempt, in seconds.
    :param headers: headers sent with every request to the vendor's host.
    :param error_parser: turns an error response into code/message/correlation id.
    :param rng: random source for backoff jitter (seed it for reproducible tests).
    :param gate: passed right before every attempt (shared request limits, see
        :mod:`contact_center_provider.http.limits`).

    Proxy and CA settings are read from the environment when the first request is sent.
    Use as a context manager or call :meth:`close`.
    """

    # Created on first use (the constructor is ClientCore's, shared with AsyncHttpClient).
    _pooled: httpx.Client | None = None
    _fresh: httpx.Client | None = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        for session in (self._pooled, self._fresh):
            if session is not None:
                session.close()
        self._pooled = self._fresh = None

    def _session(self, creates: bool) -> httpx.Client:
        # Creating requests use a client without a keep-alive pool, so they never go out on a
        # stale pooled connection (see ClientCore.attempt_headers).
        if creates:
            if self._fresh is None:
                self._fresh = transport.sync_client(fresh_connections=True)
            return self._fresh
        if self._pooled is None:
            self._pooled = transport.sync_client()
        return self._pooled

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
    ) -> tuple[Target, httpx.Response, Response | None]:
        """The retry loop. Returns the open response (stream) or the complete one."""
        target = self.target(path_or_url, params, method)
        body, content_type = self.encode_body(json, data)
        use_auth = self.use_auth(target, authenticate)
        session = self._session(creates)
        limits = transport.timeout(self.timeout)
        state = AttemptState()
        while True:
            state.attempt += 1
            sent_headers = self.attempt_headers(target, headers, creates, content_type)
            auth_headers: dict[str, str] = {}
            if use_auth and self.auth is not None:
                auth_headers = self.auth.auth_headers(self)
                sent_headers.update(auth_headers)
            self.pass_gate(method, target)
            raw: httpx.Response | None = None
            response: Response | None = None
            keep_open = False
            phase = Phase.SENDING
            outcome: Outcome
            try:
                request = session.build_request(
                    method, target.url, content=body, headers=sent_headers, timeout=limits
                )
                raw = session.send(request, stream=True)
                phase = Phase.BODY
                if stream and raw.status_code in expect:
                    keep_open = True
                    self.log_attempt(method, target, state, str(raw.status_code))
                    return target, raw, None
                content = self._read_capped(raw) if stream else raw.read()
                response = self.make_response(method, target, raw.status_code, raw.headers, content)
                outcome = self.response_outcome(raw.status_code, raw.headers)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                outcome = transport.classify(exc, phase)
            finally:
                if raw is not None and not keep_open:
                    raw.close()
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
                time.sleep(decision.delay)

    @staticmethod
    def _read_capped(raw: httpx.Response) -> bytes:
        """The first bytes of an error body met while streaming (the rest is discarded)."""
        buffer = bytearray()
        for chunk in raw.iter_bytes():
            buffer += chunk
            if len(buffer) >= MAX_ERROR_BODY:
                break
        return bytes(buffer[:MAX_ERROR_BODY])

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
        self, method: str, target: Target, raw: httpx.Response, chunk_size: int
    ) -> Iterator[bytes]:
        error: VendorTransportError | None = None
        try:
            yield from raw.iter_bytes(chunk_size)
        except httpx.HTTPError as exc:
            error = _interrupted(self, method, target, exc)
        if error is not None:
            raise error  # outside the except block: the httpx exception is not chained


class AsyncHttpClient(ClientCore):
    """Asynchronous client for triggers and async code; same constructor as :class:`HttpClient`.

    The httpx client is created lazily inside the running loop; use ``async with`` or call
    :meth:`aclose`. One instance serves one event loop.
    """

    # Created lazily inside the running loop (the constructor is ClientCore's).
    _pooled: httpx.AsyncClient | None = None
    _fresh: httpx.AsyncClient | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> AsyncHttpClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the httpx clients (and their connections)."""
        for session in (self._pooled, self._fresh):
            if session is not None:
                await session.aclose()
        self._pooled = self._fresh = None
        self._loop = None

    def _session(self, creates: bool) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            raise RuntimeError(
                "AsyncHttpClient is bound to another event loop; create one client per loop "
                "(e.g. inside the trigger's run())"
            )
        self._loop = loop
        if creates:
            if self._fresh is None:
                self._fresh = transport.async_client(fresh_connections=True)
            return self._fresh
        if self._pooled is None:
            self._pooled = transport.async_client()
        return self._pooled

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
    ) -> tuple[Target, httpx.Response, Response | None]:
        """The async retry loop; mirrors :meth:`HttpClient._send`."""
        target = self.target(path_or_url, params, method)
        body, content_type = self.encode_body(json, data)
        use_auth = self.use_auth(target, authenticate)
        session = self._session(creates)
        limits = transport.timeout(self.timeout)
        state = AttemptState()
        while True:
            state.attempt += 1
            sent_headers = self.attempt_headers(target, headers, creates, content_type)
            auth_headers: dict[str, str] = {}
            if use_auth and self.auth is not None:
                auth_headers = await self.auth.aauth_headers(self)
                sent_headers.update(auth_headers)
            await self.apass_gate(method, target)
            raw: httpx.Response | None = None
            response: Response | None = None
            keep_open = False
            phase = Phase.SENDING
            outcome: Outcome
            try:
                request = session.build_request(
                    method, target.url, content=body, headers=sent_headers, timeout=limits
                )
                raw = await session.send(request, stream=True)
                phase = Phase.BODY
                if stream and raw.status_code in expect:
                    keep_open = True
                    self.log_attempt(method, target, state, str(raw.status_code))
                    return target, raw, None
                content = await (self._aread_capped(raw) if stream else raw.aread())
                response = self.make_response(method, target, raw.status_code, raw.headers, content)
                outcome = self.response_outcome(raw.status_code, raw.headers)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                outcome = transport.classify(exc, phase)
            finally:
                if raw is not None and not keep_open:
                    await raw.aclose()
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

    @staticmethod
    async def _aread_capped(raw: httpx.Response) -> bytes:
        """Async twin of :meth:`HttpClient._read_capped`."""
        buffer = bytearray()
        async for chunk in raw.aiter_bytes():
            buffer += chunk
            if len(buffer) >= MAX_ERROR_BODY:
                break
        return bytes(buffer[:MAX_ERROR_BODY])

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
            await raw.aclose()

    async def _aiter_chunks(
        self, method: str, target: Target, raw: httpx.Response, chunk_size: int
    ) -> AsyncIterator[bytes]:
        error: VendorTransportError | None = None
        try:
            async for chunk in raw.aiter_bytes(chunk_size):
                yield chunk
        except httpx.HTTPError as exc:
            error = _interrupted(self, method, target, exc)
        if error is not None:
            raise error
