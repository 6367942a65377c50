"""Brightmetrics wire: thin aiohttp handlers over :class:`~.models.BrightmetricsModel`.

Paths are relative to the vendor base (``/brightmetrics``); the OData root is
``/brightmetrics/OData.ashx`` as ``https://webapp.brightmetrics.com/OData.ashx`` is in production.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..vendors import VendorRoutes
from .accounts import User
from .errors import ODATA_HEADERS, ODataError
from .models import BrightmetricsModel, Reply

ROOT = "/OData.ashx"

Inner = Callable[[web.Request, BrightmetricsModel, User, str], Awaitable[Reply]]


def _base(request: web.Request) -> str:
    """The OData root URL as the client addressed it (``http://host:port/brightmetrics/OData.ashx``)."""
    path = request.path
    return f"{request.scheme}://{request.host}{path[: path.index(ROOT) + len(ROOT)]}"


def _send(reply: Reply) -> web.Response:
    response = web.Response(status=reply.status, body=reply.body or None, headers=reply.headers)
    if reply.content_type:
        response.headers["Content-Type"] = reply.content_type
    return response


def _error(error: ODataError) -> web.Response:
    return web.Response(
        status=error.status,
        body=json.dumps(error.body()).encode(),
        headers={
            **ODATA_HEADERS,
            **error.headers,
            "Content-Type": "application/json; odata.metadata=minimal",
        },
    )


def odata(
    *, monitor: bool = False
) -> Callable[[Inner], Callable[[web.Request, BrightmetricsModel], Awaitable[web.Response]]]:
    """Authenticate and count the request, then answer the inner handler's reply or an OData error."""

    def decorate(inner: Inner) -> Callable[[web.Request, BrightmetricsModel], Awaitable[web.Response]]:
        @functools.wraps(inner)
        async def handler(request: web.Request, model: BrightmetricsModel) -> web.Response:
            try:
                user = model.admit(request.headers.get("Authorization"), monitor=monitor)
                return _send(await inner(request, model, user, _base(request)))
            except ODataError as error:
                return _error(error)

        return handler

    return decorate


@odata()
async def service_document(request: web.Request, model: BrightmetricsModel, user: User, base: str) -> Reply:
    return model.service_document(base[: -len(ROOT)])


@odata()
async def service_metadata(request: web.Request, model: BrightmetricsModel, user: User, base: str) -> Reply:
    return model.service_metadata()


@odata()
async def report_metadata(request: web.Request, model: BrightmetricsModel, user: User, base: str) -> Reply:
    return model.report_metadata(request.match_info["report"])


@odata()
async def report(request: web.Request, model: BrightmetricsModel, user: User, base: str) -> Reply:
    params = {key: request.query[key] for key in request.query}
    return model.report(user, request.match_info["report"], params, request.headers, base)


@odata(monitor=True)
async def status(request: web.Request, model: BrightmetricsModel, user: User, base: str) -> Reply:
    return model.status(user, request.match_info["export"], request.headers, base)


@odata(monitor=True)
async def cancel(request: web.Request, model: BrightmetricsModel, user: User, base: str) -> Reply:
    return model.cancel(user, request.match_info["export"])


async def not_found(request: web.Request, model: BrightmetricsModel) -> web.Response:
    return _error(ODataError(404, f"Resource not found: {request.path}"))


def setup_routes(routes: VendorRoutes) -> None:
    """Register every route (literal paths before templated siblings)."""
    routes.add("GET", ROOT, service_document)
    routes.add("GET", f"{ROOT}/$metadata", service_metadata)
    routes.add("GET", f"{ROOT}/status/{{export}}", status)
    routes.add("DELETE", f"{ROOT}/status/{{export}}", cancel)
    routes.add("GET", f"{ROOT}/{{report}}/$metadata", report_metadata)
    routes.add("GET", f"{ROOT}/{{report}}", report)
    routes.add("*", f"{ROOT}/{{tail:.*}}", not_found)
