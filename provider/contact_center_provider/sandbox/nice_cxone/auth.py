"""Tenants, access keys, tokens and the per-tenant call-spacing rule (no HTTP).

Both authentication generations issue the same kind of token: a JWT-shaped string whose
payload carries the ``tenantId`` claim that clients read to discover their API host. The
signature part is random: clients must not (and cannot) verify it.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import NiceApiError, throttled
from .settings import NiceSettings

#: A secret the sandbox always rejects, so tests can provoke a refused token request.
WRONG_SECRET = "wrong-secret"
#: The access key of the sandbox's ready-made connection, and its tenant's name.
DEFAULT_ACCESS_KEY_ID = "sandbox-access-key"
DEFAULT_TENANT_NAME = "Sandbox Tenant"
_TENANT_NAMESPACE = uuid.UUID("6f1e9a52-2c1d-4d0e-9a57-3b8f0c7a1d11")


class InvalidCredentials(Exception):
    """The token endpoint refuses these credentials."""


@dataclass(frozen=True)
class Tenant:
    """A CXone tenant (business unit); every access key belongs to one."""

    id: str
    name: str


def tenant_for_access_key(access_key_id: str) -> Tenant:
    """Each access key id maps to one tenant; ``...@<name>`` picks a tenant shared by several keys."""
    _, sep, shared = access_key_id.rpartition("@")
    key = shared if sep else access_key_id
    name = DEFAULT_TENANT_NAME if key == DEFAULT_ACCESS_KEY_ID else f"Tenant {key}"
    return Tenant(id=str(uuid.uuid5(_TENANT_NAMESPACE, key)), name=name)


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class Token:
    """One issued access token."""

    value: str
    tenant: Tenant
    access_key_id: str
    expires_at: float


@dataclass
class CallRecord:
    """One call of a tenant, as the spacing rule sees it."""

    t: float
    method: str
    path: str
    throttled: bool

    def to_json(self) -> dict[str, Any]:
        return {"t": self.t, "method": self.method, "path": self.path, "throttled": self.throttled}


@dataclass
class TenantCalls:
    """Calls of one tenant: the log, when the last counted call arrived, what is in flight."""

    records: list[CallRecord] = field(default_factory=list)
    last_counted: float | None = None
    in_flight: int = 0

    def min_gap(self) -> float | None:
        """Shortest time between two consecutive recorded calls (``None`` below two calls)."""
        times = [r.t for r in self.records]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        return min(gaps) if gaps else None


class TokenStore:
    """Issues and checks tokens and applies the spacing rule per tenant.

    :param settings: returns the current settings (they change when patched).
    :param clock: monotonic seconds; injectable for unit tests.
    :param wall: wall-clock seconds (``iat``/``exp`` claims).
    """

    def __init__(
        self, settings: Callable[[], NiceSettings], clock: Callable[[], float], wall: Callable[[], float]
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._wall = wall
        self._tokens: dict[str, Token] = {}
        self._expiry_applied_for: NiceSettings | None = None
        self.tenants: dict[str, Tenant] = {}
        self.calls: dict[str, TenantCalls] = {}

    # -- tokens -----------------------------------------------------------------------------

    def _apply_pending_expiry(self) -> None:
        settings = self._settings()
        if settings.expire_tokens_now and self._expiry_applied_for is not settings:
            self._expiry_applied_for = settings
            self.expire_all()

    def expire_all(self) -> int:
        """Expire every issued token; returns how many were live."""
        now = self._clock()
        live = sum(1 for token in self._tokens.values() if token.expires_at > now)
        for token in self._tokens.values():
            token.expires_at = min(token.expires_at, now - 1)
        return live

    def check_access_key(self, access_key_id: Any, secret: Any) -> Tenant:
        """The tenant of an access key.

        :raises InvalidCredentials: empty values, ``wrong-secret``, or a mismatch with the settings.
        """
        settings = self._settings()
        if (
            not isinstance(access_key_id, str)
            or not isinstance(secret, str)
            or not access_key_id
            or not secret
        ):
            raise InvalidCredentials("access key id and secret are required")
        if secret == WRONG_SECRET:
            raise InvalidCredentials("invalid access key secret")
        if settings.required_access_key_id is not None and access_key_id != settings.required_access_key_id:
            raise InvalidCredentials("unknown access key id")
        if settings.required_access_key_secret is not None and secret != settings.required_access_key_secret:
            raise InvalidCredentials("invalid access key secret")
        tenant = tenant_for_access_key(access_key_id)
        self.tenants[tenant.id] = tenant
        return tenant

    def check_client(self, client_id: Any, client_secret: Any) -> None:
        """Check the registered OAuth client of the password grant.

        :raises InvalidCredentials: empty values, ``wrong-secret``, or a mismatch with the settings.
        """
        settings = self._settings()
        if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_id:
            raise InvalidCredentials("client authentication failed")
        if client_secret == WRONG_SECRET or not client_secret:
            raise InvalidCredentials("client authentication failed")
        if settings.required_client_id is not None and client_id != settings.required_client_id:
            raise InvalidCredentials("client authentication failed")
        if settings.required_client_secret is not None and client_secret != settings.required_client_secret:
            raise InvalidCredentials("client authentication failed")

    def issue(self, tenant: Tenant, access_key_id: str, issuer: str) -> tuple[Token, str]:
        """Issue an access token (and an id token) for ``tenant``."""
        ttl = self._settings().token_ttl_seconds
        iat = int(self._wall())
        claims = {
            "iss": issuer,
            "sub": f"user:{access_key_id}",
            "tenantId": tenant.id,
            "tenant": tenant.name,
            "iat": iat,
            "exp": iat + ttl,
            "jti": secrets.token_hex(8),
        }
        header = _b64({"alg": "RS256", "typ": "JWT"})
        value = f"{header}.{_b64(claims)}.{secrets.token_urlsafe(32)}"
        id_token = f"{header}.{_b64({**claims, 'aud': 'sandbox'})}.{secrets.token_urlsafe(32)}"
        token = Token(value=value, tenant=tenant, access_key_id=access_key_id, expires_at=self._clock() + ttl)
        self._tokens[value] = token
        return token, id_token

    def authenticate(self, header: str | None) -> Token:
        """The live token of an ``Authorization: Bearer ...`` header.

        :raises NiceApiError: 401 when it is missing, unknown or expired.
        """
        self._apply_pending_expiry()
        if not header or not header.lower().startswith("bearer "):
            raise NiceApiError(401)
        token = self._tokens.get(header[7:].strip())
        if token is None or token.expires_at <= self._clock():
            raise NiceApiError(401)
        return token

    # -- the spacing rule -------------------------------------------------------------------

    def begin_call(self, tenant_id: str, method: str, path: str, *, enforce: bool) -> bool:
        """Record a call of ``tenant_id``; refuse it when it breaks the spacing rule.

        Call :meth:`end_call` with the returned flag when an accepted call is answered.

        :raises NiceApiError: the throttling answer (when ``enforce`` and the settings say so).
        """
        settings = self._settings()
        calls = self.calls.setdefault(tenant_id, TenantCalls())
        now = self._clock()
        if not enforce:
            # Outside the rule (token and discovery calls by default): recorded, never counted.
            calls.records.append(CallRecord(now, method, path, False))
            return False
        too_soon = calls.last_counted is not None and now - calls.last_counted < settings.call_spacing_seconds
        busy = calls.in_flight > 0
        refuse = settings.enforce_spacing and (too_soon or busy)
        calls.records.append(CallRecord(now, method, path, refuse))
        if refuse:
            if settings.throttled_calls_count:
                calls.last_counted = now
            raise throttled(
                settings.throttle_status, settings.call_spacing_seconds, settings.throttle_retry_after
            )
        calls.last_counted = now
        calls.in_flight += 1
        return True

    def end_call(self, tenant_id: str, counted: bool) -> None:
        """An accepted call was answered (``counted``: what :meth:`begin_call` returned)."""
        if counted:
            self.calls[tenant_id].in_flight -= 1

    def calls_json(self) -> dict[str, Any]:
        """Every tenant's call log and the shortest gap between two of its calls."""
        return {
            tenant_id: {
                "name": self.tenants[tenant_id].name if tenant_id in self.tenants else None,
                "calls": [r.to_json() for r in calls.records],
                "throttled": sum(1 for r in calls.records if r.throttled),
                "min_gap": calls.min_gap(),
            }
            for tenant_id, calls in self.calls.items()
        }
