"""NICE CXone's two authentication generations, as HTTP-core auth strategies.

* :class:`AccessKeyToken` — the first generation the Data Extraction document still prints:
  ``POST {host}/authentication/v1/token/access-key`` with the JSON body
  ``{"accessKeyId", "accessKeySecret"}``.
* :class:`DiscoveredPasswordGrant` — the current one: the token endpoint is read from
  ``{issuer}/.well-known/openid-configuration``, then the OAuth 2 password grant
  (:class:`~contact_center_provider.http.auth.OAuth2PasswordGrant`) sends the access key id and
  secret as ``username``/``password`` and the registered client as HTTP Basic.

Both cache the token until shortly before ``expires_in`` and get a new one after a 401 (the
HTTP core asks once per request). Their token requests go through the client they serve, so
the tenant's call spacing applies to them as well. :class:`TenantCapture` reads the
``tenantId`` claim of each token issued, which API discovery needs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from contact_center_provider.hooks.nice_cxone_wire import token_claims
from contact_center_provider.http.auth import (
    AuthStrategy,
    OAuth2PasswordGrant,
    TokenInfo,
    _OAuth2Grant,
    default_token_parser,
)

if TYPE_CHECKING:
    from contact_center_provider.http.client import AsyncHttpClient, HttpClient

__all__ = ["AccessKeyToken", "DiscoveredPasswordGrant", "TenantCapture"]


class TenantCapture:
    """A token parser that also remembers the ``tenantId`` claim (not a secret) of each token."""

    def __init__(self) -> None:
        self.tenant_id: str | None = None

    def __call__(self, payload: Mapping[str, Any]) -> TokenInfo:
        info = default_token_parser(payload)
        for name in ("id_token", "access_token"):
            value = payload.get(name)
            tenant = token_claims(value).get("tenantId") if isinstance(value, str) else None
            if isinstance(tenant, str) and tenant:
                self.tenant_id = tenant
                break
        return info


class AccessKeyToken(_OAuth2Grant):
    """The access-key token endpoint (JSON body), cached and refreshed like an OAuth 2 token.

    :param token_url: ``https://{region host}/authentication/v1/token/access-key``.
    :param access_key_id: the user's access key id.
    :param access_key_secret: its secret (masked, never logged).
    :param vendor: vendor key used in errors.
    :param refresh_margin: seconds before expiry at which a new token is requested.
    :param token_parser: parses the token response JSON.
    """

    grant_type: ClassVar[str] = "access_key"

    def __init__(
        self,
        token_url: str,
        access_key_id: str,
        access_key_secret: str,
        *,
        vendor: str,
        refresh_margin: float = 60.0,
        token_parser: Callable[[Mapping[str, Any]], TokenInfo] | None = None,
    ) -> None:
        self.access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        super().__init__(
            token_url,
            client_id=None,
            client_secret=None,
            vendor=vendor,
            scope=None,
            credentials_in="body",
            extra_form=None,
            extra_headers=None,
            refresh_margin=refresh_margin,
            token_parser=token_parser,
        )

    def _credentials(self) -> tuple[str, ...]:
        return tuple(v for v in (self._access_key_secret, *super()._credentials()) if v)

    def _repr_fields(self) -> str:
        return f"access_key_id={self.access_key_id!r}, access_key_secret='***'"

    # The endpoint takes JSON, not a form: only the body differs from the OAuth 2 grants.
    body_format = "json"

    def _token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        body = {"accessKeyId": self.access_key_id, "accessKeySecret": self._access_key_secret}
        return body, {"Accept": "application/json"}


class DiscoveredPasswordGrant(AuthStrategy):
    """The OAuth 2 password grant at the token endpoint OpenID discovery names.

    Discovery happens on first use, through ``discover``/``adiscover`` (which the hook sends
    without the tenant's call spacing: the issuer's discovery document is not a tenant API);
    everything else is :class:`OAuth2PasswordGrant`'s.

    :param discover: returns the token endpoint URL (sync).
    :param adiscover: returns the token endpoint URL (async).
    :param build: makes the grant for a token endpoint URL.
    :param secrets: the secrets the grant will hold (scrubbed from errors before discovery).
    """

    refreshable: ClassVar[bool] = True

    def __init__(
        self,
        discover: Callable[[], str],
        adiscover: Callable[[], Awaitable[str]],
        build: Callable[[str], OAuth2PasswordGrant],
        secrets: tuple[str, ...],
    ) -> None:
        self._discover = discover
        self._adiscover = adiscover
        self._build = build
        self._secrets = tuple(s for s in secrets if s)
        self._grant: OAuth2PasswordGrant | None = None
        self._lock = threading.Lock()
        self._alock: asyncio.Lock | None = None
        self._alock_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        inner = repr(self._grant) if self._grant is not None else "not discovered yet"
        return f"DiscoveredPasswordGrant({inner})"

    def _sync_grant(self) -> OAuth2PasswordGrant:
        if self._grant is None:
            with self._lock:
                if self._grant is None:
                    self._grant = self._build(self._discover())
        return self._grant

    async def _async_grant(self) -> OAuth2PasswordGrant:
        if self._grant is None:
            loop = asyncio.get_running_loop()
            if self._alock is None or self._alock_loop is not loop:
                self._alock, self._alock_loop = asyncio.Lock(), loop
            async with self._alock:
                if self._grant is None:
                    self._grant = self._build(await self._adiscover())
        return self._grant

    def auth_headers(self, client: HttpClient) -> dict[str, str]:
        return self._sync_grant().auth_headers(client)

    async def aauth_headers(self, client: AsyncHttpClient) -> dict[str, str]:
        return await (await self._async_grant()).aauth_headers(client)

    def invalidate(self, failed_headers: Mapping[str, str] | None = None) -> None:
        if self._grant is not None:
            self._grant.invalidate(failed_headers)

    def secret_values(self) -> tuple[str, ...]:
        if self._grant is not None:
            return self._grant.secret_values()
        return self._secrets
