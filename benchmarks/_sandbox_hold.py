"""Shared by the trigger benchmarks: make the sandbox's Genesys Cloud jobs look running."""

from __future__ import annotations

import requests


def hold_genesys_jobs(url: str) -> str:
    """Every Genesys Cloud job status poll answers PENDING until the returned fault is deleted
    (``DELETE {url}/_sandbox/faults/{id}``); jobs otherwise finish at once and the per-minute
    rate limit is lifted, so only the hold decides when the waits end."""
    requests.patch(
        f"{url}/_sandbox/vendors/genesys_cloud/settings",
        json={"job_seconds_to_complete": 0, "rate_limit_per_minute": 1_000_000},
        timeout=30,
    ).raise_for_status()
    # A job's progression is fixed when it is submitted; a fault rule is not.
    hold = requests.post(
        f"{url}/_sandbox/faults",
        json={
            "method": "GET",
            "path": r"/conversations/details/jobs/[0-9a-f-]+$",
            "kind": "status",
            "status": 200,
            "body": {"state": "PENDING"},  # a Genesys job state: still running
            "times": None,  # every poll until the rule is deleted
        },
        timeout=30,
    )
    hold.raise_for_status()
    return str(hold.json()["id"])
