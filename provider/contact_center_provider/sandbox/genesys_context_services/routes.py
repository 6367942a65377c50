"""Context Services wire: thin aiohttp handlers over :class:`~.models.GmsModel`.

Paths are relative to the vendor base (``/gms``, standing for a GMS host's root).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..vendors import VendorRoutes
from .errors import GmsApiError, error_body
from .files import default_export_dir
from .models import GmsModel

Inner = Callable[[web.Request, GmsModel, dict[str, str]], Awaitable[tuple[Any, int]]]

EXPORT_FILES = "/genesys/1/cs/maintenance/services/files"
#: The document's worked example posts to ``.../services/file`` (no "s"): a typo, routed too.
EXPORT_FILE_TYPO = "/genesys/1/cs/maintenance/services/file"
EXPORT_STREAM = "/genesys/1/cs/maintenance/services/stream"


def _api(inner: Inner) -> Callable[[web.Request, GmsModel], Awaitable[web.StreamResponse]]:
    """Authenticate, merge query and form parameters, and answer errors with the CS body."""

    async def handler(request: web.Request, model: GmsModel) -> web.StreamResponse:
        try:
            model.authenticate(request.headers.get("Authorization"))
            params: dict[str, str] = {}
            if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
                params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
            params.update(request.query)
            body, status = await inner(request, model, params)
        except GmsApiError as error:
            headers = {"WWW-Authenticate": 'Basic realm="GMS"'} if error.status == 401 else {}
            return web.json_response(error_body(error), status=error.status, headers=headers)
        return web.json_response(body, status=status, dumps=_dumps)

    handler.__name__ = inner.__name__
    return handler


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def export_dir(request: web.Request, model: GmsModel) -> str:
    return model.settings.export_dir or default_export_dir(f"{request.scheme}://{request.host}")


async def export_files(request: web.Request, model: GmsModel, params: dict[str, str]) -> tuple[Any, int]:
    paths = model.export_files(params, export_dir(request, model))
    settings = model.settings
    if settings.partial_write == "timed" and model.pending:
        asyncio.get_running_loop().call_later(settings.write_seconds, model.finish_writes)
    return paths, settings.files_status


async def export_stream(request: web.Request, model: GmsModel, params: dict[str, str]) -> tuple[Any, int]:
    return model.stream(params), 200


async def not_found(request: web.Request, model: GmsModel) -> web.Response:
    return web.json_response(error_body(GmsApiError(404, f"Resource not found: {request.path}")), status=404)


def setup_routes(routes: VendorRoutes) -> None:
    files = _api(export_files)
    routes.add("POST", EXPORT_FILES, files)
    routes.add("POST", EXPORT_FILE_TYPO, files)
    routes.add("GET", EXPORT_STREAM, _api(export_stream))
    routes.add("*", "/genesys/{tail:.*}", not_found)
