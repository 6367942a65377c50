"""Benchmark: Genesys Cloud enrichment (``GET /api/v2/conversations/{id}``) speed and pacing.

Starts its own sandbox (seed 42) on loopback, points a ``genesys_cloud`` connection at it
(``AIRFLOW_CONN_GENESYS_SANDBOX``) and measures, each run with a fresh token and a reset
sandbox:

a) **Concurrency** — sandbox latency ``--latency-ms`` (50), per-token limit raised out of
   the way: ``--conversations`` ids fetched one request at a time with the sync client
   (the original exporter's loop; the baseline) versus
   :meth:`GenesysCloudHook.aiter_conversations`. Prints both durations and the speed-up.
b) **Pacing** — the sandbox's default budget (300 requests per token in a sliding 60 s
   window): first as many conversations as the budget (they all fit in one window, so the
   ideal is "no waiting at all"), then twice as many (the second half must wait for the
   window to slide: the ideal is one window, 60 s). Prints durations, the 429s the sandbox
   served (from its request log), failures, and each duration's ratio to 60 s.

    python benchmarks/genesys_enrichment.py            # full: a) 1,000 ids, b) 300 and 600 ids
    python benchmarks/genesys_enrichment.py --quick    # a) 200 ids, b) at 60/min: 60 and 120 ids

The paced runs take about a minute each by nature (that is the vendor's budget).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# Airflow reads its home at import: keep the benchmark out of ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cc-bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import requests

CONN_ID = "genesys_sandbox"
SEED = 42
WINDOW_SECONDS = 60.0
CONVERSATIONS_PATH = "/api/v2/conversations/"


@dataclass
class Run:
    """One measured enrichment run."""

    seconds: float
    fetched: int
    served: int
    throttled: int
    failures: int
    error: str | None = None


class Sandbox:
    """A thin admin client of the ``/_sandbox/`` control plane."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{self.url}/_sandbox{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def reset(self, *, latency_ms: float, rate_limit_per_minute: int) -> None:
        self._call("POST", "/reset")
        self._call("PATCH", "/settings", {"latency_ms": latency_ms})
        self._call(
            "PATCH", "/vendors/genesys_cloud/settings", {"rate_limit_per_minute": rate_limit_per_minute}
        )

    def conversation_requests(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self._call("GET", f"/requests?path={CONVERSATIONS_PATH}&method=GET")[
            "requests"
        ]
        return records


def conversation_ids(count: int) -> list[str]:
    """``count`` distinct ids the sandbox serves (the same generator, seed and day size)."""
    from contact_center_provider.sandbox.genesys_cloud import data

    start = datetime(2024, 5, 1, tzinfo=UTC)
    end = start + timedelta(days=count // data.DEFAULT_PER_DAY + 2)
    unique = dict.fromkeys(r["conversationId"] for r in data.generate_conversations(SEED, start, end))
    ids = list(itertools.islice(unique, count))
    if len(ids) < count:
        raise SystemExit(f"the generator produced only {len(ids)} of {count} conversations")
    return ids


def _hook(requests_per_minute: int) -> Any:
    from contact_center_provider.hooks.genesys_cloud import GenesysCloudHook

    return GenesysCloudHook(CONN_ID, requests_per_minute=requests_per_minute)


def _tally(sandbox: Sandbox, seconds: float, fetched: int, wanted: int, error: str | None) -> Run:
    records = sandbox.conversation_requests()
    return Run(
        seconds=seconds,
        fetched=fetched,
        served=sum(1 for r in records if r["status"] == 200),
        throttled=sum(1 for r in records if r["status"] == 429),
        failures=wanted - fetched,
        error=error,
    )


def run_sequential(sandbox: Sandbox, ids: list[str], requests_per_minute: int) -> Run:
    """The baseline: one blocking request after the other."""
    hook = _hook(requests_per_minute)
    hook.get_organization()  # the token grant is not part of the measurement
    fetched = 0
    error = None
    started = time.perf_counter()
    try:
        for cid in ids:
            hook.client.request("GET", f"/api/v2/conversations/{cid}")
            fetched += 1
    except Exception as exc:  # reported, not hidden: the figure is then meaningless
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    hook.close()
    return _tally(sandbox, seconds, fetched, len(ids), error)


async def _enrich(
    ids: list[str], requests_per_minute: int, concurrency: int, warm_up: bool
) -> tuple[float, int, str | None]:
    hook = _hook(requests_per_minute)
    fetched = 0
    error = None
    try:
        if warm_up:  # the token grant outside the timing, as for the baseline (costs one budgeted call)
            await (await hook.aclient()).aget_json("/api/v2/organizations/me")
        started = time.perf_counter()
        try:
            async for _cid, raw in hook.aiter_conversations(ids, concurrency=concurrency):
                if raw:
                    fetched += 1
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
    finally:
        await hook.aclose()
    return seconds, fetched, error


def run_concurrent(
    sandbox: Sandbox, ids: list[str], requests_per_minute: int, concurrency: int, *, warm_up: bool
) -> Run:
    seconds, fetched, error = asyncio.run(_enrich(ids, requests_per_minute, concurrency, warm_up))
    return _tally(sandbox, seconds, fetched, len(ids), error)


def _describe(run: Run) -> str:
    text = (
        f"{run.seconds:8.2f} s  fetched {run.fetched}  served 200s {run.served}  "
        f"429s {run.throttled}  failures {run.failures}"
    )
    return text + (f"  ERROR {run.error}" if run.error else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs (about 1.5 minutes in all)")
    parser.add_argument("--conversations", type=int, help="ids for part a (default 1000, quick 200)")
    parser.add_argument("--concurrency", type=int, default=16, help="aiter_conversations concurrency")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="sandbox latency in part a")
    parser.add_argument(
        "--paced-latency-ms", type=float, default=50.0, help="sandbox latency in part b (network stand-in)"
    )
    parser.add_argument("--limit", type=int, help="per-token budget in part b (default 300, quick 60)")
    parser.add_argument("--skip-a", action="store_true", help="only the pacing runs")
    parser.add_argument("--skip-b", action="store_true", help="only the concurrency runs")
    args = parser.parse_args(argv)
    count = args.conversations or (200 if args.quick else 1000)
    limit = args.limit or (60 if args.quick else 300)

    from contact_center_provider.sandbox.server import SandboxServer

    with SandboxServer(host="127.0.0.1", port=0, seed=SEED) as server:
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {
                "conn_type": "genesys_cloud",
                "login": "bench-client",
                "password": "bench-secret",
                "extra": {
                    "api_base_url": f"{server.url}/genesys-cloud",
                    "login_base_url": f"{server.url}/genesys-cloud/login",
                },
            }
        )
        sandbox = Sandbox(server.url)
        ids = conversation_ids(max(count, 2 * limit))
        ok = True

        if not args.skip_a:
            high = 1_000_000
            print(
                f"a) {count} conversations, sandbox latency {args.latency_ms:g} ms, limit raised to {high}/min"
            )
            sandbox.reset(latency_ms=args.latency_ms, rate_limit_per_minute=high)
            baseline = run_sequential(sandbox, ids[:count], high)
            print(f"   sequential sync loop (baseline):       {_describe(baseline)}")
            sandbox.reset(latency_ms=args.latency_ms, rate_limit_per_minute=high)
            measured = run_concurrent(sandbox, ids[:count], high, args.concurrency, warm_up=True)
            print(f"   aiter_conversations(concurrency={args.concurrency:<3}): {_describe(measured)}")
            speedup = baseline.seconds / measured.seconds
            print(
                f"   speed-up {speedup:.1f}x (target >= 5x); "
                f"{count / baseline.seconds:.0f} vs {count / measured.seconds:.0f} conversations/s"
            )
            ok = ok and not (baseline.error or measured.error)

        if not args.skip_b:
            print(
                f"b) sandbox budget {limit} requests/token/60 s (sliding), latency {args.paced_latency_ms:g} ms, "
                f"hook requests_per_minute={limit}, concurrency {args.concurrency}"
            )
            for n, ideal in ((limit, "one window: no wait needed, ideal ~0 s"), (2 * limit, "ideal 60 s")):
                sandbox.reset(latency_ms=args.paced_latency_ms, rate_limit_per_minute=limit)
                run = run_concurrent(sandbox, ids[:n], limit, args.concurrency, warm_up=False)
                print(f"   {n:4d} conversations: {_describe(run)}")
                print(f"        ratio to 60 s: {run.seconds / WINDOW_SECONDS:.3f}  ({ideal}; target <= 1.2)")
                ok = ok and run.failures == 0 and run.error is None
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
