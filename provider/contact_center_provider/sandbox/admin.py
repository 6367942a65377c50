"""The ``/_sandbox/`` control plane (JSON in, JSON out).

Routes::

    GET    /_sandbox/health                          {"status": "ok", "seed": 42}
    GET    /_sandbox/vendors                         {vendor: API base URL}
    POST   /_sandbox/reset                           clear faults, log, counters, settings, vendor state
    POST   /_sandbox/faults                          add a fault rule -> 201 {"id"}
    GET    /_sandbox/faults                          {"faults": [rule with matched/fired]}
    DELETE /_sandbox/faults                          remove all rules
    DELETE /_sandbox/faults/{id}                     remove one rule (404 if unknown)
    GET    /_sandbox/requests?path=&method=          {"requests": [...]} in arrival order
    GET    /_sandbox/counters                        {"routes": {...}, "jobs": {vendor: {...}}}
    GET    /_sandbox/settings                        {"global": {...}, "vendors": {vendor: {...}}}
    PATCH  /_sandbox/settings                        patch global settings (e.g. latency_ms)
    GET    /_sandbox/vendors/{vendor}/settings       that vendor's settings
    PATCH  /_sandbox/vendors/{vendor}/settings       patch them (unknown key -> 400 naming it)
    POST   /_sandbox/vendors/{vendor}/{action}       a vendor-defined admin action
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from .middleware import ADMIN_PREFIX, STATE_KEY
from .settings import SettingsError, settings_to_dict
from .state import FaultError, SandboxState


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not valid JSON: {exc}"}), content_type="application/json"
        ) from exc


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE_KEY]


def base_url(request: web.Request) -> str:
    """Scheme and host the client used, so URLs are right behind any port mapping."""
    return f"{request.scheme}://{request.host}"


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "seed": _state(request).seed})


async def vendors(request: web.Request) -> web.Response:
    root = base_url(request)
    return web.json_response({name: root + spec.base_path for name, spec in _state(request).vendors.items()})


async def reset(request: web.Request) -> web.Response:
    _state(request).reset()
    return web.json_response({"status": "reset"})


async def add_fault(request: web.Request) -> web.Response:
    try:
        rule = _state(request).add_fault(await _json_body(request))
    except FaultError as exc:
        return _bad_request(str(exc))
    return web.json_response({"id": rule.id}, status=201)


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": [rule.to_json() for rule in _state(request).faults]})


async def clear_faults(request: web.Request) -> web.Response:
    _state(request).faults.clear()
    return web.json_response({"status": "cleared"})


async def delete_fault(request: web.Request) -> web.Response:
    fault_id = request.match_info["fault_id"]
    if not _state(request).remove_fault(fault_id):
        return web.json_response({"error": f"no fault rule {fault_id!r}"}, status=404)
    return web.json_response({"status": "deleted", "id": fault_id})


async def list_requests(request: web.Request) -> web.Response:
    path_filter = request.query.get("path")
    method = request.query.get("method")
    try:
        regex = re.compile(path_filter) if path_filter else None
    except re.error as exc:
        return _bad_request(f"'path' is not a valid regular expression: {exc}")
    records = [
        record.to_json()
        for record in _state(request).requests
        if (regex is None or regex.search(record.path))
        and (method is None or record.method == method.upper())
    ]
    return web.json_response({"requests": records})


async def counters(request: web.Request) -> web.Response:
    state = _state(request)
    jobs = {
        name: model.job_counters() for name, model in state.models.items() if hasattr(model, "job_counters")
    }
    return web.json_response({"routes": dict(state.route_counts), "jobs": jobs})


def _all_settings(state: SandboxState) -> dict[str, Any]:
    return {
        "global": settings_to_dict(state.settings),
        "vendors": {name: settings_to_dict(value) for name, value in state.vendor_settings.items()},
    }


async def get_settings(request: web.Request) -> web.Response:
    return web.json_response(_all_settings(_state(request)))


async def patch_settings(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        state.patch_global_settings(await _json_body(request))
    except SettingsError as exc:
        return _bad_request(str(exc))
    return web.json_response(settings_to_dict(state.settings))


def _vendor_name(request: web.Request) -> str:
    name = request.match_info["vendor"]
    state = _state(request)
    if name not in state.vendors:
        raise web.HTTPNotFound(
            text=json.dumps(
                {"error": f"unknown vendor {name!r}; known vendors: {', '.join(sorted(state.vendors))}"}
            ),
            content_type="application/json",
        )
    return name


async def get_vendor_settings(request: web.Request) -> web.Response:
    name = _vendor_name(request)
    return web.json_response(settings_to_dict(_state(request).vendor_settings[name]))


async def patch_vendor_settings(request: web.Request) -> web.Response:
    name = _vendor_name(request)
    state = _state(request)
    try:
        updated = state.patch_vendor_settings(name, await _json_body(request))
    except SettingsError as exc:
        return _bad_request(str(exc))
    return web.json_response(settings_to_dict(updated))


async def vendor_action(request: web.Request) -> web.Response:
    name = _vendor_name(request)
    state = _state(request)
    action = request.match_info["action"]
    actions = state.vendors[name].admin_actions
    if action not in actions:
        known = ", ".join(sorted(actions)) or "none"
        return web.json_response(
            {"error": f"vendor {name!r} has no admin action {action!r}; known: {known}"}, status=404
        )
    body = await _json_body(request)
    if not isinstance(body, dict):
        return _bad_request("body must be a JSON object")
    try:
        result = actions[action](state.models[name], body)
    except ValueError as exc:
        return _bad_request(str(exc))
    return web.json_response(result if result is not None else {"status": "ok"})


def setup_admin_routes(app: web.Application) -> None:
    """Register the control plane on ``app``."""
    p = ADMIN_PREFIX
    r = app.router
    r.add_get(f"{p}/health", health)
    r.add_get(f"{p}/vendors", vendors)
    r.add_post(f"{p}/reset", reset)
    r.add_post(f"{p}/faults", add_fault)
    r.add_get(f"{p}/faults", list_faults)
    r.add_delete(f"{p}/faults", clear_faults)
    r.add_delete(f"{p}/faults/{{fault_id}}", delete_fault)
    r.add_get(f"{p}/requests", list_requests)
    r.add_get(f"{p}/counters", counters)
    r.add_get(f"{p}/settings", get_settings)
    r.add_patch(f"{p}/settings", patch_settings)
    r.add_get(f"{p}/vendors/{{vendor}}/settings", get_vendor_settings)
    r.add_patch(f"{p}/vendors/{{vendor}}/settings", patch_vendor_settings)
    r.add_post(f"{p}/vendors/{{vendor}}/{{action}}", vendor_action)
