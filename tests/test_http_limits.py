"""Shared request limits: call spacing and request budgets across OS processes, threads and tasks.

The cross-process tests start real processes (``spawn``) that hammer one key of a file store
and write each acquisition's stamp (the one the gate wrote to the store) to a journal; the
assertions compare those stamps, never wall-clock durations. The wire tests check that the HTTP
core passes the gate for every attempt, token requests and retries included.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import pickle
import random
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from contact_center_provider.http import (
    AsyncHttpClient,
    CallSpacing,
    HttpClient,
    LimitStoreError,
    OAuth2ClientCredentials,
    RequestBudget,
    RequestBudgetExhausted,
    RetryPolicy,
    VendorRateLimitError,
    limit_store,
)
from contact_center_provider.http.limits import (
    DEFAULT_STORE_DIR_NAME,
    FileLimitStore,
    default_store_uri,
)

SPACING = 0.2
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05, jitter=0.0, deadline=30.0)
ORG = "/api/v2/organizations/me"
TOKEN = "/login/oauth/token"


def _journal(path: str, record: dict[str, Any]) -> None:
    # One short O_APPEND write per record: lines from several processes never interleave.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _read_journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# == workers (run in spawned processes; module level so they can be pickled) ===================


def _spacing_worker(store_dir: str, key: str, journal: str, barrier: Any, tasks: int, rounds: int) -> None:
    store = FileLimitStore(store_dir)

    def sync_caller() -> None:
        gate = CallSpacing(store, key, SPACING)
        for _ in range(rounds):
            gate.acquire()
            _journal(journal, {"pid": os.getpid(), "how": "thread", "t": gate.last_acquired})

    async def task_caller() -> None:
        gate = CallSpacing(store, key, SPACING)  # one gate per task: last_acquired is per caller
        for _ in range(rounds):
            await gate.aacquire()
            _journal(journal, {"pid": os.getpid(), "how": "task", "t": gate.last_acquired})

    async def main() -> None:
        await asyncio.gather(*(task_caller() for _ in range(tasks)), asyncio.to_thread(sync_caller))

    barrier.wait()
    asyncio.run(main())


def _budget_worker(store_dir: str, key: str, journal: str, barrier: Any, attempts: int) -> None:
    budget = RequestBudget(FileLimitStore(store_dir), key, limit=5, window=600.0)
    barrier.wait()
    for _ in range(attempts):
        try:
            budget.acquire()
        except RequestBudgetExhausted as exc:
            _journal(
                journal,
                {"granted": False, "remaining": exc.remaining, "resets_at": exc.resets_at, "text": str(exc)},
            )
        else:
            _journal(journal, {"granted": True, "t": budget.last_acquired})


def _run_processes(target: Any, args_for: list[tuple[Any, ...]]) -> None:
    ctx = multiprocessing.get_context("spawn")  # no fork of a multi-threaded test process
    processes = [ctx.Process(target=target, args=args) for args in args_for]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    hung = [p for p in processes if p.is_alive()]
    for process in hung:
        process.terminate()
    assert not hung and [p.exitcode for p in processes] == [0] * len(processes)


# == cross-process behaviour ====================================================================


def test_call_spacing_holds_across_processes_threads_and_tasks(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    args = (str(tmp_path / "store"), "nice_cxone:tenant-1", str(journal), barrier, 2, 2)
    _run_processes(_spacing_worker, [args, args])

    records = _read_journal(journal)
    assert len(records) == 2 * (2 + 1) * 2  # processes * (tasks + thread) * rounds
    assert len({r["pid"] for r in records}) == 2 and {r["how"] for r in records} == {"task", "thread"}
    stamps = sorted(r["t"] for r in records)
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert min(gaps) >= SPACING - 1e-6, f"two acquisitions {min(gaps):.4f} s apart"


def test_request_budget_is_never_exceeded_across_processes(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    store_dir = str(tmp_path / "store")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    _run_processes(_budget_worker, [(store_dir, "brightmetrics:acme", str(journal), barrier, 4)] * 3)

    records = _read_journal(journal)
    granted = [r for r in records if r["granted"]]
    refused = [r for r in records if not r["granted"]]
    assert len(records) == 12 and len(granted) == 5 and len(refused) == 7
    first = min(r["t"] for r in granted)
    when = datetime.fromtimestamp(first + 600.0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for record in refused:
        assert record["remaining"] == 0 and record["resets_at"] == pytest.approx(first + 600.0)
        assert (
            "'brightmetrics:acme' exhausted: 0 of 5 requests left in the rolling 600 s window"
            in record["text"]
        )
        assert f"frees at {when}" in record["text"] and "not sent" in record["text"]
    budget = RequestBudget(FileLimitStore(store_dir), "brightmetrics:acme", limit=5, window=600.0)
    remaining, resets_at = budget.remaining()
    assert remaining == 0 and resets_at == pytest.approx(first + 600.0)


def test_budget_wait_mode_keeps_the_rolling_window(tmp_path: Path) -> None:
    store = FileLimitStore(tmp_path)
    budget = RequestBudget(store, "k", limit=2, window=0.3, when_exhausted="wait")
    assert budget.remaining() == (2, None)
    stamps = []
    for _ in range(5):
        budget.acquire()
        assert budget.last_acquired is not None
        stamps.append(budget.last_acquired)
    # any two acquisitions `limit` apart are a full window apart
    assert all(later - earlier >= 0.3 - 1e-6 for earlier, later in zip(stamps, stamps[2:], strict=False))
    left, resets_at = budget.remaining()
    assert left <= 1 and resets_at is not None


async def test_async_acquire_waits_for_the_file_lock_without_blocking_the_loop(tmp_path: Path) -> None:
    store = FileLimitStore(tmp_path)
    gate = CallSpacing(store, "k", 0.01)
    held, release = threading.Event(), threading.Event()

    def hold(stamps: list[float]) -> tuple[list[float], None]:
        held.set()  # another process/thread holds the key's lock...
        release.wait(10)  # ...until the event loop below proves it is still running
        return stamps, None

    holder = threading.Thread(target=store.update, args=("k", hold))
    holder.start()
    assert held.wait(10)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            if ticks == 3:
                release.set()
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    try:
        await gate.aacquire()
    finally:
        ticking.cancel()
        holder.join()
    assert ticks >= 3, "the loop was blocked while waiting for the lock"


async def test_async_spacing_wait_does_not_block_the_loop(tmp_path: Path) -> None:
    gate = CallSpacing(FileLimitStore(tmp_path), "k", 0.3)
    await gate.aacquire()
    first = gate.last_acquired
    ticked = asyncio.Event()

    async def ticker() -> None:
        for _ in range(3):
            await asyncio.sleep(0.01)
        ticked.set()

    ticking = asyncio.create_task(ticker())
    await gate.aacquire()
    await ticking
    assert gate.last_acquired is not None and first is not None
    assert gate.last_acquired - first >= 0.3 - 1e-6
    assert ticked.is_set()


def test_spacing_restarts_after_a_stamp_from_the_future(tmp_path: Path) -> None:
    store = FileLimitStore(tmp_path)
    gate = CallSpacing(store, "k", 0.05)
    ahead = store.update("k", lambda stamps: ([9e9], 9e9))  # written by a clock far ahead
    caller = threading.Thread(target=gate.acquire)
    caller.start()
    caller.join(timeout=10)  # waiting for the skewed clock would take centuries
    assert not caller.is_alive()
    assert gate.last_acquired is not None and gate.last_acquired < ahead
    assert store.update("k", lambda stamps: (stamps, stamps)) == [gate.last_acquired]


def test_gate_arguments_are_validated(tmp_path: Path) -> None:
    store = FileLimitStore(tmp_path)
    with pytest.raises(ValueError, match="'k'"):
        CallSpacing(store, "k", 0)
    with pytest.raises(ValueError, match="limit >= 1"):
        RequestBudget(store, "k", 0, 10)
    with pytest.raises(ValueError, match="when_exhausted"):
        RequestBudget(store, "k", 1, 10, when_exhausted="later")  # type: ignore[arg-type]


def test_unreadable_state_is_a_clear_error(tmp_path: Path) -> None:
    budget = RequestBudget(FileLimitStore(tmp_path), "acct", 3, 60)
    budget.acquire()
    (state,) = tmp_path.glob("*.json")
    state.write_text("{not json")
    with pytest.raises(LimitStoreError, match=r"unreadable.*delete it to reset"):
        budget.acquire()


# == choosing a store ===========================================================================


def test_limit_store_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CC_LIMITS_STORE", raising=False)
    monkeypatch.delenv("AIRFLOW__CONTACT_CENTER__LIMITS_STORE", raising=False)
    default = limit_store()
    assert default.uri == default_store_uri()
    assert default.uri.endswith("/" + DEFAULT_STORE_DIR_NAME)
    assert default.uri.startswith(Path(tempfile.gettempdir()).resolve().as_uri())

    from_config = tmp_path / "from-config"
    monkeypatch.setenv("AIRFLOW__CONTACT_CENTER__LIMITS_STORE", from_config.as_uri())
    assert limit_store().uri == from_config.as_uri() and from_config.is_dir()

    from_env = tmp_path / "from-env"
    monkeypatch.setenv("CC_LIMITS_STORE", from_env.as_uri())
    assert limit_store().uri == from_env.as_uri()
    explicit = tmp_path / "explicit dir"
    assert limit_store(explicit.as_uri()).uri == explicit.as_uri() and explicit.is_dir()
    assert limit_store(str(explicit)) is not None

    with pytest.raises(LimitStoreError, match="unknown scheme 'memcached'"):
        limit_store("memcached://cache:11211/0")


def test_redis_store_without_redis_says_what_to_install() -> None:
    try:
        import redis  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("redis is installed")
    with pytest.raises(LimitStoreError, match=r"needs the 'redis' package.*\[redis\]") as caught:
        limit_store("redis://:hunter2@cache:6379/0?ssl_cert_reqs=none")
    assert "hunter2" not in str(caught.value)


def test_budget_error_pickles_and_names_the_request() -> None:
    err = RequestBudgetExhausted("brightmetrics:acme", 150, 86400.0, 0, 1_714_564_800.0)
    named = err.for_request("brightmetrics", "GET", "https://api.example/odata/Calls?$top=5&sig=SECRET")
    assert isinstance(named, VendorRateLimitError)
    assert str(named) == (
        "brightmetrics GET /odata/Calls was not sent: request budget 'brightmetrics:acme' exhausted: "
        "0 of 150 requests left in the rolling 86400 s window; the next request frees at 2024-05-01T12:00:00Z"
    )
    clone = pickle.loads(pickle.dumps(named))
    assert str(clone) == str(named) and clone.key == "brightmetrics:acme" and clone.resets_at == err.resets_at


# == the gate on the wire =======================================================================


def _sandbox_requests(url: str, path: str) -> list[dict[str, Any]]:
    response = requests.get(f"{url}/_sandbox/requests", params={"path": path}, timeout=10)
    response.raise_for_status()
    return list(response.json()["requests"])


def _fault(url: str, **rule: Any) -> None:
    requests.post(f"{url}/_sandbox/faults", json=rule, timeout=10).raise_for_status()


async def _get(client: HttpClient | AsyncHttpClient, path: str) -> Any:
    if isinstance(client, AsyncHttpClient):
        return await client.aget_json(path)
    return client.get_json(path)


@pytest.fixture(params=["sync", "async"])
async def gated(request: pytest.FixtureRequest, sandbox: Any, tmp_path: Path) -> Any:
    clients: list[HttpClient | AsyncHttpClient] = []

    def factory(gate: Any) -> HttpClient | AsyncHttpClient:
        cls = AsyncHttpClient if request.param == "async" else HttpClient
        auth = OAuth2ClientCredentials(
            f"{sandbox.url}/genesys-cloud{TOKEN}", "sandbox-client", "sandbox-secret", vendor="genesys_cloud"
        )
        client = cls(
            f"{sandbox.url}/genesys-cloud",
            vendor="genesys_cloud",
            auth=auth,
            policy=FAST,
            rng=random.Random(0),
            gate=gate,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        if isinstance(client, AsyncHttpClient):
            await client.aclose()
        else:
            client.close()


async def test_every_attempt_and_token_request_passes_the_gate(
    gated: Any, sandbox: Any, tmp_path: Path
) -> None:
    budget = RequestBudget(FileLimitStore(tmp_path), "genesys:org", limit=100, window=600)
    client = gated(budget)
    _fault(sandbox.url, method="GET", path=f"{ORG}$", kind="status", status=503, times=1)
    assert (await _get(client, ORG))["id"]
    sent = _sandbox_requests(sandbox.url, TOKEN) + _sandbox_requests(sandbox.url, ORG)
    assert len(sent) == 3  # token, 503, 200
    assert budget.remaining()[0] == 100 - len(sent)


async def test_exhausted_budget_raises_before_sending(gated: Any, sandbox: Any, tmp_path: Path) -> None:
    budget = RequestBudget(FileLimitStore(tmp_path), "genesys:org", limit=2, window=600)
    client = gated(budget)
    assert (await _get(client, ORG))["id"]  # token + GET: the budget is spent
    with pytest.raises(RequestBudgetExhausted) as caught:
        await _get(client, ORG)
    assert len(_sandbox_requests(sandbox.url, ORG)) == 1  # the second GET never left
    err = caught.value
    assert isinstance(err, VendorRateLimitError) and err.status is None and err.remaining == 0
    assert str(err).startswith(
        f"genesys_cloud GET /genesys-cloud{ORG} was not sent: request budget 'genesys:org'"
    )
    assert "0 of 2 requests left in the rolling 600 s window; the next request frees at" in str(err)
