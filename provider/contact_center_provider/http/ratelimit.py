"""Client-side pacing so concurrent callers stay inside a vendor's request budget.

Vendors publish budgets as "N requests per window" (Genesys: 300 per minute per
token; Brightmetrics: 150 per 24 h; NICE Data Extraction: 1 per 30 s). Pacing on our
side keeps a burst of concurrent enrichment calls from turning into a 429 storm; the
HTTP core still honours ``Retry-After`` when a 429 comes anyway (the budget is shared
with other clients of the same token).

Where a request is stamped matters. The vendor counts a request when it *arrives*, which
is some time after we decide to send it: the first requests of a run also wait for the
OAuth token and for new connections, later ones go out on warm connections. Stamping at
the start would then let request ``N + limit`` arrive before request ``N`` leaves the
vendor's window, and the vendor answers 429 with a ``Retry-After`` of up to a whole
window. :meth:`AsyncRateLimiter.slot` therefore holds a slot while the request is in
flight and stamps it when the response is in: the vendor must have counted it by then,
so the window we keep is never ahead of the vendor's. It costs one round trip per window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class SlidingWindow:
    """Pure bookkeeping of a sliding-window budget: at most ``limit`` requests per ``window`` seconds.

    A request counts either from a stamp (:meth:`record`, or :meth:`settle` of a reserved
    slot) until ``window`` seconds later, or, while reserved and not yet settled, for as
    long as it is in flight. No I/O and no sleeping: the clock is injectable.

    :param limit: requests allowed per window (>= 1).
    :param window: the window in seconds (> 0).
    :param clock: monotonic seconds.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"A rate limit needs limit >= 1 and window > 0, got {limit} per {window}s")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._stamps: deque[float] = deque()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Reserved slots not settled yet."""
        return self._in_flight

    def wait_time(self) -> float:
        """Seconds until one more request fits: 0 when it fits now, ``math.inf`` when only
        a :meth:`settle` can free a slot (every counted request is still in flight)."""
        now = self.clock()
        while self._stamps and now - self._stamps[0] >= self.window:
            self._stamps.popleft()
        if len(self._stamps) + self._in_flight < self.limit:
            return 0.0
        if not self._stamps:
            return math.inf
        return self._stamps[0] + self.window - now

    def record(self) -> None:
        """Count a request from now (its start)."""
        self._stamps.append(self.clock())

    def reserve(self) -> None:
        """Count a request that is about to be sent, until :meth:`settle` stamps it.

        :raises RuntimeError: when the window is full (call only when :meth:`wait_time` is 0).
        """
        if self.wait_time() > 0:
            raise RuntimeError("SlidingWindow.reserve() called while the window is full")
        self._in_flight += 1

    def settle(self) -> None:
        """The reserved request is over (answered, failed or abandoned): count it from now."""
        if self._in_flight < 1:
            raise RuntimeError("SlidingWindow.settle() without a reserved slot")
        self._in_flight -= 1
        self._stamps.append(self.clock())


class AsyncRateLimiter:
    """Paces coroutines of one event loop to ``limit`` requests per ``window`` seconds.

    Prefer ``async with limiter.slot(): await send()``: the request counts until its
    response is in (see the module docstring). ``await limiter.acquire()`` counts from the
    start only and suits calls whose delay to the vendor is steady.
    Waiters are served in arrival order.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = SlidingWindow(limit, window, clock)
        self._lock = asyncio.Lock()
        self._settled = asyncio.Event()

    async def _wait_for_room(self) -> None:
        # Called with the lock held: nobody else can take the room we wait for.
        while True:
            wait = self._window.wait_time()
            if wait <= 0:
                return
            if math.isinf(wait):
                self._settled.clear()
                await self._settled.wait()
            else:
                await asyncio.sleep(wait)

    async def acquire(self) -> None:
        """Wait until a request fits, and count it from now."""
        async with self._lock:
            await self._wait_for_room()
            self._window.record()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait until a request fits; it counts while the block runs and from its end on."""
        async with self._lock:
            await self._wait_for_room()
            self._window.reserve()
        try:
            yield
        finally:
            self._window.settle()
            self._settled.set()
