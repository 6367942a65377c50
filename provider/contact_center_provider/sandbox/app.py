"""Build the sandbox aiohttp application."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from .admin import setup_admin_routes
from .middleware import STATE_KEY, sandbox_middleware
from .state import SandboxState
from .vendors import VendorRoutes, select_vendors

#: aiohttp's own cap (1 MiB by default) would answer 413 before a vendor can apply its
#: own, smaller limit with its real error body; keep ours well above every vendor's.
CLIENT_MAX_SIZE = 64 * 1024 * 1024


def create_app(*, seed: int = 42, vendors: Iterable[str] | None = None) -> web.Application:
    """Create the sandbox app: every selected vendor under its base path plus ``/_sandbox/``.

    :param seed: seed of all synthetic data; the same seed gives the same data.
    :param vendors: registry names to mount (all discovered vendors when ``None``).
    :raises ValueError: for an unknown vendor name.
    """
    specs = select_vendors(vendors)
    state = SandboxState(seed, specs)
    app = web.Application(middlewares=[sandbox_middleware], client_max_size=CLIENT_MAX_SIZE)
    app[STATE_KEY] = state
    setup_admin_routes(app)
    for spec in specs:
        name = spec.name
        spec.setup_routes(VendorRoutes(app, spec, lambda name=name: state.models[name]))  # type: ignore[misc]
    return app


def get_state(app: web.Application) -> SandboxState:
    """The :class:`SandboxState` of an app made by :func:`create_app` (for in-process use)."""
    return app[STATE_KEY]
