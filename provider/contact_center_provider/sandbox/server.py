"""Run the sandbox on a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from aiohttp import web

from .app import create_app, get_state
from .state import SandboxState


class SandboxServer:
    """The sandbox app served on loopback from a daemon thread.

    Use as a context manager or call :meth:`start` / :meth:`stop`::

        with SandboxServer() as sandbox:
            token_url = sandbox.vendor_url("genesys_cloud") + "/login/oauth/token"

    :param host: interface to bind (loopback by default).
    :param port: TCP port; ``0`` picks a free one (read it back from :attr:`port`).
    :param seed: seed of the synthetic data.
    :param vendors: registry names to mount (all when ``None``).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, seed: int = 42, vendors: list[str] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.app: web.Application = create_app(seed=seed, vendors=vendors)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:41234`` (valid once started)."""
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> SandboxState:
        """The live state (in-process shortcut; prefer the ``/_sandbox/`` API across threads)."""
        return get_state(self.app)

    def vendor_url(self, name: str) -> str:
        """API base URL of vendor ``name``, e.g. ``http://127.0.0.1:41234/genesys-cloud``.

        :raises KeyError: for a vendor that is not mounted.
        """
        return self.url + self.state.vendors[name].base_path

    def start(self) -> SandboxServer:
        """Start serving; returns once the socket accepts connections.

        :raises RuntimeError: when already started or the server failed to start.
        """
        if self._thread is not None:
            raise RuntimeError("sandbox server already started")
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="sandbox-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"sandbox server failed to start on {self.host}:{self.port}") from self._error
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()
