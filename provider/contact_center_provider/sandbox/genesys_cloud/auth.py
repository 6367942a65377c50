"""OAuth client-credentials tokens and the per-token rate limit (no HTTP)."""

from __future__ import annotations

import base64
import math
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import GenesysApiError, rate_limited
from .settings import GenesysSettings

#: A secret the sandbox always rejects, so tests can provoke ``invalid_client``.
WRONG_SECRET = "wrong-secret"


class InvalidClient(Exception):
    """Client authentication failed at the token endpoint (answered 401 ``invalid_client``)."""


@dataclass
class Token:
    """One issued access token."""

    value: str
    client_id: str
    issued_at: float
    expires_at: float
    calls: deque[float] = field(default_factory=deque)


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Decode ``Authorization: Basic ...`` into ``(client_id, client_secret)``."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


class TokenStore:
    """Issues and checks bearer tokens; enforces the per-token request budget.

    :param settings: returns the current settings (they change when patched).
    :param clock: wall-clock seconds (``time.time``); injectable for unit tests.
    """

    def __init__(self, settings: Callable[[], GenesysSettings], clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self._tokens: dict[str, Token] = {}
        self._expiry_applied_for: GenesysSettings | None = None

    def _apply_pending_expiry(self) -> None:
        settings = self._settings()
        if settings.expire_tokens_now and self._expiry_applied_for is not settings:
            self._expiry_applied_for = settings
            self.expire_all()

    def expire_all(self) -> int:
        """Expire every issued token; returns how many were live."""
        now = self._clock()
        live = 0
        for token in self._tokens.values():
            if token.expires_at > now:
                live += 1
            token.expires_at = min(token.expires_at, now - 1)
        return live

    def issue(self, client_id: str, client_secret: str) -> Token:
        """Issue a token for any credentials except the rejected ones.

        :raises InvalidClient: for ``wrong-secret``, an empty id, or a mismatch with the
            required pair from the settings.
        """
        self._apply_pending_expiry()
        settings = self._settings()
        if not client_id or client_secret == WRONG_SECRET:
            raise InvalidClient
        if settings.required_client_id is not None and client_id != settings.required_client_id:
            raise InvalidClient
        if settings.required_client_secret is not None and client_secret != settings.required_client_secret:
            raise InvalidClient
        now = self._clock()
        token = Token(
            value=secrets.token_urlsafe(32),
            client_id=client_id,
            issued_at=now,
            expires_at=now + settings.token_ttl_seconds,
        )
        self._tokens[token.value] = token
        return token

    def authenticate(self, authorization: str | None) -> Token:
        """Check a bearer header and spend one unit of the token's rate budget.

        :raises GenesysApiError: 401 for a missing, unknown or expired token; 429 with
            ``Retry-After`` when the token spent ``rate_limit_per_minute`` in the last 60 s.
        """
        self._apply_pending_expiry()
        if not authorization or not authorization.lower().startswith("bearer "):
            raise GenesysApiError(
                401,
                "No authentication bearer token specified in authorization header.",
                "authentication.required",
            )
        token = self._tokens.get(authorization[7:].strip())
        now = self._clock()
        if token is None or token.expires_at <= now:
            raise GenesysApiError(401, "Invalid login credentials.", "bad.credentials")
        limit = self._settings().rate_limit_per_minute
        calls = token.calls
        while calls and calls[0] <= now - 60.0:
            calls.popleft()
        if len(calls) >= limit:
            error = rate_limited(math.ceil(calls[len(calls) - limit] + 60.0 - now))
            error.headers.update(self.usage_headers(token))
            raise error
        calls.append(now)
        return token

    def usage_headers(self, token: Token) -> dict[str, str]:
        """``inin-ratelimit-count`` (requests in the window), ``-allowed`` (the limit) and
        ``-reset`` (seconds until the window's oldest request leaves it) for ``token``.

        Empty when ``settings.ratelimit_headers`` is off (Genesys removed these headers in 2021).
        """
        settings = self._settings()
        if not settings.ratelimit_headers:
            return {}
        calls = token.calls
        reset = math.ceil(calls[0] + 60.0 - self._clock()) if calls else 60
        return {
            "inin-ratelimit-count": str(len(calls)),
            "inin-ratelimit-allowed": str(settings.rate_limit_per_minute),
            "inin-ratelimit-reset": str(max(1, reset)),
        }

    def count(self) -> int:
        """Number of tokens issued since the last reset."""
        return len(self._tokens)
