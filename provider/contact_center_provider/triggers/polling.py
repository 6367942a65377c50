"""The poll schedule shared by the trigger (async) and the worker-side wait (sync).

Both paths ask the same questions — how long until the next poll, has the deadline
passed — so the answers live here once. Intervals grow geometrically from
``interval`` to ``max_interval``; a vendor hint (e.g. ``Retry-After`` on an OData
status monitor, or on a 429) is a floor: the wait is never shorter than the vendor asked,
but a hint that repeats the same few seconds on every answer (Brightmetrics' status
monitor) does not stop the interval from growing. No sleep runs past the deadline.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

#: First wait between polls. Genesys jobs rarely finish in under ~3 s.
DEFAULT_POLL_INTERVAL = 3.0
#: Longest wait between polls.
DEFAULT_MAX_POLL_INTERVAL = 60.0
#: Growth factor of the wait after each poll that saw the job still running.
DEFAULT_POLL_BACKOFF = 1.5
#: How long an operator or sensor waits for a job by default (seconds).
DEFAULT_WAIT_TIMEOUT = 6 * 60 * 60.0


@dataclass(frozen=True)
class PollSchedule:
    """When to poll next, bounded by an absolute ``deadline`` (epoch seconds, wall clock).

    The deadline is wall-clock time because a deferred trigger can be resumed on
    another triggerer after a restart; monotonic clocks do not survive that.

    ``first_delay`` is waited before the first poll: a job is never done the instant the
    vendor accepted it, and where every request is counted (Brightmetrics: 150 a day) that
    first look is a request spent for nothing.
    """

    deadline: float
    interval: float = DEFAULT_POLL_INTERVAL
    max_interval: float = DEFAULT_MAX_POLL_INTERVAL
    backoff: float = DEFAULT_POLL_BACKOFF
    first_delay: float = 0.0

    @classmethod
    def starting_now(
        cls,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        *,
        interval: float = DEFAULT_POLL_INTERVAL,
        max_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        backoff: float = DEFAULT_POLL_BACKOFF,
        first_delay: float = 0.0,
    ) -> PollSchedule:
        return cls(
            time.time() + timeout,
            interval,
            max(interval, max_interval),
            max(backoff, 1.0),
            max(first_delay, 0.0),
        )

    def remaining(self, now: float | None = None) -> float:
        return self.deadline - (time.time() if now is None else now)

    def expired(self, now: float | None = None) -> bool:
        return self.remaining(now) <= 0

    def delay(self, polls: int, hint: float | None = None, now: float | None = None) -> float:
        """Seconds to wait after the ``polls``-th poll (1-based): the schedule's interval, or the
        vendor's ``hint`` when that is longer; never past the deadline."""
        computed = min(self.interval * self.backoff ** max(polls - 1, 0), self.max_interval)
        wanted = max(hint, computed) if hint is not None and hint > 0 else computed
        return max(0.0, min(wanted, self.remaining(now)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PollSchedule:
        return cls(**data)
