"""Unit tests of the pure retry rules: Retry-After parsing, backoff bounds, the decision table."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from contact_center_provider.http.retry import (
    DEFAULT_RETRY_STATUSES,
    Outcome,
    OutcomeKind,
    RetryPolicy,
    backoff_delay,
    decide,
    parse_retry_after,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


# -- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        ("0", 0.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        (None, None),
        ("", None),
        ("-3", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after_delta_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


@pytest.mark.parametrize(
    "header",
    [
        "Wed, 01 May 2024 12:00:30 GMT",  # IMF-fixdate (preferred)
        "Wednesday, 01-May-24 12:00:30 GMT",  # obsolete RFC 850
        "Wed May  1 12:00:30 2024",  # obsolete asctime (no zone: GMT)
    ],
)
def test_parse_retry_after_http_date(header: str) -> None:
    assert parse_retry_after(header, now=NOW) == pytest.approx(30.0)


def test_parse_retry_after_past_date_is_zero() -> None:
    assert parse_retry_after("Wed, 01 May 2024 11:59:00 GMT", now=NOW) == 0.0


def test_parse_retry_after_date_uses_current_time_by_default() -> None:
    future = datetime.now(UTC) + timedelta(seconds=100)
    header = future.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 95.0 <= parse_retry_after(header) <= 100.0  # type: ignore[operator]


# -- backoff -----------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 8, 30, 2000])
def test_backoff_within_jitter_bounds_and_cap(attempt: int) -> None:
    policy = RetryPolicy(initial_backoff=1.0, multiplier=2.0, max_backoff=20.0, jitter=0.25)
    base = min(1.0 * 2.0 ** (attempt - 1), 20.0) if attempt < 100 else 20.0
    rng = random.Random(attempt)
    for _ in range(200):
        delay = backoff_delay(attempt, policy, None, rng)
        assert base * 0.75 - 1e-9 <= delay <= min(base * 1.25, 20.0) + 1e-9


def test_backoff_without_jitter_is_exact_exponential() -> None:
    policy = RetryPolicy(initial_backoff=0.5, multiplier=3.0, max_backoff=100.0, jitter=0.0)
    rng = random.Random(0)
    assert [backoff_delay(n, policy, None, rng) for n in (1, 2, 3, 4)] == [0.5, 1.5, 4.5, 13.5]


def test_backoff_never_below_retry_after() -> None:
    policy = RetryPolicy(initial_backoff=0.01, jitter=0.25, max_backoff=60.0)
    assert backoff_delay(1, policy, 2.0, random.Random(1)) == 2.0


def test_retry_after_beyond_max_backoff_wins() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=5.0, jitter=0.0)
    assert backoff_delay(3, policy, 90.0, random.Random(1)) == 90.0


def test_max_retry_after_caps_the_honoured_retry_after() -> None:
    policy = RetryPolicy(initial_backoff=0.01, max_backoff=0.05, jitter=0.0, max_retry_after=0.05)
    assert backoff_delay(1, policy, 30.0, random.Random(1)) == 0.05
    assert backoff_delay(1, policy, 0.02, random.Random(1)) == 0.02  # below the cap: as asked
    # the vendor's ask stays on the outcome (and the final error); only our wait is capped
    decision = decide(Outcome.response(429, 30.0), 1, policy, 0.0, False)
    assert decision.retry and decision.delay == 0.05


def test_jitter_spreads_delays() -> None:
    policy = RetryPolicy(initial_backoff=4.0, jitter=0.25)
    rng = random.Random(7)
    delays = {round(backoff_delay(1, policy, None, rng), 6) for _ in range(50)}
    assert len(delays) > 10


# -- policy ------------------------------------------------------------------------------------


def test_policy_round_trips_through_json() -> None:
    policy = RetryPolicy(
        max_attempts=3,
        initial_backoff=0.1,
        deadline=None,
        retry_statuses=frozenset({429, 503}),
        max_retry_after=0.5,
    )
    data = json.loads(json.dumps(policy.to_dict()))
    assert data["retry_statuses"] == [429, 503] and data["max_retry_after"] == 0.5
    assert RetryPolicy.from_dict(data) == policy
    assert RetryPolicy.from_dict(RetryPolicy().to_dict()) == RetryPolicy()


def test_policy_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.initial_backoff, policy.deadline) == (6, 1.0, 600.0)
    assert policy.retry_statuses == DEFAULT_RETRY_STATUSES == frozenset({408, 429, 500, 502, 503, 504})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"deadline": 0},
        {"initial_backoff": -1},
        {"max_retry_after": -1},
    ],
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_from_dict_rejects_unknown_key() -> None:
    with pytest.raises(TypeError):
        RetryPolicy.from_dict({"max_attempts": 2, "retries": 3})


# -- decision table ----------------------------------------------------------------------------

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05, jitter=0.0, deadline=30.0)

CONNECT = Outcome(OutcomeKind.CONNECT_ERROR, detail="ConnectionRefusedError")
RESET = Outcome(OutcomeKind.RESET)
TIMEOUT = Outcome(OutcomeKind.TIMEOUT)
TRUNCATED = Outcome(OutcomeKind.TRUNCATED)
INVALID = Outcome(OutcomeKind.INVALID_REQUEST, detail="InvalidURL")
REDIRECTS = Outcome(OutcomeKind.TOO_MANY_REDIRECTS)


def status(code: int, retry_after: float | None = None) -> Outcome:
    return Outcome.response(code, retry_after)


@pytest.mark.parametrize(
    ("outcome", "creates", "retry", "ambiguous"),
    [
        # idempotent requests
        (CONNECT, False, True, False),
        (RESET, False, True, False),
        (TIMEOUT, False, True, False),
        (TRUNCATED, False, True, False),
        (status(408), False, True, False),
        (status(429), False, True, False),
        (status(500), False, True, False),
        (status(502), False, True, False),
        (status(503), False, True, False),
        (status(504), False, True, False),
        (status(400), False, False, False),
        (status(401), False, False, False),
        (status(403), False, False, False),
        (status(404), False, False, False),
        (status(409), False, False, False),
        (status(501), False, False, False),
        (INVALID, False, False, False),
        (REDIRECTS, False, False, False),
        # job-creating requests: only provably unprocessed failures are resent
        (CONNECT, True, True, False),
        (status(429), True, True, False),
        (status(503), True, True, False),
        (RESET, True, False, True),
        (TIMEOUT, True, False, True),
        (TRUNCATED, True, False, True),
        (status(500), True, False, True),
        (status(502), True, False, True),
        (status(504), True, False, True),
        (status(400), True, False, False),
        (status(408), True, False, False),
        (status(409), True, False, False),
        (status(501), True, False, False),
        (INVALID, True, False, False),
        (REDIRECTS, True, False, False),
    ],
)
def test_decision_table(outcome: Outcome, creates: bool, retry: bool, ambiguous: bool) -> None:
    decision = decide(outcome, 1, FAST, 0.0, creates, rng=random.Random(0))
    assert (decision.retry, decision.ambiguous) == (retry, ambiguous)
    assert not decision.exhausted
    if retry:
        assert decision.delay == pytest.approx(0.01)


@pytest.mark.parametrize("creates", [False, True])
def test_401_refreshes_once_when_auth_can_refresh(creates: bool) -> None:
    first = decide(status(401), 1, FAST, 0.0, creates, can_refresh_auth=True)
    assert (first.retry, first.refresh_auth, first.delay) == (True, True, 0.0)
    # The client passes can_refresh_auth=False once it has refreshed: a second 401 is final.
    second = decide(status(401), 2, FAST, 0.0, creates, can_refresh_auth=False)
    assert (second.retry, second.refresh_auth) == (False, False)


def test_creating_request_honours_policy_statuses() -> None:
    policy = RetryPolicy(retry_statuses=frozenset({429}))
    assert not decide(status(503), 1, policy, 0.0, True).retry
    assert decide(status(429), 1, policy, 0.0, True).retry


def test_stops_at_max_attempts() -> None:
    assert decide(status(503), 3, FAST, 0.0, False).retry
    last = decide(status(503), 4, FAST, 0.0, False)
    assert (last.retry, last.exhausted) == (False, True)
    assert "4 attempts" in last.reason


def test_stops_when_the_wait_would_pass_the_deadline() -> None:
    policy = RetryPolicy(max_attempts=10, initial_backoff=0.01, jitter=0.0, deadline=10.0)
    assert decide(status(429, retry_after=2.0), 1, policy, 7.5, False).retry
    late = decide(status(429, retry_after=3.0), 1, policy, 7.5, False)
    assert (late.retry, late.exhausted) == (False, True)
    assert "deadline" in late.reason


def test_retry_after_is_the_delay() -> None:
    decision = decide(status(429, retry_after=2.0), 1, FAST, 0.0, True)
    assert decision.retry and decision.delay == 2.0


def test_no_deadline_means_only_attempts_limit() -> None:
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, deadline=None)
    assert decide(status(503), 2, policy, 10_000.0, False).retry
