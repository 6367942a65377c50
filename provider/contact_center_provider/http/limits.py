"""Request limits shared by every process that talks to a vendor: call spacing and request budgets.

Some vendor limits span tasks: NICE CXone allows one Data Extraction call per 30 s per tenant,
Brightmetrics 150 requests per 24 h per company account. Process memory cannot keep those (each
worker and the triggerer would count alone), so a :class:`RequestGate` keeps its state in a
:class:`LimitStore` every process sees:

* ``file:///some/dir`` (:class:`FileLimitStore`): one small JSON file per key, read and
  rewritten under an exclusive ``flock``. Coordinates every process on one host (a single-host
  deployment, the docker-compose stack, the tests). The default is a folder named
  ``airflow-contact-center-limits`` under the system temp directory.
* ``redis://host:port/db`` (:class:`RedisLimitStore`, needs the ``redis`` extra): for workers and
  triggerers on several hosts (Celery, Kubernetes).

Choose with the ``uri`` argument of :func:`limit_store`, the environment variable
``CC_LIMITS_STORE`` or the Airflow setting ``[contact_center] limits_store``, in that order.

The HTTP core calls ``gate.acquire()`` (``await gate.aacquire()`` in async code) right before it
sends each attempt, retries and token requests included. Timestamps are wall-clock epochs
(``time.time()``): they are compared across processes and, with Redis, across hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from contact_center_provider.http.errors import VendorRateLimitError, strip_query

__all__ = [
    "DEFAULT_STORE_DIR_NAME",
    "STORE_ENV_VAR",
    "CallSpacing",
    "FileLimitStore",
    "LimitStore",
    "LimitStoreError",
    "RedisLimitStore",
    "RequestBudget",
    "RequestBudgetExhausted",
    "RequestGate",
    "limit_store",
]

#: Environment variable naming the store (a URI); wins over the Airflow setting.
STORE_ENV_VAR = "CC_LIMITS_STORE"
#: Folder under :func:`tempfile.gettempdir` used when nothing is configured.
DEFAULT_STORE_DIR_NAME = "airflow-contact-center-limits"
#: Airflow config section and option naming the store.
CONFIG_SECTION, CONFIG_OPTION = "contact_center", "limits_store"

_R = TypeVar("_R")
#: ``stamps -> (new stamps, result)``: a pure change applied atomically to one key's timestamps.
Change = Callable[[list[float]], tuple[list[float], _R]]


class LimitStoreError(RuntimeError):
    """The limit store is misconfigured, unreachable or holds unreadable state."""


class RequestBudgetExhausted(VendorRateLimitError):
    """A shared request budget has no request left: the request was NOT sent.

    Raised before sending by :class:`RequestBudget` (``when_exhausted="fail"``); the HTTP core
    re-raises it naming the vendor, method and path that were held back. A subclass of
    :class:`VendorRateLimitError`, so a poll trigger treats it as "ask again later".

    :param key: the budget's key (e.g. ``brightmetrics:acme``).
    :param limit: requests allowed per window.
    :param window: the rolling window in seconds.
    :param remaining: requests left (0 when raised by the gate).
    :param resets_at: epoch seconds when the oldest counted request leaves the window.
    """

    def __init__(
        self,
        key: str,
        limit: int,
        window: float,
        remaining: int = 0,
        resets_at: float | None = None,
        *,
        vendor: str = "",
        method: str = "-",
        url: str = "",
    ) -> None:
        self.key = key
        self.limit = limit
        self.window = window
        self.remaining = remaining
        self.resets_at = resets_at
        retry_after = max(0.0, resets_at - time.time()) if resets_at is not None else None
        super().__init__(vendor=vendor, method=method, url=url, retry_after=retry_after)

    def _budget_text(self) -> str:
        text = (
            f"request budget {self.key!r} exhausted: {self.remaining} of {self.limit} requests left "
            f"in the rolling {self.window:g} s window"
        )
        if self.resets_at is not None:
            when = datetime.fromtimestamp(self.resets_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            text += f"; the next request frees at {when}"
        return text

    def __str__(self) -> str:
        if self.vendor:
            return f"{self.vendor} {self.method} {self.path} was not sent: {self._budget_text()}"
        return f"{self._budget_text()}; the request was not sent"

    def for_request(self, vendor: str, method: str, url: str) -> RequestBudgetExhausted:
        """The same error, naming the request that was held back."""
        return RequestBudgetExhausted(
            self.key,
            self.limit,
            self.window,
            self.remaining,
            self.resets_at,
            vendor=vendor,
            method=method,
            url=url,
        )


# == stores =====================================================================================


class LimitStore(Protocol):
    """Cross-process state of the gates: per key, a list of epoch timestamps.

    A store applies a pure ``change`` to one key's list atomically with respect to every other
    process using the same store: read, compute, write back (only if it changed), return the
    change's result. ``change`` may run more than once (optimistic stores retry it on conflict),
    so it must not have side effects.
    """

    @property
    def uri(self) -> str:
        """Where the state lives (no credentials)."""
        ...

    def update(self, key: str, change: Change[_R]) -> _R:
        """Apply ``change`` atomically to ``key``'s timestamps; may block on other processes."""
        ...

    async def aupdate(self, key: str, change: Change[_R]) -> _R:
        """Same as :meth:`update` without blocking the event loop."""
        ...


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _decode(raw: bytes | str | None, where: str) -> list[float]:
    if not raw:
        return []
    try:
        stamps = json.loads(raw)
        if not isinstance(stamps, list):
            raise TypeError("not a JSON list")
        return [float(s) for s in stamps]
    except (TypeError, ValueError) as exc:
        raise LimitStoreError(
            f"limit state {where} is unreadable ({type(exc).__name__}: {exc}); delete it to reset that limit"
        ) from None


class FileLimitStore:
    """Limit state in a local folder: one ``<key>.json`` per key, changed under an exclusive ``flock``.

    Every process on the host that uses the same folder is coordinated (threads too: each
    update opens its own lock file description). Use a folder all Airflow processes can write.
    Writes go to a temporary file renamed over the old one, so a crash never leaves a torn file.

    :param directory: the folder (created if missing).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LimitStoreError(
                f"cannot create the limits folder {str(self.directory)!r}: {exc.strerror}"
            ) from None

    @property
    def uri(self) -> str:
        return self.directory.resolve().as_uri()

    def __repr__(self) -> str:
        return f"FileLimitStore({str(self.directory)!r})"

    def _paths(self, key: str) -> tuple[Path, Path]:
        # Readable and collision-free: the sanitised key plus a hash of the exact key.
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        stem = f"{_UNSAFE.sub('_', key)[:80]}-{digest}"
        return self.directory / f"{stem}.lock", self.directory / f"{stem}.json"

    @contextlib.contextmanager
    def _locked(self, lock_path: Path) -> Iterator[None]:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def update(self, key: str, change: Change[_R]) -> _R:
        lock_path, data_path = self._paths(key)
        with self._locked(lock_path):
            try:
                raw = data_path.read_bytes()
            except FileNotFoundError:
                raw = b""
            stamps = _decode(raw, repr(str(data_path)))
            new, result = change(list(stamps))
            if new != stamps:
                tmp = data_path.with_name(f"{data_path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(new))
                os.replace(tmp, data_path)
        return result

    async def aupdate(self, key: str, change: Change[_R]) -> _R:
        # flock blocks the calling thread while another process holds the key.
        return await asyncio.to_thread(self.update, key, change)


class RedisLimitStore:
    """Limit state in Redis, changed with optimistic ``WATCH``/``MULTI`` transactions.

    For deployments whose workers and triggerer run on several hosts. Needs the ``redis``
    package (``pip install 'airflow-provider-contact-center[redis]'``).

    :param url: ``redis://[user:password@]host:port/db`` (or ``rediss://`` for TLS).
    :param prefix: prefix of the Redis keys.
    """

    def __init__(self, url: str, *, prefix: str = "contact-center-limits:") -> None:
        try:
            import redis
        except ImportError:
            raise LimitStoreError(
                f"the limits store {strip_query(url)!r} needs the 'redis' package: "
                "pip install 'airflow-provider-contact-center[redis]'"
            ) from None
        self._redis_module: Any = redis
        self._client: Any = redis.Redis.from_url(url)
        self._uri = strip_query(url)
        self.prefix = prefix

    @property
    def uri(self) -> str:
        return self._uri

    def __repr__(self) -> str:
        return f"RedisLimitStore({self._uri!r})"

    def update(self, key: str, change: Change[_R]) -> _R:
        name = self.prefix + key
        with self._client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(name)
                    stamps = _decode(pipe.get(name), f"redis key {name!r}")
                    new, result = change(list(stamps))
                    if new == stamps:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    pipe.set(name, json.dumps(new))
                    pipe.execute()
                    return result
                except self._redis_module.WatchError:
                    continue  # another process changed the key meanwhile: recompute

    async def aupdate(self, key: str, change: Change[_R]) -> _R:
        return await asyncio.to_thread(self.update, key, change)


def _configured_uri() -> str | None:
    value = os.environ.get(STORE_ENV_VAR)
    if value:
        return value
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # outside Airflow (sandbox, scripts)
        return None
    setting = conf.get(CONFIG_SECTION, CONFIG_OPTION, fallback=None)
    return str(setting) if setting else None


def default_store_uri() -> str:
    """``file://`` URI of the default folder under the system temp directory."""
    return (Path(tempfile.gettempdir()) / DEFAULT_STORE_DIR_NAME).as_uri()


def limit_store(uri: str | None = None) -> LimitStore:
    """Return the limit store named by ``uri``, or the configured one.

    :param uri: ``file:///dir``, a plain absolute path, or ``redis://host:port/db``. When
        ``None``: ``$CC_LIMITS_STORE``, else Airflow's ``[contact_center] limits_store``, else a
        folder named ``airflow-contact-center-limits`` under the system temp directory.
    :raises LimitStoreError: unknown scheme, uncreatable folder, or ``redis`` not installed.
    """
    return _store_for(uri or _configured_uri() or default_store_uri())


@functools.cache
def _store_for(uri: str) -> LimitStore:
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return FileLimitStore(unquote(parts.path))
    if not parts.scheme and uri.startswith("/"):
        return FileLimitStore(uri)
    if parts.scheme in ("redis", "rediss", "unix"):
        return RedisLimitStore(uri)
    raise LimitStoreError(
        f"limits store {strip_query(uri)!r}: unknown scheme {parts.scheme!r}; "
        "use file:///some/dir or redis://host:port/db"
    )


# == gates ======================================================================================


class RequestGate(Protocol):
    """Something to pass right before sending a request: it waits, or raises, while a limit holds."""

    def acquire(self) -> None:
        """Block (sleep) until a request may be sent, or raise."""
        ...

    async def aacquire(self) -> None:
        """Same as :meth:`acquire`, without blocking the event loop."""
        ...


class CallSpacing:
    """No two acquisitions for ``key`` closer than ``min_interval`` seconds, across processes.

    NICE CXone's Data Extraction API allows one call per 30 s per tenant: ``CallSpacing(store,
    f"nice_cxone:{tenant}", 30.0)``. As long as a call takes less than the interval, that also
    means one caller at a time. A waiting caller holds no lock: it sleeps and tries again.

    :param store: the shared store (:func:`limit_store`).
    :param key: what the limit applies to, e.g. the vendor and tenant.
    :param min_interval: seconds between two acquisitions (> 0).
    """

    def __init__(
        self, store: LimitStore, key: str, min_interval: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        if min_interval <= 0:
            raise ValueError(f"CallSpacing {key!r}: min_interval must be > 0, got {min_interval}")
        self.store = store
        self.key = key
        self.min_interval = float(min_interval)
        self._clock = clock
        #: Epoch at which this gate last let a request through (the stamp written to the store).
        self.last_acquired: float | None = None

    def __repr__(self) -> str:
        return f"CallSpacing(key={self.key!r}, min_interval={self.min_interval:g}, store={self.store.uri!r})"

    def _take(self, stamps: list[float]) -> tuple[list[float], tuple[float, float]]:
        """Change: take the slot if the interval has passed; else say how long to wait."""
        now = self._clock()  # read under the store's lock, so stamps are ordered like the takes
        if stamps:
            last = stamps[-1]
            if last > now:
                # A stamp from the future (a clock stepped back, or skew between hosts): restart
                # the interval from now rather than wait for the clock to catch up.
                return [now], (self.min_interval, now)
            wait = last + self.min_interval - now
            if wait > 0:
                return stamps, (wait, now)
        return [now], (0.0, now)

    def acquire(self) -> None:
        while True:
            wait, now = self.store.update(self.key, self._take)
            if wait <= 0:
                self.last_acquired = now
                return
            time.sleep(wait)

    async def aacquire(self) -> None:
        while True:
            wait, now = await self.store.aupdate(self.key, self._take)
            if wait <= 0:
                self.last_acquired = now
                return
            await asyncio.sleep(wait)


@dataclass(frozen=True)
class _BudgetState:
    granted: bool
    remaining: int
    resets_at: float | None
    now: float


class RequestBudget:
    """At most ``limit`` acquisitions for ``key`` in any rolling ``window`` seconds, across processes.

    Brightmetrics allows 150 requests per 24 h per company account: ``RequestBudget(store,
    f"brightmetrics:{account}", 150, 86400)``. Every acquisition counts, including attempts the
    vendor may not have counted (a refused connection): we err on the side of the vendor's limit.

    :param store: the shared store (:func:`limit_store`).
    :param key: what the budget applies to, e.g. the vendor and account.
    :param limit: requests allowed per window (>= 1).
    :param window: the rolling window in seconds (> 0).
    :param when_exhausted: ``"fail"`` (default) raises :class:`RequestBudgetExhausted` before the
        request is sent; ``"wait"`` sleeps until the oldest counted request leaves the window
        (for short windows only: with a 24 h window that can be most of a day).
    """

    def __init__(
        self,
        store: LimitStore,
        key: str,
        limit: int,
        window: float,
        *,
        when_exhausted: Literal["fail", "wait"] = "fail",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(
                f"RequestBudget {key!r}: needs limit >= 1 and window > 0, got {limit} per {window}"
            )
        if when_exhausted not in ("fail", "wait"):
            raise ValueError(
                f"RequestBudget {key!r}: when_exhausted must be 'fail' or 'wait', got {when_exhausted!r}"
            )
        self.store = store
        self.key = key
        self.limit = int(limit)
        self.window = float(window)
        self.when_exhausted = when_exhausted
        self._clock = clock
        #: Epoch at which this gate last let a request through (the stamp written to the store).
        self.last_acquired: float | None = None

    def __repr__(self) -> str:
        return (
            f"RequestBudget(key={self.key!r}, limit={self.limit}, window={self.window:g}, "
            f"when_exhausted={self.when_exhausted!r}, store={self.store.uri!r})"
        )

    def _live(self, stamps: list[float], now: float) -> list[float]:
        # A stamp from the future (clock skew) counts as now, so it leaves the window in time.
        return sorted(min(s, now) for s in stamps if s > now - self.window)

    def _take(self, stamps: list[float]) -> tuple[list[float], _BudgetState]:
        now = self._clock()
        live = self._live(stamps, now)
        if len(live) < self.limit:
            live.append(now)
            return live, _BudgetState(True, self.limit - len(live), live[0] + self.window, now)
        return live, _BudgetState(False, 0, live[0] + self.window, now)

    def _peek(self, stamps: list[float]) -> tuple[list[float], _BudgetState]:
        now = self._clock()
        live = self._live(stamps, now)
        resets_at = live[0] + self.window if live else None
        return stamps, _BudgetState(False, self.limit - len(live), resets_at, now)

    def _exhausted(self, state: _BudgetState) -> RequestBudgetExhausted:
        return RequestBudgetExhausted(self.key, self.limit, self.window, state.remaining, state.resets_at)

    def _wait(self, state: _BudgetState) -> float:
        # resets_at is set whenever the budget is exhausted (the window holds `limit` stamps).
        return max(0.0, (state.resets_at or 0.0) - self._clock())

    def acquire(self) -> None:
        while True:
            state = self.store.update(self.key, self._take)
            if state.granted:
                self.last_acquired = state.now
                return
            if self.when_exhausted == "fail":
                raise self._exhausted(state)
            time.sleep(self._wait(state))

    async def aacquire(self) -> None:
        while True:
            state = await self.store.aupdate(self.key, self._take)
            if state.granted:
                self.last_acquired = state.now
                return
            if self.when_exhausted == "fail":
                raise self._exhausted(state)
            await asyncio.sleep(self._wait(state))

    def remaining(self) -> tuple[int, float | None]:
        """Requests left now, and the epoch when the oldest counted one leaves the window (or None)."""
        state = self.store.update(self.key, self._peek)
        return state.remaining, state.resets_at

    async def aremaining(self) -> tuple[int, float | None]:
        """Async twin of :meth:`remaining`."""
        state = await self.store.aupdate(self.key, self._peek)
        return state.remaining, state.resets_at
