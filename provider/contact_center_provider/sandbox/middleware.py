"""The sandbox middleware: request log, route counters, latency and fault injection.

Admin routes (``/_sandbox/...``) pass straight through. Every other request is
logged (method, path, masked query - never headers or bodies), counted by route
template, delayed by the global latency, and then possibly broken by the first
fault rule that fires for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from typing import Any

from aiohttp import web

from .state import FaultRule, SandboxState

STATE_KEY = web.AppKey("sandbox_state", SandboxState)

ADMIN_PREFIX = "/_sandbox"

_MALFORMED = b'{"sandbox": "malformed response", "items": [{"id": 1,, <<not json'


class _ConnectionDropped(Exception):
    """Raised after the transport was aborted on purpose; the request gets no response."""


def route_key(request: web.Request) -> str:
    """``METHOD /canonical/{template}`` of the matched route, or the raw path when none matched."""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    return f"{request.method} {template}"


def _abort_connection(request: web.Request) -> None:
    """Drop the TCP connection with an RST so the client sees a reset, not a clean close."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # On failure fall back to a plain abort: the client still sees the connection die.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _error_response(state: SandboxState, vendor: str | None, rule: FaultRule) -> web.Response:
    status = rule.status or 500
    headers = dict(rule.headers)
    body = rule.body
    spec = state.vendors.get(vendor) if vendor else None
    if body is None and spec is not None and spec.error_body is not None:
        body, extra = spec.error_body(status, rule.headers)
        headers = {**extra, **headers}
    if body is None:
        body = {"status": status, "message": "sandbox injected fault"}
    if isinstance(body, str):
        return web.Response(status=status, text=body, headers=headers)
    return web.json_response(body, status=status, headers=headers, dumps=json.dumps)


async def _truncated(request: web.Request, status: int, body: bytes, content_type: str) -> web.StreamResponse:
    """Declare more bytes than are sent, send some, then drop the connection."""
    sent = body[: max(1, len(body) // 2)] if body else b'{"trunc'
    declared = max(len(body), len(sent)) + 64
    response = web.StreamResponse(status=status)
    response.content_type = content_type
    response.content_length = declared
    await response.prepare(request)
    await response.write(sent)
    # A graceful close (FIN after the buffered bytes) so the client reads the short body
    # and then sees the premature end, rather than a reset that may discard it.
    if request.transport is not None:
        request.transport.close()
    raise _ConnectionDropped


async def _run_handler(handler: Any, request: web.Request) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        # Normalise raised HTTP errors so phase=after faults can inspect and replace them.
        return web.Response(status=exc.status, text=exc.text, headers=exc.headers)
    return response


def _body_of(response: web.StreamResponse) -> tuple[bytes, str]:
    body = getattr(response, "body", None)
    raw = body if isinstance(body, bytes) else b""
    return raw, response.content_type or "application/json"


async def _apply_fault(
    request: web.Request, handler: Any, state: SandboxState, vendor: str | None, rule: FaultRule
) -> web.StreamResponse:
    if rule.phase == "before":
        if rule.kind == "delay":
            await asyncio.sleep(rule.delay)
            return await _run_handler(handler, request)
        if rule.kind == "status":
            return _error_response(state, vendor, rule)
        if rule.kind == "reset":
            _abort_connection(request)
            raise _ConnectionDropped
        status = rule.status or 200
        if rule.kind == "malformed":
            return web.Response(status=status, body=_MALFORMED, content_type="application/json")
        return await _truncated(
            request, status, b'{"sandbox": "truncated response", "items": []}', "application/json"
        )

    response = await _run_handler(handler, request)
    if rule.kind == "delay":
        await asyncio.sleep(rule.delay)
        return response
    if rule.kind == "status":
        return _error_response(state, vendor, rule)
    if rule.kind == "reset":
        _abort_connection(request)
        raise _ConnectionDropped
    raw, content_type = _body_of(response)
    if rule.kind == "malformed":
        return web.Response(status=response.status, body=_MALFORMED, content_type="application/json")
    return await _truncated(request, response.status, raw, content_type)


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Log, count, delay and fault-inject every vendor request."""
    path = request.path
    if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
        return await handler(request)  # type: ignore[no-any-return]
    state = request.app[STATE_KEY]
    spec = state.vendor_for_path(path)
    vendor = spec.name if spec else None
    record = state.log_request(request.method, path, request.query.items(), vendor)
    state.route_counts[route_key(request)] += 1
    if state.settings.latency_ms:
        await asyncio.sleep(state.settings.latency_ms / 1000.0)
    rule = state.pick_fault(request.method, path)
    if rule is None:
        response = await _run_handler(handler, request)
        record.status = response.status
        return response
    record.fault = rule.id
    try:
        response = await _apply_fault(request, handler, state, vendor, rule)
    except _ConnectionDropped:
        record.status = None
        # aiohttp treats a cancelled handler on a dead connection as "client went away".
        raise asyncio.CancelledError from None
    record.status = response.status
    return response
