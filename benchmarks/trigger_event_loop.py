"""The poll trigger's cost to an event loop: N waits on one connection in ONE loop.

    python benchmarks/trigger_event_loop.py [--triggers 300] [--seconds 20]

What a triggerer's event loop sees of our code alone (no Airflow triggerer around it): ``N``
:class:`~contact_center_provider.triggers.job_poll.JobPollTrigger` waits on Genesys Cloud jobs
the sandbox (a separate process) keeps answering as running, polled every 3 s for ``--seconds``.
A watchdog coroutine sleeps 50 ms at a time and records how late it wakes (the loop's lag).

Two modes, each in its own subprocess, alternating:

* ``shared`` (what ships): the triggers of one connection share one OAuth grant
  (``http.auth.shared_auth``), so one token is fetched and given to Airflow's secrets masker;
* ``per-trigger`` (the baseline, the provider before sharing): each trigger fetches its own
  token, and Airflow's masker recompiles its pattern of all secrets for every one of them.

Prints per mode the largest and 99th-percentile loop lag, the lags over 50 ms and 100 ms,
the process's CPU per status poll and the token requests; then the ratios baseline / shared
(higher is better). Airflow's triggerer warns "async thread was blocked" at 0.2 s by default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from _sandbox_hold import hold_genesys_jobs  # noqa: E402
from demo import sandbox_connections, start_sandbox  # noqa: E402

HOOK = "contact_center_provider.hooks.genesys_cloud.GenesysCloudHook"
CONN_ID = "genesys_cloud_default"
WATCHDOG_SLEEP = 0.05
POLL_SECONDS = 3.0


def _token_requests(url: str) -> int:
    import requests

    answer = requests.get(f"{url}/_sandbox/requests", params={"path": "/oauth/token"}, timeout=30)
    answer.raise_for_status()
    return len(answer.json()["requests"])


def measure(url: str, triggers: int, seconds: float, shared: bool) -> dict[str, Any]:
    """One mode, in this process: returns the figures as a dict."""
    import logging

    logging.disable(logging.INFO)  # the triggers' per-poll lines; a triggerer ships them elsewhere
    os.environ.update(sandbox_connections(url))
    from contact_center_provider.triggers.job_poll import JobPollTrigger
    from contact_center_provider.triggers.polling import PollSchedule

    class Trigger(JobPollTrigger):
        def _hook(self) -> Any:
            hook = super()._hook()
            hook.share_auth = shared  # type: ignore[attr-defined]
            return hook

    def trigger(i: int) -> Trigger:
        schedule = PollSchedule.starting_now(seconds, interval=POLL_SECONDS, first_delay=POLL_SECONDS)
        job = {
            "job_id": f"00000000-0000-4000-8000-{i:012d}",
            "vendor": "genesys_cloud",
            "kind": "conversations",
        }
        return Trigger(hook_class=HOOK, conn_id=CONN_ID, job=job, schedule=schedule.to_dict())  # type: ignore[arg-type]

    lags: list[float] = []

    async def watchdog(stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(WATCHDOG_SLEEP)
            lags.append(time.perf_counter() - before - WATCHDOG_SLEEP)

    async def run() -> tuple[int, float]:
        stop = asyncio.Event()
        dog = asyncio.create_task(watchdog(stop))
        cpu = time.process_time()
        events = await asyncio.gather(*(trigger(i).poll() for i in range(triggers)))
        cpu = time.process_time() - cpu
        stop.set()
        await dog
        return sum(e.polls for e in events), cpu

    # Warm-up: the first poll imports what a running triggerer has long imported (Airflow's
    # connection lookup, anyio's streams); that one-off is not the triggers' cost.
    warm = PollSchedule.starting_now(0.5, interval=0.1).to_dict()
    asyncio.run(Trigger(hook_class=HOOK, conn_id=CONN_ID, job=trigger(-1).job, schedule=warm).poll())
    tokens = _token_requests(url)
    polls, cpu = asyncio.run(run())
    lags.sort()
    return {
        "max_lag": lags[-1],
        "p99_lag": lags[int(len(lags) * 0.99)],
        "over_50ms": sum(lag > 0.05 for lag in lags),
        "over_100ms": sum(lag > 0.1 for lag in lags),
        "cpu_per_poll": cpu / max(polls, 1),
        "polls": polls,
        "tokens": _token_requests(url) - tokens,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--triggers", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the triggers wait")
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs per mode")
    parser.add_argument("--child", choices=["shared", "per-trigger"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.url, args.triggers, args.seconds, args.child == "shared")))
        return 0

    sandbox, url = start_sandbox()
    try:
        hold_genesys_jobs(url)
        results: dict[str, list[dict[str, Any]]] = {"per-trigger": [], "shared": []}
        for _ in range(args.repeat):
            for mode in ("per-trigger", "shared"):
                out = subprocess.run(
                    [
                        *(sys.executable, __file__, "--child", mode, "--url", url),
                        *("--triggers", str(args.triggers), "--seconds", str(args.seconds)),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                results[mode].append(json.loads(out.strip().splitlines()[-1]))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)

    def worst(mode: str, key: str) -> float:
        return max(float(r[key]) for r in results[mode])

    print(
        f"{args.triggers} triggers on one connection, polled every {POLL_SECONDS:.0f} s for {args.seconds:.0f} s"
    )
    for mode in ("per-trigger", "shared"):
        print(
            f"{mode:>11}: max loop lag {worst(mode, 'max_lag') * 1000:.0f} ms, "
            f"p99 {worst(mode, 'p99_lag') * 1000:.0f} ms, "
            f"over 50 ms {worst(mode, 'over_50ms'):.0f}, over 100 ms {worst(mode, 'over_100ms'):.0f}, "
            f"CPU {worst(mode, 'cpu_per_poll') * 1000:.2f} ms/poll, token requests {worst(mode, 'tokens'):.0f}"
        )
    print(
        "ratios per-trigger / shared: max lag "
        f"{worst('per-trigger', 'max_lag') / worst('shared', 'max_lag'):.1f}x, CPU per poll "
        f"{worst('per-trigger', 'cpu_per_poll') / worst('shared', 'cpu_per_poll'):.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
