"""CDDS wire: thin aiohttp handlers over :class:`~.models.CddsModel`.

Paths are relative to the vendor base (``/genesys-cdds``), which stands for
``https://gapi-<region>.genesyscloud.com``: the token at ``/auth/v3/oauth/token``, the
history at ``/data-download/v4/export/history`` and files at
``/data-download/v3/files/{fileName}``. Every request needs ``x-api-key``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..genesys_cloud.auth import parse_basic
from ..vendors import VendorRoutes
from .errors import CddsError, api_error
from .models import CddsModel

Handler = Callable[[web.Request, CddsModel], Awaitable[web.StreamResponse]]


def guarded(*, bearer: bool) -> Callable[[Handler], Handler]:
    """Check ``x-api-key`` (and the bearer token) and turn :class:`CddsError` into its response."""

    def decorate(inner: Handler) -> Handler:
        @functools.wraps(inner)
        async def handler(request: web.Request, model: CddsModel) -> web.StreamResponse:
            try:
                model.check_api_key(request.headers.get("x-api-key"))
                if bearer:
                    model.authenticate(request.headers.get("Authorization"))
                return await inner(request, model)
            except CddsError as error:
                return web.json_response(error.body, status=error.status, headers=error.headers)

        return handler

    return decorate


@guarded(bearer=False)
async def token(request: web.Request, model: CddsModel) -> web.StreamResponse:
    """``POST /auth/v3/oauth/token`` — password grant, client credentials in HTTP Basic."""
    form = {key: str(value) for key, value in (await request.post()).items()}
    return web.json_response(model.issue_token(parse_basic(request.headers.get("Authorization")), form))


def _size(value: str | None) -> int:
    if value is None:
        return 20
    try:
        size = int(value)
    except ValueError:
        raise api_error(400, f"size must be an integer, got {value!r}") from None
    if size < 1:
        raise api_error(400, "size must be >= 1")
    return size


@guarded(bearer=True)
async def history(request: web.Request, model: CddsModel) -> web.StreamResponse:
    """``GET /data-download/v4/export/history?orderField&descAsc&title&size``."""
    query = request.query
    body: Any = model.history(
        title=query.get("title"),
        size=_size(query.get("size")),
        order_field=query.get("orderField", "createdDate"),
        # The Genesys engineer's client passes descAsc=true "# desc".
        descending=query.get("descAsc", "true").lower() == "true",
    )
    return web.json_response(body)


@guarded(bearer=True)
async def download(request: web.Request, model: CddsModel) -> web.StreamResponse:
    """``GET /data-download/v3/files/{fileName}`` — the encrypted artifact, as bytes."""
    name = request.match_info["fileName"]
    content = model.file(name)
    return web.Response(
        body=content,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def setup_routes(routes: VendorRoutes) -> None:
    routes.add("POST", "/auth/v3/oauth/token", token)
    routes.add("GET", "/data-download/v4/export/history", history)
    routes.add("GET", "/data-download/v3/files/{fileName}", download)
