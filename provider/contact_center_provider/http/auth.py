"""Authentication strategies usable by both :class:`HttpClient` and :class:`AsyncHttpClient`.

A strategy turns credentials into request headers (``auth_headers`` / ``aauth_headers``). The
OAuth 2 strategies (client credentials, password grant) fetch their token through the client
they are used by, so the token request gets the same retry policy, request gate, typed errors
and logging as every other call.

Every secret and every fetched token is registered with Airflow's secrets masker when Airflow
is importable, and no strategy ever shows a secret in its ``repr``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote, quote_plus

from contact_center_provider.http.errors import (
    VendorAPIError,
    VendorAuthError,
    VendorRateLimitError,
    VendorServerError,
    VendorTransportError,
    strip_query,
)

if TYPE_CHECKING:
    from contact_center_provider.http.client import AsyncHttpClient, HttpClient, Response

__all__ = [
    "ApiKeyHeader",
    "AuthStrategy",
    "BasicAuth",
    "BearerToken",
    "OAuth2ClientCredentials",
    "OAuth2PasswordGrant",
    "TokenInfo",
    "default_token_parser",
    "mask_secret",
    "shared_auth",
]

#: ``expires_in`` assumed when a token response does not say (seconds).
DEFAULT_TOKEN_TTL = 3600.0


@functools.cache
def _airflow_maskers() -> tuple[Callable[[str], None] | None, Callable[[str], Awaitable[None]] | None]:
    try:
        from airflow.sdk.log import amask_secret, mask_secret
    except ImportError:  # running outside Airflow (sandbox, scripts)
        return None, None
    return mask_secret, amask_secret


def mask_secret(value: str | None) -> None:
    """Register ``value`` with Airflow's secrets masker (no-op outside Airflow or for empty values)."""
    sync_mask, _ = _airflow_maskers()
    if value and sync_mask is not None:
        sync_mask(value)


async def amask_secret(value: str | None) -> None:
    """Async twin of :func:`mask_secret`: safe inside a triggerer's or worker's event loop."""
    _, async_mask = _airflow_maskers()
    if value and async_mask is not None:
        await async_mask(value)


class AuthStrategy:
    """Interface of an authentication strategy.

    Subclasses return the headers to add to an authenticated request. ``refreshable`` strategies
    can obtain fresh credentials after :meth:`invalidate`, so the client retries a 401 once.
    """

    refreshable: ClassVar[bool] = False

    def auth_headers(self, client: HttpClient) -> dict[str, str]:
        """Headers for a request sent by the sync ``client``."""
        raise NotImplementedError

    async def aauth_headers(self, client: AsyncHttpClient) -> dict[str, str]:
        """Headers for a request sent by the async ``client``."""
        raise NotImplementedError

    def invalidate(self, failed_headers: Mapping[str, str] | None = None) -> None:
        """Forget cached credentials after the vendor answered 401.

        :param failed_headers: the auth headers of the refused request; when given, only those
            credentials are dropped, so concurrent 401s trigger a single refresh.
        """

    def secret_values(self) -> tuple[str, ...]:
        """Secrets this strategy holds (the client scrubs them from error messages)."""
        return ()


class _StaticHeaders(AuthStrategy):
    """A strategy whose headers never change."""

    def __init__(self, headers: dict[str, str], secrets: tuple[str, ...]) -> None:
        self._headers = headers
        self._secrets = tuple(s for s in secrets if s)
        self._masked = False

    def auth_headers(self, client: HttpClient) -> dict[str, str]:
        if not self._masked:
            for value in self._secrets:
                mask_secret(value)
            self._masked = True
        return dict(self._headers)

    async def aauth_headers(self, client: AsyncHttpClient) -> dict[str, str]:
        if not self._masked:
            for value in self._secrets:
                await amask_secret(value)
            self._masked = True
        return dict(self._headers)

    def secret_values(self) -> tuple[str, ...]:
        return self._secrets


class BasicAuth(_StaticHeaders):
    """HTTP Basic authentication (RFC 7617)."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        super().__init__({"Authorization": f"Basic {encoded}"}, (password, encoded))

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='***')"


class BearerToken(_StaticHeaders):
    """A fixed bearer token (API key used as ``Authorization: Bearer ...``)."""

    def __init__(self, token: str) -> None:
        super().__init__({"Authorization": f"Bearer {token}"}, (token,))

    def __repr__(self) -> str:
        return "BearerToken(token='***')"


class ApiKeyHeader(_StaticHeaders):
    """An API key sent in a header of the vendor's choosing."""

    def __init__(self, header: str, value: str) -> None:
        self.header = header
        super().__init__({header: value}, (value,))

    def __repr__(self) -> str:
        return f"ApiKeyHeader(header={self.header!r}, value='***')"


@dataclass(frozen=True)
class TokenInfo:
    """An access token and its lifetime in seconds."""

    access_token: str
    expires_in: float = DEFAULT_TOKEN_TTL

    def __repr__(self) -> str:
        return f"TokenInfo(access_token='***', expires_in={self.expires_in!r})"


#: ``token response JSON -> TokenInfo``; raise ``KeyError``/``TypeError``/``ValueError`` if unusable.
TokenParser = Callable[[Mapping[str, Any]], TokenInfo]


def default_token_parser(payload: Mapping[str, Any]) -> TokenInfo:
    """Read ``access_token`` and ``expires_in`` (RFC 6749 section 5.1)."""
    token = payload["access_token"]
    if not isinstance(token, str) or not token:
        raise ValueError("access_token is empty or not a string")
    expires_in = payload.get("expires_in")
    return TokenInfo(token, float(expires_in) if expires_in is not None else DEFAULT_TOKEN_TTL)


def _encoded_forms(value: str) -> tuple[str, ...]:
    """``value`` and how it looks inside a URL-encoded form or query (a vendor may echo either)."""
    return tuple(dict.fromkeys((value, quote_plus(value), quote(value, safe=""))))


class _OAuth2Grant(AuthStrategy):
    """Token caching and fetching shared by the OAuth 2 grants; subclasses add their form fields.

    The token is cached until ``expires_in - refresh_margin`` (at most half its lifetime for very
    short-lived tokens) and shared by sync and async callers. Thread-safe for sync clients,
    task-safe for async ones. No refresh token is used: an expired token is simply granted again.
    Token endpoint answers other than 200 raise :class:`VendorAuthError` carrying the vendor's
    error code (e.g. ``invalid_client``, ``invalid_grant``), except transient failures
    (connection errors, 429, 5xx after retries), which keep their own types so callers can
    retry later.
    """

    refreshable: ClassVar[bool] = True
    #: How the token request's body is sent: an HTML form (OAuth 2) or JSON (NICE's access-key token).
    body_format: ClassVar[Literal["form", "json"]] = "form"
    grant_type: ClassVar[str]

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str | None,
        client_secret: str | None,
        vendor: str,
        scope: str | None,
        credentials_in: Literal["basic", "body"],
        extra_form: Mapping[str, str] | None,
        extra_headers: Mapping[str, str] | None,
        refresh_margin: float,
        token_parser: TokenParser | None,
    ) -> None:
        if credentials_in not in ("basic", "body"):
            raise ValueError(f"credentials_in must be 'basic' or 'body', got {credentials_in!r}")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.vendor = vendor
        self.scope = scope
        self.credentials_in = credentials_in
        self.extra_form = dict(extra_form or {})
        self.extra_headers = dict(extra_headers or {})
        self.refresh_margin = refresh_margin
        self.token_parser = token_parser or default_token_parser
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self._alock: asyncio.Lock | None = None
        self._alock_loop: asyncio.AbstractEventLoop | None = None
        self._basic: str | None = None
        if client_id is not None and credentials_in == "basic":
            pair = f"{client_id}:{client_secret or ''}"
            self._basic = base64.b64encode(pair.encode()).decode("ascii")
        self._secrets_masked = False

    # -- what a grant adds ---------------------------------------------------------------------

    def _grant_form(self) -> dict[str, str]:
        """The grant's own form fields besides ``grant_type``."""
        return {}

    def _credentials(self) -> tuple[str, ...]:
        """The secrets this grant sends (masked and scrubbed, never shown)."""
        return tuple(v for v in (self._client_secret, self._basic, *self.extra_headers.values()) if v)

    def _repr_fields(self) -> str:
        return f"client_id={self.client_id!r}, client_secret='***'"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(vendor={self.vendor!r}, token_url={strip_query(self.token_url)!r}, "
            f"{self._repr_fields()})"
        )

    def secret_values(self) -> tuple[str, ...]:
        values: list[str] = []
        for secret in self._credentials():
            values.extend(_encoded_forms(secret))
        if self._token:
            values.append(self._token)
        return tuple(dict.fromkeys(v for v in values if v))

    def identity(self) -> tuple[Any, ...]:
        """What makes two grants interchangeable: the same endpoint, client, credentials (by
        digest), form, headers and token parser. Raises ``TypeError`` for an unhashable parser."""
        secrets = (
            self._credentials(),
            sorted(self._grant_form().items()),
            sorted(self.extra_headers.items()),
        )
        key = (
            type(self),
            self.vendor,
            self.token_url,
            self.client_id,
            self.scope,
            self.credentials_in,
            tuple(sorted(self.extra_form.items())),
            self.refresh_margin,
            self.token_parser,
            hashlib.sha256(repr(secrets).encode()).hexdigest(),
        )
        hash(key)
        return key

    # -- cache ---------------------------------------------------------------------------------

    def _current(self) -> str | None:
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        return None

    def _store(self, info: TokenInfo) -> str:
        margin = min(self.refresh_margin, info.expires_in / 2)
        self._token = info.access_token
        self._expires_at = time.monotonic() + max(0.0, info.expires_in - margin)
        return info.access_token

    def invalidate(self, failed_headers: Mapping[str, str] | None = None) -> None:
        failed = (failed_headers or {}).get("Authorization")
        if failed is None or failed == f"Bearer {self._token}":
            self._token = None
            self._expires_at = 0.0

    # -- token request -------------------------------------------------------------------------

    def _token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        form = {"grant_type": self.grant_type, **self._grant_form(), **self.extra_form}
        if self.scope:
            form["scope"] = self.scope
        headers = {"Accept": "application/json", **self.extra_headers}
        if self._basic is not None:
            headers["Authorization"] = f"Basic {self._basic}"
        elif self.client_id is not None:
            form["client_id"] = self.client_id
            if self._client_secret is not None:
                form["client_secret"] = self._client_secret
        return form, headers

    def _parse(self, response: Response) -> TokenInfo:
        payload = response.json()
        try:
            if not isinstance(payload, Mapping):
                raise TypeError("token response is not a JSON object")
            return self.token_parser(payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise VendorAuthError(
                vendor=self.vendor,
                method="POST",
                url=self.token_url,
                status=response.status,
                message=f"unusable token response: {type(exc).__name__}: {exc}",
            ) from None

    def _as_auth_error(self, exc: VendorAPIError) -> VendorAPIError:
        if isinstance(exc, VendorAuthError | VendorTransportError | VendorRateLimitError | VendorServerError):
            return exc
        return VendorAuthError(
            vendor=exc.vendor,
            method=exc.method,
            url=exc.url,
            status=exc.status,
            code=exc.code,
            message=exc.message or "token request failed",
            correlation_id=exc.correlation_id,
            attempts=exc.attempts,
            elapsed=exc.elapsed,
        )

    def _send_body(self) -> dict[str, Any]:
        """The token request's body and headers as keyword arguments of ``request``."""
        body, headers = self._token_request()
        return {"json" if self.body_format == "json" else "data": body, "headers": headers}

    def _fetch(self, client: HttpClient) -> TokenInfo:
        try:
            response = client.request(
                "POST", self.token_url, authenticate=False, expect=(200,), **self._send_body()
            )
            return self._parse(response)
        except VendorAPIError as exc:
            raise self._as_auth_error(exc) from None

    async def _afetch(self, client: AsyncHttpClient) -> TokenInfo:
        try:
            response = await client.arequest(
                "POST", self.token_url, authenticate=False, expect=(200,), **self._send_body()
            )
            return self._parse(response)
        except VendorAPIError as exc:
            raise self._as_auth_error(exc) from None

    # -- strategy ------------------------------------------------------------------------------

    def auth_headers(self, client: HttpClient) -> dict[str, str]:
        token = self._current()
        if token is None:
            with self._lock:
                token = self._current()
                if token is None:
                    if not self._secrets_masked:
                        for secret in self._credentials():
                            mask_secret(secret)
                        self._secrets_masked = True
                    info = self._fetch(client)
                    mask_secret(info.access_token)
                    token = self._store(info)
        return {"Authorization": f"Bearer {token}"}

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        # An asyncio.Lock is bound to the loop it is first used in; triggers and tests may
        # run several loops over the strategy's lifetime.
        if self._alock is None or self._alock_loop is not loop:
            self._alock = asyncio.Lock()
            self._alock_loop = loop
        return self._alock

    async def aauth_headers(self, client: AsyncHttpClient) -> dict[str, str]:
        token = self._current()
        if token is None:
            async with self._async_lock():
                token = self._current()
                if token is None:
                    if not self._secrets_masked:
                        for secret in self._credentials():
                            await amask_secret(secret)
                        self._secrets_masked = True
                    info = await self._afetch(client)
                    await amask_secret(info.access_token)
                    token = self._store(info)
        return {"Authorization": f"Bearer {token}"}


#: One live grant per identity in this process (weak: it goes with the last client using it).
_SHARED_GRANTS: weakref.WeakValueDictionary[tuple[Any, ...], _OAuth2Grant] = weakref.WeakValueDictionary()
_SHARED_GRANTS_LOCK = threading.Lock()


def shared_auth(auth: AuthStrategy | None) -> AuthStrategy | None:
    """This process's live OAuth grant with ``auth``'s identity, or ``auth`` itself if none.

    A triggerer runs hundreds of deferred waits on one connection at once; sharing the grant
    makes them share one token (one token request, one secret for Airflow's masker, whose
    pattern is recompiled on every new secret, in the event loop) instead of one each. The
    token stays in this process's memory, where each of those triggers held its own anyway;
    nothing is written anywhere. A grant whose token parser is bound to one hook (NICE CXone's
    tenant discovery) has its own identity, so it is never shared.
    """
    if not isinstance(auth, _OAuth2Grant):
        return auth
    try:
        key = auth.identity()
    except TypeError:
        return auth
    with _SHARED_GRANTS_LOCK:
        live = _SHARED_GRANTS.get(key)
        if live is not None:
            return live
        _SHARED_GRANTS[key] = auth
        return auth


class OAuth2ClientCredentials(_OAuth2Grant):
    """OAuth 2 client-credentials grant (RFC 6749 section 4.4) with a cached, proactively refreshed token.

    :param token_url: absolute URL of the token endpoint.
    :param client_id: OAuth client id.
    :param client_secret: OAuth client secret (masked, never logged).
    :param vendor: vendor key used in errors.
    :param scope: optional ``scope`` form value.
    :param credentials_in: ``"basic"`` sends id/secret as HTTP Basic (Genesys), ``"body"`` in the form.
    :param extra_form: extra form fields for the token request (e.g. ``audience``).
    :param extra_headers: extra headers for the token request, e.g. an API key; their values
        are treated as secrets (masked, scrubbed from errors).
    :param refresh_margin: seconds before expiry at which the token is refreshed.
    :param token_parser: parses the token response JSON; override for non-standard vendors.
    """

    grant_type: ClassVar[str] = "client_credentials"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        vendor: str,
        scope: str | None = None,
        credentials_in: Literal["basic", "body"] = "basic",
        extra_form: Mapping[str, str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        refresh_margin: float = 60.0,
        token_parser: TokenParser | None = None,
    ) -> None:
        super().__init__(
            token_url,
            client_id=client_id,
            client_secret=client_secret,
            vendor=vendor,
            scope=scope,
            credentials_in=credentials_in,
            extra_form=extra_form,
            extra_headers=extra_headers,
            refresh_margin=refresh_margin,
            token_parser=token_parser,
        )


class OAuth2PasswordGrant(_OAuth2Grant):
    """OAuth 2 resource-owner password grant (RFC 6749 section 4.3) with a cached token.

    NICE CXone back-end apps send ``grant_type=password`` with the user's access key id and
    secret as ``username``/``password`` and the registered client's id/secret as HTTP Basic;
    Genesys CDDS sends Basic plus ``client_id`` in the form (``extra_form``) and an ``x-api-key``
    header (``extra_headers``). The password, the client secret and their URL-encoded forms are
    masked and scrubbed from errors; the username is not a secret and may appear.

    :param token_url: absolute URL of the token endpoint.
    :param username: the ``username`` form field (NICE: the access key id).
    :param password: the ``password`` form field (NICE: the access key secret; masked).
    :param client_id: OAuth client id, or ``None`` when the vendor needs none.
    :param client_secret: OAuth client secret (masked), or ``None``.
    :param vendor: vendor key used in errors.
    :param scope: optional ``scope`` form value.
    :param credentials_in: ``"basic"`` sends client id/secret as HTTP Basic, ``"body"`` as
        ``client_id``/``client_secret`` form fields.
    :param extra_form: extra form fields for the token request (not secret).
    :param extra_headers: extra headers for the token request (CDDS: ``x-api-key``); their values
        are treated as secrets (masked, scrubbed from errors).
    :param refresh_margin: seconds before expiry at which the token is granted again.
    :param token_parser: parses the token response JSON; override for non-standard vendors.
    """

    grant_type: ClassVar[str] = "password"

    def __init__(
        self,
        token_url: str,
        username: str,
        password: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        vendor: str,
        scope: str | None = None,
        credentials_in: Literal["basic", "body"] = "basic",
        extra_form: Mapping[str, str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        refresh_margin: float = 60.0,
        token_parser: TokenParser | None = None,
    ) -> None:
        self.username = username
        self._password = password
        super().__init__(
            token_url,
            client_id=client_id,
            client_secret=client_secret,
            vendor=vendor,
            scope=scope,
            credentials_in=credentials_in,
            extra_form=extra_form,
            extra_headers=extra_headers,
            refresh_margin=refresh_margin,
            token_parser=token_parser,
        )

    def _grant_form(self) -> dict[str, str]:
        return {"username": self.username, "password": self._password}

    def _credentials(self) -> tuple[str, ...]:
        return tuple(v for v in (self._password, *super()._credentials()) if v)

    def _repr_fields(self) -> str:
        return f"username={self.username!r}, password='***', {super()._repr_fields()}"
