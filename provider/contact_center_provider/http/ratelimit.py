"""Client-side pacing so concurrent callers stay inside a vendor's request budget.

Vendors publish budgets as "N requests per window" (Genesys: 300 per minute per
token; Brightmetrics: 150 per 24 h; NICE Data Extraction: 1 per 30 s). Pacing on our
side keeps a burst of concurrent enrichment calls from turning into a 429 storm; the
HTTP core still honours ``Retry-After`` when a 429 comes anyway (the budget is shared
with other clients of the same token).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """Pure bookkeeping of a sliding-window budget: at most ``limit`` starts per ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"A rate limit needs limit >= 1 and window > 0, got {limit} per {window}s")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._starts: deque[float] = deque()

    def wait_time(self) -> float:
        """Seconds until one more start fits (0 when it fits now)."""
        now = self.clock()
        while self._starts and now - self._starts[0] >= self.window:
            self._starts.popleft()
        if len(self._starts) < self.limit:
            return 0.0
        return self._starts[0] + self.window - now

    def record(self) -> None:
        self._starts.append(self.clock())


class AsyncRateLimiter:
    """``await limiter.acquire()`` before each request; waits while the window is full."""

    def __init__(self, limit: int, window: float) -> None:
        self._window = SlidingWindow(limit, window)
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            # One sleep is enough: nobody else can record while we hold the lock.
            wait = self._window.wait_time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._window.record()


class RateLimiter:
    """The blocking twin of :class:`AsyncRateLimiter`, for worker-side loops."""

    def __init__(self, limit: int, window: float) -> None:
        self._window = SlidingWindow(limit, window)

    def acquire(self) -> None:
        wait = self._window.wait_time()
        if wait > 0:
            time.sleep(wait)
        self._window.record()
