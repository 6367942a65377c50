"""NICE CXone wire: thin aiohttp handlers over :class:`~.models.NiceCxoneModel`.

Paths are relative to the vendor base (``/nice-cxone``), which stands in for every CXone host:

* ``/authentication/v1/token/access-key`` — the access-key token (first generation);
* ``/.well-known/openid-configuration`` and ``/auth/token`` — OpenID discovery and the OAuth 2
  password grant (current generation); ``/.well-known/cxone-configuration?tenantId=`` — API discovery;
* ``/data-extraction/v1/jobs``, ``/jobs/{jobId}``, ``/jobs/sync`` — Data Extraction (``V1`` too:
  the document prints the upper-case form, code in the wild the lower-case one);
* ``/s3/results-bucket/...`` — the object store behind the pre-signed result URLs.

Every Data Extraction call is attributed to its tenant (from the token) and checked against
the call-spacing rule; token and discovery calls are recorded per tenant as well.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from ..vendors import VendorRoutes
from .auth import InvalidCredentials, Token
from .errors import NiceApiError, error_body, oauth_error, s3_error, s3_expired, unauthorized
from .models import RESULTS_BUCKET, NiceCxoneModel

BASE_PATH = "/nice-cxone"
_DX = "/data-extraction/{version:[vV]1}"

Inner = Callable[[web.Request, NiceCxoneModel, Token, Any], Awaitable[Any]]


def _root(request: web.Request) -> str:
    """The URL this sandbox answers on for the vendor (stands in for every CXone host)."""
    return f"{request.url.origin()}{BASE_PATH}"


def _error(error: NiceApiError) -> web.Response:
    payload, headers = error_body(error)
    if error.status == 401:
        payload = {**unauthorized(), "correlationId": payload["correlationId"]}
    return web.json_response(payload, status=error.status, headers=headers)


@contextlib.asynccontextmanager
async def _tenant_call(
    request: web.Request, model: NiceCxoneModel, tenant_id: str, *, enforce: bool
) -> AsyncIterator[None]:
    """Count a call against its tenant's spacing rule for as long as it is in flight."""
    counted = model.tokens.begin_call(tenant_id, request.method, request.path, enforce=enforce)
    try:
        if model.settings.processing_seconds:
            await asyncio.sleep(model.settings.processing_seconds)
        yield
    finally:
        model.tokens.end_call(tenant_id, counted)


def api(status: int | None = 200, *, wants_body: bool = False) -> Callable[[Inner], Any]:
    """Wrap a Data Extraction handler: bearer auth, the spacing rule, JSON in and out.

    ``status=None`` takes the status from the settings' ``job_status_http_status``.
    """

    def decorate(inner: Inner) -> Any:
        async def handler(request: web.Request, model: NiceCxoneModel) -> web.Response:
            try:
                raw = await request.read() if request.can_read_body else b""
                token = model.authenticate(request.headers.get("Authorization"))
                body: Any = None
                if wants_body:
                    try:
                        body = json.loads(raw) if raw.strip() else None
                    except ValueError as exc:
                        raise NiceApiError(400, "The request body is not valid JSON.") from exc
                async with _tenant_call(request, model, token.tenant.id, enforce=True):
                    result = await inner(request, model, token, body)
            except NiceApiError as error:
                return _error(error)
            code = status if status is not None else model.settings.job_status_http_status
            return web.json_response(result, status=code)

        handler.__name__ = inner.__name__
        return handler

    return decorate


# -- authentication ----------------------------------------------------------------------------


async def access_key_token(request: web.Request, model: NiceCxoneModel) -> web.Response:
    """``POST /authentication/v1/token/access-key`` with ``{accessKeyId, accessKeySecret}`` (JSON or form)."""
    try:
        raw = await request.read()
        data: Any = json.loads(raw) if raw.strip().startswith(b"{") else dict(await request.post())
    except ValueError:
        data = {}
    try:
        tenant = model.tokens.check_access_key(data.get("accessKeyId"), data.get("accessKeySecret"))
    except InvalidCredentials:
        return web.json_response(unauthorized(), status=401)
    try:
        async with _tenant_call(request, model, tenant.id, enforce=model.settings.spacing_applies_to_auth):
            body = model.access_key_token(data["accessKeyId"], data["accessKeySecret"], _root(request))
    except NiceApiError as error:
        return _error(error)
    return web.json_response(body)


async def openid_configuration(request: web.Request, model: NiceCxoneModel) -> web.Response:
    """``GET /.well-known/openid-configuration``."""
    root = _root(request)
    return web.json_response(
        {
            "issuer": root,
            "authorization_endpoint": f"{root}/auth/authorize",
            "token_endpoint": f"{root}/auth/token",
            "jwks_uri": f"{root}/auth/jwks",
            "response_types_supported": ["code", "id_token", "token id_token"],
            "grant_types_supported": [
                "authorization_code",
                "password",
                "refresh_token",
                "client_credentials",
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }
    )


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


async def oauth_token(request: web.Request, model: NiceCxoneModel) -> web.Response:
    """``POST /auth/token``: the OAuth 2 password grant (client via Basic or form fields)."""
    form = await request.post()
    if form.get("grant_type") != "password":
        return web.json_response(
            oauth_error("unsupported_grant_type", "Only the password grant is emulated."), status=400
        )
    client = _basic(request.headers.get("Authorization")) or (
        form.get("client_id"),
        form.get("client_secret"),
    )
    try:
        model.tokens.check_client(*client)
    except InvalidCredentials:
        return web.json_response(oauth_error("invalid_client", "Client authentication failed."), status=401)
    try:
        tenant = model.tokens.check_access_key(form.get("username"), form.get("password"))
    except InvalidCredentials:
        return web.json_response(oauth_error("invalid_grant", "Invalid username or password."), status=400)
    try:
        async with _tenant_call(request, model, tenant.id, enforce=model.settings.spacing_applies_to_auth):
            body = model.password_grant(client, form.get("username"), form.get("password"), _root(request))
    except NiceApiError as error:
        return _error(error)
    return web.json_response(body)


async def cxone_configuration(request: web.Request, model: NiceCxoneModel) -> web.Response:
    """``GET /.well-known/cxone-configuration?tenantId=``."""
    tenant_id = request.query.get("tenantId")
    try:
        if tenant_id and tenant_id in model.tokens.tenants:
            enforce = model.settings.spacing_applies_to_auth
            async with _tenant_call(request, model, tenant_id, enforce=enforce):
                body = model.cxone_configuration(tenant_id, _root(request))
        else:
            body = model.cxone_configuration(tenant_id, _root(request))
    except NiceApiError as error:
        return _error(error)
    return web.json_response(body)


# -- Data Extraction ---------------------------------------------------------------------------


@api(202, wants_body=True)
async def submit(request: web.Request, model: NiceCxoneModel, token: Token, body: Any) -> Any:
    return model.submit(token, body)


@api(202, wants_body=True)
async def submit_sync(request: web.Request, model: NiceCxoneModel, token: Token, body: Any) -> Any:
    return model.sync_extract(token, body, _root(request))


@api(None)
async def job_status(request: web.Request, model: NiceCxoneModel, token: Token, body: Any) -> Any:
    return model.job_status(token, request.match_info["jobId"], _root(request))


@api()
async def list_jobs(request: web.Request, model: NiceCxoneModel, token: Token, body: Any) -> Any:
    return model.list_jobs(token)


async def not_found(request: web.Request, model: NiceCxoneModel) -> web.Response:
    return _error(NiceApiError(404, f"Resource not found: {request.path}"))


# -- the object store --------------------------------------------------------------------------


async def download(request: web.Request, model: NiceCxoneModel) -> web.Response:
    """``GET /s3/results-bucket/{key}?X-Amz-...``: a pre-signed result download."""
    xml = "application/xml"
    if request.headers.get("Authorization"):
        message = (
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
            "string parameter or the Authorization header should be specified"
        )
        return web.Response(status=400, text=s3_error("InvalidArgument", message), content_type=xml)
    if request.match_info["bucket"] != RESULTS_BUCKET:
        return web.Response(
            status=404, text=s3_error("NoSuchBucket", "The specified bucket does not exist"), content_type=xml
        )
    status, body, url = model.download(request.match_info["key"], request.query.get("X-Amz-Signature"))
    if status == 200:
        assert body is not None
        return web.Response(
            body=body, content_type="text/csv", headers={"x-amz-server-side-encryption": "AES256"}
        )
    if status == 404:
        return web.Response(
            status=404, text=s3_error("NoSuchKey", "The specified key does not exist."), content_type=xml
        )
    if url is None:
        message = (
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method."
        )
        return web.Response(status=403, text=s3_error("SignatureDoesNotMatch", message), content_type=xml)
    return web.Response(
        status=403,
        text=s3_expired(url.expires_seconds, model.wall() - (model.clock() - url.expires_at)),
        content_type=xml,
    )


def setup_routes(routes: VendorRoutes) -> None:
    """Register every NICE CXone route (literal paths before templated siblings)."""
    routes.add("POST", "/authentication/v1/token/access-key", access_key_token)
    routes.add("GET", "/.well-known/openid-configuration", openid_configuration)
    routes.add("POST", "/auth/token", oauth_token)
    routes.add("GET", "/.well-known/cxone-configuration", cxone_configuration)
    routes.add("POST", f"{_DX}/jobs", submit)
    routes.add("GET", f"{_DX}/jobs", list_jobs)
    routes.add("POST", f"{_DX}/jobs/sync", submit_sync)
    routes.add("GET", f"{_DX}/jobs/{{jobId}}", job_status)
    routes.add("*", f"{_DX}/{{tail:.*}}", not_found)
    routes.add("GET", "/s3/{bucket}/{key:.+}", download)
