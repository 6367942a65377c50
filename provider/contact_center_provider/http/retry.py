"""Retry policy and the one pure "what next?" decision shared by the sync and async clients.

Nothing here does I/O or sleeps: the clients classify what happened in an attempt into an
:class:`Outcome`, ask :func:`decide`, and either sleep ``Decision.delay`` and retry, or raise.
That keeps the rules (which failures are safe to resend, how long to wait, when to stop) in one
place and testable without a network.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "Decision",
    "Outcome",
    "OutcomeKind",
    "RetryPolicy",
    "backoff_delay",
    "decide",
    "parse_retry_after",
]

DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

#: Statuses that prove a creating request was NOT processed (RFC 6585 429; Genesys documents
#: 503 as returned before processing), so resending cannot create a duplicate job.
SAFE_TO_RESEND_STATUSES: frozenset[int] = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a request.

    :param max_attempts: total attempts including the first (1 disables retries).
    :param initial_backoff: seconds before the second attempt.
    :param multiplier: growth factor of the backoff per attempt.
    :param max_backoff: cap of one computed backoff; a longer ``Retry-After`` still wins.
    :param jitter: relative jitter, e.g. 0.25 spreads a 4 s backoff over 3..5 s.
    :param deadline: seconds after the first attempt past which no retry starts (``None``: no limit).
    :param retry_statuses: statuses retried for idempotent requests.
    :param max_retry_after: cap on the ``Retry-After`` we honour, in seconds (``None``: honour it
        fully, the default). Meant for tests and demos against the sandbox; against a real vendor
        a capped wait usually just earns another 429.
    :param resend_statuses: statuses that prove a *creating* request was not processed, so it
        may be resent (when also in ``retry_statuses``). A vendor whose throttling answer is
        another status (NICE CXone: 403) adds it here.
    """

    max_attempts: int = 6
    initial_backoff: float = 1.0
    multiplier: float = 2.0
    max_backoff: float = 60.0
    jitter: float = 0.25
    deadline: float | None = 600.0
    retry_statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    max_retry_after: float | None = None
    resend_statuses: frozenset[int] = field(default=SAFE_TO_RESEND_STATUSES)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoffs must be >= 0")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be within [0, 1], got {self.jitter}")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError(f"deadline must be > 0 or None, got {self.deadline}")
        if self.max_retry_after is not None and self.max_retry_after < 0:
            raise ValueError(f"max_retry_after must be >= 0 or None, got {self.max_retry_after}")
        # Accept any iterable (e.g. a list from JSON) but store a frozenset.
        object.__setattr__(self, "retry_statuses", frozenset(int(s) for s in self.retry_statuses))
        object.__setattr__(self, "resend_statuses", frozenset(int(s) for s in self.resend_statuses))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (for trigger kwargs)."""
        return {
            "max_attempts": self.max_attempts,
            "initial_backoff": self.initial_backoff,
            "multiplier": self.multiplier,
            "max_backoff": self.max_backoff,
            "jitter": self.jitter,
            "deadline": self.deadline,
            "retry_statuses": sorted(self.retry_statuses),
            "max_retry_after": self.max_retry_after,
            "resend_statuses": sorted(self.resend_statuses),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryPolicy:
        """Build a policy from :meth:`to_dict` output; unknown keys raise ``TypeError``."""
        values = dict(data)
        for key in ("retry_statuses", "resend_statuses"):
            if key in values:
                values[key] = frozenset(values[key])
        return cls(**values)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header (RFC 9110 section 10.2.3) into seconds from now.

    Accepts delta-seconds (``"120"``; a decimal like ``"1.5"`` is tolerated) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``). A date in the past gives ``0.0``. Returns ``None``
    for a missing or unparseable value.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
            return None
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential (``initial_backoff * multiplier**(attempt-1)``) with +/- ``jitter``, capped by
    ``max_backoff``, and never less than ``retry_after`` (capped by ``policy.max_retry_after``
    when set): a vendor's ``Retry-After`` beyond ``max_backoff`` is honoured (:func:`decide`
    stops instead when it passes the deadline).
    """
    exponent = max(0, attempt - 1)
    try:
        base = policy.initial_backoff * policy.multiplier**exponent
    except OverflowError:
        base = policy.max_backoff
    base = min(base, policy.max_backoff)
    if policy.jitter:
        base *= 1.0 + policy.jitter * rng.uniform(-1.0, 1.0)
    delay = min(max(0.0, base), policy.max_backoff)
    if retry_after is not None:
        if policy.max_retry_after is not None:
            retry_after = min(retry_after, policy.max_retry_after)
        delay = max(delay, retry_after)
    return delay


class OutcomeKind(enum.StrEnum):
    """What happened to one attempt."""

    #: A complete response arrived (its status was not the expected one).
    RESPONSE = "response"
    #: Connecting failed (refused, DNS, connect timeout): the request was provably not sent.
    CONNECT_ERROR = "connect_error"
    #: The connection broke after the request was (possibly) sent.
    RESET = "reset"
    #: No response within the read timeout after sending.
    TIMEOUT = "timeout"
    #: Status and headers arrived, the body was cut short.
    TRUNCATED = "truncated"
    #: The request could not be sent as given (invalid URL or header, unsupported scheme).
    INVALID_REQUEST = "invalid_request"
    #: The vendor kept redirecting past the client's redirect limit.
    TOO_MANY_REDIRECTS = "too_many_redirects"


_KIND_TEXT = {
    OutcomeKind.CONNECT_ERROR: "connection failed before sending",
    OutcomeKind.RESET: "connection reset after sending",
    OutcomeKind.TIMEOUT: "read timeout after sending",
    OutcomeKind.TRUNCATED: "response body truncated",
    OutcomeKind.INVALID_REQUEST: "request not sent: invalid request",
    OutcomeKind.TOO_MANY_REDIRECTS: "too many redirects",
}


@dataclass(frozen=True)
class Outcome:
    """A failed attempt as seen by :func:`decide`."""

    kind: OutcomeKind
    status: int | None = None
    retry_after: float | None = None
    detail: str = ""

    @classmethod
    def response(cls, status: int, retry_after: float | None = None) -> Outcome:
        return cls(OutcomeKind.RESPONSE, status=status, retry_after=retry_after)

    def describe(self) -> str:
        if self.kind is OutcomeKind.RESPONSE:
            return f"HTTP {self.status}"
        text = _KIND_TEXT[self.kind]
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt.

    :param retry: resend after ``delay`` seconds.
    :param delay: seconds to wait before the next attempt.
    :param reason: human-readable why (logged, put into the final error).
    :param refresh_auth: invalidate the cached token before resending (a 401).
    :param ambiguous: do not resend, the request may have been processed: raise
        :class:`~contact_center_provider.http.errors.AmbiguousSubmissionError`.
    :param exhausted: a retryable failure, but attempts or the deadline ran out.
    """

    retry: bool
    delay: float = 0.0
    reason: str = ""
    refresh_auth: bool = False
    ambiguous: bool = False
    exhausted: bool = False


def _is_retryable(outcome: Outcome, policy: RetryPolicy, creates: bool) -> tuple[bool, bool]:
    """Return ``(retryable, ambiguous)`` ignoring attempt counts and deadlines."""
    if outcome.kind is OutcomeKind.CONNECT_ERROR:
        return True, False
    if outcome.kind in (OutcomeKind.INVALID_REQUEST, OutcomeKind.TOO_MANY_REDIRECTS):
        return False, False  # the same request fails the same way again
    if outcome.kind is OutcomeKind.RESPONSE:
        status = outcome.status or 0
        if creates:
            if status in policy.resend_statuses and status in policy.retry_statuses:
                return True, False
            # 500/502/504 say nothing about whether the job was created.
            return False, status in {500, 502, 504}
        return status in policy.retry_statuses, False
    # RESET / TIMEOUT / TRUNCATED: the server may have acted on the request.
    return (False, True) if creates else (True, False)


def decide(
    outcome: Outcome,
    attempt: int,
    policy: RetryPolicy,
    elapsed: float,
    creates: bool,
    *,
    rng: random.Random | None = None,
    can_refresh_auth: bool = False,
) -> Decision:
    """Decide whether to resend after failed attempt number ``attempt`` (1-based).

    :param outcome: what happened to the attempt.
    :param attempt: number of attempts made so far.
    :param policy: the retry policy.
    :param elapsed: seconds since the first attempt started.
    :param creates: the request creates something (a job) and must not be sent twice. Then only
        failures that prove the request was not processed are retried: connect errors, 429,
        503, and one 401 after a token refresh. Resets, read timeouts, truncated bodies, 500,
        502 and 504 give ``ambiguous=True``.
    :param rng: random source for jitter.
    :param can_refresh_auth: the auth is refreshable and was not refreshed yet in this request.
    """
    rng = rng or random.Random()
    text = outcome.describe()
    if outcome.kind is OutcomeKind.RESPONSE and outcome.status == 401 and can_refresh_auth:
        # A token can expire (or be revoked) between our expiry check and the vendor's: refresh
        # once, immediately. A 401 proves the request was not processed, so this holds for creates too.
        if attempt < policy.max_attempts:
            return Decision(True, 0.0, f"{text}: refreshing the access token", refresh_auth=True)
        return Decision(False, 0.0, f"{text} after {attempt} attempts", exhausted=True)

    retryable, ambiguous = _is_retryable(outcome, policy, creates)
    if ambiguous:
        return Decision(False, 0.0, f"{text}; a creating request is not resent", ambiguous=True)
    if not retryable:
        return Decision(False, 0.0, f"{text} is not retryable")
    if attempt >= policy.max_attempts:
        return Decision(False, 0.0, f"{text}; gave up after {attempt} attempts", exhausted=True)
    delay = backoff_delay(attempt, policy, outcome.retry_after, rng)
    if policy.deadline is not None and elapsed + delay > policy.deadline:
        return Decision(
            False,
            delay,
            f"{text}; waiting {delay:.1f} s would pass the {policy.deadline:g} s deadline",
            exhausted=True,
        )
    return Decision(True, delay, text)
