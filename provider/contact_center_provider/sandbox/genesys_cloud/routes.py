"""Genesys Cloud wire: thin aiohttp handlers over :class:`~.models.GenesysCloudModel`.

Paths are relative to the vendor base (``/genesys-cloud``): the API lives under
``/api/v2`` and the login host under ``/login`` (token at ``/login/oauth/token``).

Every response carries an ``ININ-Correlation-Id`` (the ``contextId`` of an error body);
authenticated API responses also carry ``inin-ratelimit-count/-allowed/-reset`` (see
``GenesysSettings.ratelimit_headers``). A request without a usable token has no budget to
report, so its 401 carries the correlation id only.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..vendors import VendorRoutes
from .auth import InvalidClient, Token, parse_basic
from .errors import CORRELATION_HEADER, GenesysApiError, error_body, oauth_invalid_client
from .jobs import JobKind
from .models import GenesysCloudModel

Inner = Callable[[web.Request, GenesysCloudModel, Token, Any], Awaitable[Any]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=_correlated())


def _correlated(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {CORRELATION_HEADER: str(uuid.uuid4()), **(headers or {})}


def _csv_param(request: web.Request, name: str) -> list[str]:
    """A list query parameter sent repeated (``a=x&a=y``) or comma-separated (``a=x,y``)."""
    return [item for value in request.query.getall(name, []) for item in value.split(",") if item]


def api(status: int = 200, *, wants_body: bool = False) -> Callable[[Inner], Any]:
    """Wrap a handler with auth, the rate limit, the body-size cap and ErrorBody answers.

    The inner handler gets ``(request, model, token, body)`` and returns the JSON to send
    with ``status`` (``None`` -> empty body, for 204).
    """

    def decorate(inner: Inner) -> Any:
        @functools.wraps(inner)
        async def handler(request: web.Request, model: GenesysCloudModel) -> web.Response:
            token: Token | None = None
            try:
                raw = await request.read() if request.can_read_body else b""
                model.check_body_size(len(raw))
                token = model.authenticate(request.headers.get("Authorization"))
                body: Any = None
                if wants_body:
                    try:
                        body = json.loads(raw) if raw.strip() else None
                    except ValueError as exc:
                        raise GenesysApiError(
                            400, "The request body is not valid JSON", "bad.request"
                        ) from exc
                result = await inner(request, model, token, body)
            except GenesysApiError as error:
                payload, headers = error_body(error)
                if token is not None:
                    headers = {**model.rate_limit_headers(token), **headers}
                return web.json_response(payload, status=error.status, headers=headers)
            headers = _correlated(model.rate_limit_headers(token))
            if result is None:
                return web.Response(status=status, headers=headers)
            return web.json_response(result, status=status, headers=headers)

        return handler

    return decorate


async def token(request: web.Request, model: GenesysCloudModel) -> web.Response:
    """``POST /login/oauth/token`` - client-credentials grant (Basic auth or form credentials)."""
    form = await request.post()
    grant_type = form.get("grant_type") or request.query.get("grant_type")
    if grant_type != "client_credentials":
        return _json(
            {
                "error": "unsupported_grant_type",
                "description": "grant type not supported",
                "error_description": "grant type not supported",
            },
            400,
        )
    credentials = parse_basic(request.headers.get("Authorization"))
    if credentials is None:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not isinstance(client_id, str) or not isinstance(client_secret, str):
            return _json(oauth_invalid_client(), 401)
        credentials = (client_id, client_secret)
    try:
        return _json(model.issue_token(*credentials))
    except InvalidClient:
        return _json(oauth_invalid_client(), 401)


def _job_routes(routes: VendorRoutes, kind: JobKind, base: str) -> None:
    @api(202, wants_body=True)
    async def submit(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
        return model.submit_job(kind, body)

    @api()
    async def availability(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
        return model.availability()

    @api()
    async def status(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
        return model.job_status(kind, request.match_info["jobId"])

    @api(204)
    async def cancel(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
        model.cancel_job(kind, request.match_info["jobId"])
        return None

    @api()
    async def results(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
        query = request.query
        return model.job_results(
            kind, request.match_info["jobId"], query.get("cursor"), query.get("pageSize")
        )

    routes.add("POST", base, submit)
    routes.add("GET", f"{base}/availability", availability)
    routes.add("GET", f"{base}/{{jobId}}", status)
    routes.add("DELETE", f"{base}/{{jobId}}", cancel)
    routes.add("GET", f"{base}/{{jobId}}/results", results)


@api(wants_body=True)
async def query_conversations(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
    return model.query_conversations(body)


@api(wants_body=True)
async def query_users(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
    return model.query_users(body)


@api()
async def get_conversation(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
    return model.conversation(request.match_info["conversationId"])


@api()
async def get_users(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
    q = request.query
    return model.list_users(
        _csv_param(request, "id"), q.get("pageSize"), q.get("pageNumber"), _csv_param(request, "expand")
    )


@api()
async def get_user(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
    return model.get_user(request.match_info["userId"], _csv_param(request, "expand"))


@api()
async def get_queues(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
    q = request.query
    return model.list_queues(q.get("pageSize"), q.get("pageNumber"), q.get("name"))


@api()
async def get_wrapup_codes(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
    return model.list_wrapup_codes(request.query.get("pageSize"), request.query.get("pageNumber"))


@api()
async def get_presence_definitions(
    request: web.Request, model: GenesysCloudModel, token: Token, body: Any
) -> Any:
    return model.presence_definitions()


@api()
async def get_presencedefinitions(
    request: web.Request, model: GenesysCloudModel, token: Token, body: Any
) -> Any:
    return model.presencedefinitions(request.query.get("pageSize"), request.query.get("pageNumber"))


@api()
async def get_organization(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
    return model.organization()


@api()
async def get_token_info(request: web.Request, model: GenesysCloudModel, token: Token, body: Any) -> Any:
    return model.token_info(token)


def setup_routes(routes: VendorRoutes) -> None:
    """Register every Genesys Cloud route (literal paths before templated siblings)."""
    routes.add("POST", "/login/oauth/token", token)
    # The SDK derives its login URL by swapping "//api." for "//login." and otherwise uses
    # the API host itself, so accept the token grant at the API base too.
    routes.add("POST", "/oauth/token", token)
    _job_routes(routes, "conversations", "/api/v2/analytics/conversations/details/jobs")
    _job_routes(routes, "users", "/api/v2/analytics/users/details/jobs")
    routes.add("POST", "/api/v2/analytics/conversations/details/query", query_conversations)
    routes.add("POST", "/api/v2/analytics/users/details/query", query_users)
    routes.add("GET", "/api/v2/conversations/{conversationId}", get_conversation)
    routes.add("GET", "/api/v2/users", get_users)
    routes.add("GET", "/api/v2/users/{userId}", get_user)
    routes.add("GET", "/api/v2/routing/queues", get_queues)
    routes.add("GET", "/api/v2/routing/wrapupcodes", get_wrapup_codes)
    routes.add("GET", "/api/v2/presence/definitions", get_presence_definitions)
    routes.add("GET", "/api/v2/presencedefinitions", get_presencedefinitions)
    routes.add("GET", "/api/v2/organizations/me", get_organization)
    routes.add("GET", "/api/v2/tokens/me", get_token_info)
    routes.add("*", "/api/v2/{tail:.*}", not_found)


async def not_found(request: web.Request, model: GenesysCloudModel) -> web.Response:
    """Unknown API paths answer the platform's 404 ErrorBody rather than aiohttp's text page."""
    payload, headers = error_body(GenesysApiError(404, f"Resource not found: {request.path}", "not.found"))
    return web.json_response(payload, status=404, headers=headers)
