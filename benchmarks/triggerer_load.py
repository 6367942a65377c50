"""Load on ONE triggerer: N export tasks deferred at once, polling the sandbox.

    python benchmarks/triggerer_load.py [--tasks 300] [--hold 60]

Starts the end-to-end harness (``tests/e2e``: PostgreSQL, the sandbox as a process, Airflow's
api-server, scheduler, dag-processor and one triggerer) with one benchmark DAG: a Genesys Cloud
details-job export mapped over ``--tasks`` consecutive hours (each mapped task its own vendor
job and partition). The sandbox holds every job unfinished until all tasks are deferred and
``--hold`` more seconds have passed, then lets them finish; the benchmark waits until every
task succeeded and prints:

* the triggerer's peak RSS (its whole process tree, sampled every 0.5 s);
* its CPU seconds per status poll the sandbox answered while the tasks were deferred;
* the largest event-loop stall: Airflow's watchdog sleeps 0.1 s and logs "async thread was
  blocked for X seconds" when X exceeds ``[triggerer] blocked_main_thread_warning_threshold``
  (default 0.2 s, i.e. a 0.1 s stall); the benchmark sets 0.15 s, so every stall over 50 ms
  is logged, and reports X - 0.1 for the stalls while the triggers waited and overall (start-up
  included); Airflow's default threshold would have logged the ones over 0.1 s;
* vendor requests made against the minimum the vendor's rules allow (per job a submit, one
  status poll that sees it finished and its result pages, plus one token); token requests are
  shown apart (each task process fetches its own, see README "Requests and tokens").

Numbers vary with machine load; the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import tempfile
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _sandbox_hold import hold_genesys_jobs  # noqa: E402
from e2e.airflow_stack import AirflowStack  # noqa: E402
from e2e.services import PostgresServer, Service, postgres_bindir, wait_until  # noqa: E402

DAG_ID = "cc_triggerer_load"
TASK_ID = "export"
STALL = re.compile(r"^(\S+Z) .*async thread was blocked for ([0-9.]+) seconds", re.MULTILINE)
#: The watchdog's own sleep, included in the time it reports.
WATCHDOG_SLEEP = 0.1

DAG_TEMPLATE = '''
"""Benchmark DAG (written by benchmarks/triggerer_load.py): one export mapped over {tasks} hours."""
from datetime import datetime, timedelta, timezone
from airflow.sdk import DAG
from contact_center_provider.operators.genesys_cloud import GenesysCloudDetailsJobOperator

START = datetime(2026, 10, 1, tzinfo=timezone.utc)
WINDOWS = [
    {{"interval_start": (START + timedelta(hours=i)).isoformat(),
      "interval_end": (START + timedelta(hours=i + 1)).isoformat()}}
    for i in range({tasks})
]

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         max_active_tasks={tasks}, default_args={{"retries": 2, "retry_delay": timedelta(seconds=10)}}):
    GenesysCloudDetailsJobOperator.partial(
        task_id="{task_id}",
        dataset="conversations",
        availability="ignore",
        output_base_uri="{output}",
        genesys_cloud_conn_id="genesys_cloud_default",
        deferrable=True,
        max_active_tis_per_dag={tasks},
    ).expand_kwargs(WINDOWS)
'''


class TreeSampler:
    """Peak RSS and CPU time of a process and its children, sampled on a thread."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._tree():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = 0
            for proc in self._tree():
                try:
                    rss += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self._stop.wait(self.interval)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # runs the finally block that stops every service


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--hold", type=float, default=60.0, help="seconds all tasks stay deferred")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)

    import requests

    root = Path(tempfile.mkdtemp(prefix="cc-bench-triggerer-"))
    dags = root / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(
        textwrap.dedent(
            DAG_TEMPLATE.format(
                tasks=args.tasks, dag_id=DAG_ID, task_id=TASK_ID, output=(root / "output").as_uri()
            )
        )
    )
    bindir = postgres_bindir()
    if bindir is None:
        print("PostgreSQL is not installed (Debian package 'postgresql')", file=sys.stderr)
        return 2
    postgres = PostgresServer(root / "logs", bindir).start()
    sandbox = Service(
        "sandbox",
        [sys.executable, "-m", "contact_center_provider.sandbox", "--port", "0", "--vendor", "genesys_cloud"],
        {"PATH": "/usr/bin:/bin"},
        root / "logs" / "sandbox.log",
    ).start()
    stack: AirflowStack | None = None
    try:
        sandbox.wait_for_log("sandbox ready: ", timeout=120)
        url = next(
            line for line in sandbox.log_text().splitlines() if line.startswith("sandbox ready: ")
        ).split()[2]
        hold = hold_genesys_jobs(url)
        stack = AirflowStack(
            root,
            postgres,
            url,
            dags_folder=dags,
            extra_env={
                "AIRFLOW__TRIGGERER__BLOCKED_MAIN_THREAD_WARNING_THRESHOLD": "0.15",
                "AIRFLOW__CORE__PARALLELISM": "16",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(args.tasks),
            },
        )
        stack.migrate()
        stack.start_core()
        stack.wait_for_dags([DAG_ID])
        assert stack.api is not None
        stack.unpause(DAG_ID)
        sampler = TreeSampler(stack.services["triggerer"].pid).start()
        started = time.monotonic()
        run_id = stack.api.request("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})[
            "dag_run_id"
        ]

        def states() -> dict[str, int]:
            """Task instances per state (``total_entries`` of a filtered list: no paging)."""
            counts = {}
            for state in ("deferred", "success", "failed", "up_for_retry", "running", "queued", "scheduled"):
                found = stack.api.get(  # type: ignore[union-attr]
                    f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", state=state, limit=1
                )
                counts[state] = int(found["total_entries"])
            return counts

        def all_deferred_yet() -> bool:
            counts = states()
            if counts["failed"]:
                raise RuntimeError(f"tasks failed before all were deferred: {counts}")
            return counts["deferred"] >= args.tasks

        wait_until(
            f"{args.tasks} tasks deferred",
            all_deferred_yet,
            timeout=args.timeout,
            interval=5,
            on_timeout=lambda: str(states()),
        )
        all_deferred = time.monotonic()
        held_from = time.time()
        polls_before = _status_polls(url)
        cpu_before = sampler.cpu_seconds()
        time.sleep(args.hold)  # the measured interval itself, not a synchronisation
        cpu_held = sampler.cpu_seconds() - cpu_before
        polls_held = _status_polls(url) - polls_before
        held_to = time.time()
        requests.delete(f"{url}/_sandbox/faults/{hold}", timeout=30).raise_for_status()
        wait_until(
            "every task to finish",
            lambda: states().get("success", 0) + states().get("failed", 0) >= args.tasks,
            timeout=args.timeout,
            interval=5,
            on_timeout=lambda: str(states()),
        )
        finished = time.monotonic()
        sampler.stop()
        final = states()
        counters = requests.get(f"{url}/_sandbox/counters", timeout=30).json()
        routes = counters["routes"]
        jobs = counters["jobs"]["genesys_cloud"]
        result_pages = sum(item["result_pages"] for item in jobs["items"].values())
        submits = routes.get("POST /genesys-cloud/api/v2/analytics/conversations/details/jobs", 0)
        polls = routes.get("GET /genesys-cloud/api/v2/analytics/conversations/details/jobs/{jobId}", 0)
        tokens = routes.get("POST /genesys-cloud/login/oauth/token", 0)
        made = sum(routes.values())
        # The vendor's floor: per job a submit, one poll that sees it finished and its pages; one token.
        minimum = jobs["created"] * 2 + result_pages + 1
        stalls = [
            (datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp(), float(seconds) - WATCHDOG_SLEEP)
            for when, seconds in STALL.findall(stack.services["triggerer"].log_text())
        ]
        held_stalls = [s for at, s in stalls if held_from <= at <= held_to]
        print(f"tasks: {args.tasks}  succeeded: {final.get('success', 0)}  states: {final}")
        print(f"vendor jobs created: {jobs['created']} (one per task: {jobs['created'] == args.tasks})")
        print(
            f"time to defer all: {all_deferred - started:.0f} s; held {args.hold:.0f} s; "
            f"then finished in {finished - all_deferred - args.hold:.0f} s"
        )
        print(f"triggerer peak RSS (process tree): {sampler.peak_rss / 2**20:.0f} MiB")
        print(
            f"triggerer CPU while {args.tasks} triggers waited: {cpu_held:.2f} s for {polls_held} status polls "
            f"= {cpu_held / max(polls_held, 1) * 1000:.2f} ms per poll"
        )
        print(
            "largest event-loop stall while the triggers waited: "
            + (
                f"{max(held_stalls):.2f} s ({len(held_stalls)} over 0.05 s)"
                if held_stalls
                else "none over 0.05 s"
            )
            + "; overall, start-up included: "
            + (
                f"{max(s for _, s in stalls):.2f} s ({len(stalls)} over 0.05 s)"
                if stalls
                else "none over 0.05 s"
            )
        )
        # Airflow's own words when a trigger fired before the scheduler saw the deferring try exit
        # (apache/airflow#71580): our waits are built so that this never happens.
        mismatches = (
            stack.services["scheduler"].log_text().count("but the task instance's state attribute is")
        )
        print(f"scheduler 'state mismatch' reports (trigger racing the scheduler): {mismatches}")
        print(
            f"vendor requests: {made} made, minimum {minimum} -> ratio {made / minimum:.2f} "
            f"(submits {submits}, status polls {polls}, tokens {tokens}, result pages {result_pages})"
        )
        return 0 if final.get("success", 0) == args.tasks else 1
    finally:
        if stack is not None:
            stack.stop()
        sandbox.stop()
        postgres.stop()
        print(f"logs: {root / 'logs'}")


def _status_polls(url: str) -> int:
    import requests

    routes = requests.get(f"{url}/_sandbox/counters", timeout=30).json()["routes"]
    return int(routes.get("GET /genesys-cloud/api/v2/analytics/conversations/details/jobs/{jobId}", 0))


if __name__ == "__main__":
    sys.exit(main())
