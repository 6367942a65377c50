"""Users, their credentials, and the per-company request budget (no HTTP).

Credentials (from the vendor document's own examples where it has them):

===========================  =====================  ==================================  =========
login email                  password               API key                             company
===========================  =====================  ==================================  =========
``user@example.com``         ``password``           ``4df21f67c293413fa988d8f1535cd12f``  ``acme``
``analyst@example.com``      ``abcd1234``           ``7a0c5e2b9d3f4e61a8b2c4d6e8f01234``  ``acme``
``ops@globex.example``       ``globex-pass``        ``0b9e8d7c6b5a49382716051423324150``  ``globex``
===========================  =====================  ==================================  =========

Basic auth takes the email and either the password's base64 SHA-256 hash or
``*pass`` + the clear password; ``apikey`` + key also works. Bearer takes the key.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ODataError
from .settings import BrightmetricsSettings


@dataclass(frozen=True)
class User:
    email: str
    password: str
    api_key: str
    company: str


USERS: tuple[User, ...] = (
    User("user@example.com", "password", "4df21f67c293413fa988d8f1535cd12f", "acme"),
    User("analyst@example.com", "abcd1234", "7a0c5e2b9d3f4e61a8b2c4d6e8f01234", "acme"),
    User("ops@globex.example", "globex-pass", "0b9e8d7c6b5a49382716051423324150", "globex"),
)

CHALLENGE = {"WWW-Authenticate": 'Basic realm="Brightmetrics OData", Bearer'}


def password_hash(password: str) -> str:
    """Base64 of the SHA-256 of the UTF-8 password (the document's openssl pipeline)."""
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest()).decode("ascii")


def _denied() -> ODataError:
    return ODataError(401, headers=CHALLENGE)


def authenticate(authorization: str | None, settings: BrightmetricsSettings) -> User:
    """The user behind an ``Authorization`` header.

    :raises ODataError: 401 with a challenge for anything else.
    """
    if not authorization:
        raise _denied()
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        user = next((u for u in USERS if u.api_key == value), None)
        if user is None:
            raise _denied()
        return user
    if scheme.lower() != "basic":
        raise _denied()
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise _denied() from None
    login, sep, secret = decoded.partition(":")
    if not sep:
        raise _denied()
    if login.lower() == "apikey":
        user = next((u for u in USERS if u.api_key == secret), None)
        if user is None or not settings.accept_api_key_basic:
            raise _denied()
        return user
    user = next((u for u in USERS if u.email.lower() == login.lower()), None)
    if user is None:
        raise _denied()
    if secret.startswith("*pass"):
        if settings.accept_clear_password and secret[5:] == user.password:
            return user
        raise _denied()
    if secret == password_hash(user.password):
        return user
    raise _denied()


class Budget:
    """Requests per company account in a sliding window, on the sandbox clock.

    :param retry_after: formats sandbox seconds as a ``Retry-After`` value in real seconds.
    """

    def __init__(
        self,
        settings: Callable[[], BrightmetricsSettings],
        clock: Callable[[], float],
        retry_after: Callable[[float], str],
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._retry_after = retry_after
        self._stamps: dict[str, deque[float]] = {}
        self.rejected: dict[str, int] = {}

    def _window(self, company: str) -> deque[float]:
        stamps = self._stamps.setdefault(company, deque())
        horizon = self._clock() - self._settings().budget_window_seconds
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        return stamps

    def used(self, company: str) -> int:
        return len(self._window(company))

    def seconds_until_free(self, company: str) -> float:
        """Sandbox seconds until the oldest counted request leaves the window."""
        stamps = self._window(company)
        if not stamps:
            return 0.0
        return max(0.0, stamps[0] + self._settings().budget_window_seconds - self._clock())

    def spend(self, company: str) -> None:
        """Count one request.

        :raises ODataError: ``budget_status`` (429) with an OData error when the budget is spent.
        """
        settings = self._settings()
        stamps = self._window(company)
        if settings.enforce_budget and len(stamps) >= settings.budget_limit:
            self.rejected[company] = self.rejected.get(company, 0) + 1
            raise ODataError(
                settings.budget_status,
                f"API requests from all users of this company account are limited to "
                f"{settings.budget_limit} requests in a 24-hour period. Use the reset button under "
                "My Account or try again later.",
                "RequestLimitExceeded",
                headers={"Retry-After": self._retry_after(math.ceil(self.seconds_until_free(company)))},
            )
        stamps.append(self._clock())

    def prespend(self, company: str, requests: int) -> int:
        """Count ``requests`` made elsewhere (admin action ``spend``); returns the total used."""
        stamps = self._window(company)
        now = self._clock()
        stamps.extend([now] * max(0, requests))
        return len(stamps)

    def reset(self, company: str | None = None) -> None:
        """The "reset" button under My Account (one company, or all)."""
        if company is None:
            self._stamps.clear()
        else:
            self._stamps.pop(company, None)

    def report(self) -> dict[str, dict[str, int]]:
        limit = self._settings().budget_limit
        companies = sorted(set(self._stamps) | set(self.rejected))
        return {
            c: {"used": self.used(c), "limit": limit, "rejected": self.rejected.get(c, 0)} for c in companies
        }
