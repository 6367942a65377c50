"""Genesys Cloud enrichment on the wire: pacing inside the token budget, 429s, attributes.

The hook runs against the sandbox over real HTTP; what the sandbox recorded (its request
log) is the evidence. The limiter's bookkeeping is tested apart with a fake clock.

``test_paced_run_over_the_budget_gets_no_429`` takes about a minute by nature: 25 requests
against 20 per sliding minute must wait for the window to slide.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from contact_center_provider.hooks.genesys_cloud import GenesysCloudHook
from contact_center_provider.http.ratelimit import AsyncRateLimiter, SlidingWindow
from contact_center_provider.sandbox.genesys_cloud import data

SEED = 42  # the session sandbox's seed (tests/conftest.py)
CONVERSATION_PATH = "/genesys-cloud/api/v2/conversations/"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def generated_conversations(count: int) -> list[dict[str, Any]]:
    """``count`` distinct conversations the sandbox serves, as its generator builds them."""
    start = datetime(2024, 5, 1, tzinfo=UTC)
    records = data.generate_conversations(SEED, start, start + timedelta(days=2))
    unique = {r["conversationId"]: r for r in records}
    return list(itertools.islice(unique.values(), count))


def sandbox_call(sandbox: Any, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{sandbox.url}/_sandbox{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def conversation_requests(sandbox: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = sandbox_call(
        sandbox, "GET", f"/requests?path={CONVERSATION_PATH}&method=GET"
    )["requests"]
    return records


def fetch_all(conn_id: str, ids: list[str], *, requests_per_minute: int, concurrency: int) -> dict[str, Any]:
    """Run ``aiter_conversations`` to the end; returns ``{id: parsed body}``."""

    async def run() -> dict[str, Any]:
        hook = GenesysCloudHook(conn_id, requests_per_minute=requests_per_minute)
        try:
            return {
                cid: json.loads(raw)
                async for cid, raw in hook.aiter_conversations(ids, concurrency=concurrency)
            }
        finally:
            await hook.aclose()

    return asyncio.run(run())


def fetched_once_each(records: list[dict[str, Any]], ids: list[str]) -> Counter[str]:
    """How many 200s the sandbox served per conversation id."""
    served = Counter(r["path"].removeprefix(CONVERSATION_PATH) for r in records if r["status"] == 200)
    assert set(served) == set(ids)
    return served


# -- over the wire ----------------------------------------------------------------------


def test_paced_run_over_the_budget_gets_no_429(sandbox: Any, genesys_conn: str) -> None:
    """25 conversations on a 20-per-minute token: 5 must wait for the window, none may be refused.

    Zero 429s is exact, not hopeful: the limiter counts each request until its response is
    in, and the sandbox counted it on arrival, before answering; so every request leaves
    our window after it left the sandbox's, and the token is fresh (nothing else spent it).
    """
    sandbox_call(sandbox, "PATCH", "/vendors/genesys_cloud/settings", {"rate_limit_per_minute": 20})
    # A network-like delay: the first requests reach the sandbox well after they start
    # (token grant, new connections), later ones sooner; start-stamping got 429s here.
    sandbox_call(sandbox, "PATCH", "/settings", {"latency_ms": 50})
    ids = [c["conversationId"] for c in generated_conversations(25)]

    results = fetch_all(genesys_conn, ids, requests_per_minute=20, concurrency=8)

    assert sorted(results) == sorted(ids)
    records = conversation_requests(sandbox)
    assert [r["status"] for r in records].count(429) == 0
    assert set(fetched_once_each(records, ids).values()) == {1}
    assert len(records) == 25


def test_429_storm_is_waited_out(sandbox: Any, genesys_conn: str) -> None:
    """Five injected 429s (Retry-After: 1) delay some conversations; none is lost or fetched twice."""
    sandbox_call(
        sandbox,
        "POST",
        "/faults",
        {
            "method": "GET",
            "path": "/api/v2/conversations/",
            "kind": "status",
            "status": 429,
            "headers": {"Retry-After": "1"},
            "times": 5,
        },
    )
    ids = [c["conversationId"] for c in generated_conversations(8)]

    results = fetch_all(genesys_conn, ids, requests_per_minute=300, concurrency=4)

    assert sorted(results) == sorted(ids)
    records = conversation_requests(sandbox)
    assert [r["status"] for r in records].count(429) == 5
    assert all(r["fault"] is not None for r in records if r["status"] == 429)
    assert set(fetched_once_each(records, ids).values()) == {1}
    assert len(records) == 8 + 5


def test_results_carry_participant_attributes(sandbox: Any, genesys_conn: str) -> None:
    """Each fetched conversation carries the attributes its analytics record has (what queries lack)."""
    expected = generated_conversations(6)

    results = fetch_all(
        genesys_conn, [c["conversationId"] for c in expected], requests_per_minute=300, concurrency=3
    )

    for record in expected:
        body = results[record["conversationId"]]
        assert body["id"] == record["conversationId"]
        accounts = {p["attributes"].get("accountNumber") for p in body["participants"]} - {None}
        wanted = {p["attributes"]["accountNumber"] for p in record["participants"] if p.get("attributes")}
        assert wanted and accounts == wanted


def test_duplicate_ids_are_fetched_once(sandbox: Any, genesys_conn: str) -> None:
    ids = [c["conversationId"] for c in generated_conversations(3)]

    results = fetch_all(genesys_conn, ids + ids[:2], requests_per_minute=300, concurrency=4)

    assert sorted(results) == sorted(ids)
    assert len(conversation_requests(sandbox)) == 3


# -- SlidingWindow (pure, fake clock) ---------------------------------------------------


def test_window_admits_limit_then_waits_for_the_oldest_start() -> None:
    clock = FakeClock()
    window = SlidingWindow(3, 60.0, clock)
    for step in range(3):
        assert window.wait_time() == 0.0
        window.record()
        clock.advance(10.0 * (step + 1))  # stamps at 0, 10, 30 (relative)
    # now = 60: the first stamp leaves at exactly 60 s (the sandbox's boundary too).
    assert window.wait_time() == 0.0
    window.record()
    assert window.wait_time() == pytest.approx(10.0)  # the stamp at 10 leaves at 70
    clock.advance(9.5)
    assert window.wait_time() == pytest.approx(0.5)
    clock.advance(0.5)
    assert window.wait_time() == 0.0


def test_in_flight_requests_count_until_settled_then_from_their_end() -> None:
    clock = FakeClock()
    window = SlidingWindow(2, 60.0, clock)
    window.reserve()
    window.reserve()
    assert window.in_flight == 2
    # Both in flight: no amount of time frees a slot, only an answer does.
    clock.advance(600.0)
    assert math.isinf(window.wait_time())
    window.settle()
    assert window.in_flight == 1
    # The settled request counts from its end (600), not from its start (0).
    clock.advance(59.0)
    assert window.wait_time() == pytest.approx(1.0)
    clock.advance(1.0)
    assert window.wait_time() == 0.0


def test_reserve_refuses_a_full_window_and_settle_needs_a_reservation() -> None:
    clock = FakeClock()
    window = SlidingWindow(1, 5.0, clock)
    with pytest.raises(RuntimeError, match="settle"):
        window.settle()
    window.reserve()
    with pytest.raises(RuntimeError, match="full"):
        window.reserve()
    window.settle()
    with pytest.raises(RuntimeError, match="full"):
        window.reserve()
    clock.advance(5.0)
    window.reserve()
    assert window.in_flight == 1


@pytest.mark.parametrize(("limit", "seconds"), [(0, 60.0), (1, 0.0), (5, -1.0)])
def test_window_rejects_impossible_budgets(limit: int, seconds: float) -> None:
    with pytest.raises(ValueError, match="limit >= 1 and window > 0"):
        SlidingWindow(limit, seconds)


async def test_async_slot_waits_for_the_answer_not_for_the_clock() -> None:
    """A request started long ago but still unanswered keeps its slot (start-stamping would not)."""
    clock = FakeClock()
    limiter = AsyncRateLimiter(1, 60.0, clock)
    log: list[str] = []
    answered = asyncio.Event()

    async def first() -> None:
        async with limiter.slot():
            log.append("first in")
            await answered.wait()
        log.append("first out")
        clock.advance(60.0)  # its window passes before the waiter looks again

    async def second() -> None:
        async with limiter.slot():
            log.append("second in")

    one = asyncio.create_task(first())
    await asyncio.sleep(0)
    clock.advance(3600.0)  # an hour after the first start
    two = asyncio.create_task(second())
    for _ in range(10):
        await asyncio.sleep(0)
    assert log == ["first in"]

    answered.set()
    await asyncio.wait_for(asyncio.gather(one, two), timeout=10)
    assert log == ["first in", "first out", "second in"]
