"""Vendor registry of the sandbox.

Every vendor lives in its own sub-package of :mod:`contact_center_provider.sandbox`
and exposes a module-level ``VENDOR`` (a :class:`VendorSpec`). The registry finds
them by scanning the sub-packages, so adding a vendor touches no shared module.

A vendor package is shaped like a moto backend:

* ``models.py`` - in-memory state and data; no HTTP;
* ``routes.py`` - thin aiohttp handlers: parse, call the model, serialise;
* ``errors.py`` - the vendor's real error bodies.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

#: A vendor route handler: gets the request and the vendor's current model.
VendorHandler = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]

#: Builds the vendor's own error body for a status (used by ``kind=status`` faults
#: without a body). Receives the status and the fault's headers; returns the JSON body
#: and extra headers to send.
ErrorBodyBuilder = Callable[[int, Mapping[str, str]], tuple[Any, dict[str, str]]]

#: An admin action ``POST /_sandbox/vendors/{vendor}/{action}``: gets the model and
#: the JSON body (``{}`` when empty) and returns a JSON-serialisable answer.
AdminAction = Callable[[Any, dict[str, Any]], Any]


class VendorContext(Protocol):
    """What the framework hands a vendor model factory."""

    @property
    def seed(self) -> int:
        """The sandbox seed (deterministic data)."""

    @property
    def settings(self) -> Any:
        """The vendor's current settings dataclass (changes when patched)."""


class VendorRoutes:
    """Collects a vendor's routes under its base path.

    Handlers receive ``(request, model)``; the model is looked up per request so a
    sandbox reset (which replaces the model) is seen at once.
    """

    def __init__(self, app: web.Application, spec: VendorSpec, get_model: Callable[[], Any]) -> None:
        self._app = app
        self._spec = spec
        self._get_model = get_model

    def add(self, method: str, path: str, handler: VendorHandler) -> None:
        """Register ``handler`` for ``method`` at ``base_path + path``.

        Register literal paths before templated siblings (``/jobs/availability``
        before ``/jobs/{jobId}``): aiohttp matches in registration order.
        """
        get_model = self._get_model

        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, get_model())

        bound.__name__ = getattr(handler, "__name__", "handler")
        self._app.router.add_route(method, self._spec.base_path + path, bound)


@dataclass(frozen=True)
class VendorSpec:
    """Registration of one emulated vendor.

    :param name: registry name, e.g. ``"genesys_cloud"`` (used in admin URLs and counters).
    :param base_path: URL prefix of all its routes, e.g. ``"/genesys-cloud"``.
    :param setup_routes: adds the vendor's routes through a :class:`VendorRoutes`.
    :param model_factory: builds a fresh model from a :class:`VendorContext`; called at
        start and on every reset.
    :param settings_factory: the vendor's settings dataclass (called without arguments
        for the defaults).
    :param error_body: optional builder of the vendor's real error body for a status.
    :param admin_actions: optional ``POST /_sandbox/vendors/{name}/{action}`` actions.
    :param extra_urls: optional extra named base paths announced by ``__main__``,
        e.g. ``{"login": "/genesys-cloud/login"}``.
    :param airflow_connection: builds the Airflow connection (``AIRFLOW_CONN_*`` JSON as a
        dict: ``conn_type``, ``login``, ``password``, ``extra``...) that points at this vendor
        in a sandbox whose root URL is given (``http://127.0.0.1:8765``). The demo, the tests
        and the compose stack derive their connections from it, so they never drift.
    :param default_conn_id: the connection id the example DAGs use for this vendor.
    """

    name: str
    base_path: str
    setup_routes: Callable[[VendorRoutes], None]
    model_factory: Callable[[VendorContext], Any]
    settings_factory: Callable[[], Any]
    error_body: ErrorBodyBuilder | None = None
    admin_actions: Mapping[str, AdminAction] = field(default_factory=dict)
    extra_urls: Mapping[str, str] = field(default_factory=dict)
    airflow_connection: Callable[[str], dict[str, Any]] | None = None
    default_conn_id: str | None = None


def discover_vendors() -> dict[str, VendorSpec]:
    """Import every vendor sub-package that exposes ``VENDOR`` and index them by name."""
    package = importlib.import_module(__package__ or "contact_center_provider.sandbox")
    found: dict[str, VendorSpec] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        spec = getattr(module, "VENDOR", None)
        if isinstance(spec, VendorSpec):
            found[spec.name] = spec
    return found


def select_vendors(names: Iterable[str] | None) -> list[VendorSpec]:
    """Return the specs for ``names`` (all discovered vendors when ``None``).

    :raises ValueError: for an unknown name; the message lists the known ones.
    """
    known = discover_vendors()
    if names is None:
        return list(known.values())
    selected = []
    for name in names:
        if name not in known:
            raise ValueError(f"unknown sandbox vendor {name!r}; known vendors: {', '.join(sorted(known))}")
        selected.append(known[name])
    return selected
