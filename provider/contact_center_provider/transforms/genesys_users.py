"""Genesys Cloud user details pages and lookup listings -> Arrow tables.

User details pages (``{"userDetails": [{"userId", "primaryPresence": [...],
"routingStatus": [...]}], "cursor": ...}``) are flattened like conversation pages: one
Arrow JSON parse per page, then index arithmetic. A record still open at the end of the
interval has no ``endTime``; its ``end_time`` is null.

Lookups (users, routing queues, wrap-up codes, presence definitions, the organization)
are small listings, built from decoded ``entities`` in plain Python.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from contact_center_provider.transforms import genesys_schemas as gs
from contact_center_provider.transforms._arrow import (
    TS,
    RecordError,
    arrow_ints,
    check_record,
    child,
    list_children,
    load_json,
    read_json_page,
    table,
)

__all__ = [
    "RecordError",
    "flatten_user_details_page",
    "organization_table",
    "presence_definitions_table",
    "queues_table",
    "users_table",
    "wrapup_codes_table",
]

S = pa.string()
_PRESENCE = pa.struct(
    [("startTime", TS), ("endTime", TS), ("systemPresence", S), ("organizationPresenceId", S)]
)
_ROUTING = pa.struct([("startTime", TS), ("endTime", TS), ("routingStatus", S)])
_USER = pa.struct(
    [("userId", S), ("primaryPresence", pa.list_(_PRESENCE)), ("routingStatus", pa.list_(_ROUTING))]
)
_PAGE = pa.struct([("userDetails", pa.list_(_USER)), ("cursor", S), ("dataAvailabilityDate", S)])


def _records(users: pa.Array, field: str, schema: pa.Schema, columns: dict[str, str]) -> pa.Table:
    user_ids = child(users, "userId", S)
    list_type = _USER.field(field).type
    values, parent, _ = list_children(child(users, field, list_type))
    data: dict[str, Any] = {"user_id": user_ids.take(arrow_ints(parent))}
    for column, wire in columns.items():
        data[column] = child(values, wire, list_type.value_type.field(wire).type)
    return table(schema, data)


def _flatten(raw: bytes) -> dict[str, pa.Table]:
    page = read_json_page(raw, _PAGE, infer=False)
    users = page.column("userDetails").combine_chunks().flatten()
    if child(users, "userId", S).null_count:
        raise pa.ArrowInvalid("a user detail without userId")  # the checked path names it
    return {
        "presence": _records(
            users,
            "primaryPresence",
            gs.PRESENCE,
            {
                "start_time": "startTime",
                "end_time": "endTime",
                "system_presence": "systemPresence",
                "organization_presence_id": "organizationPresenceId",
            },
        ),
        "routing_status": _records(
            users,
            "routingStatus",
            gs.ROUTING_STATUS,
            {"start_time": "startTime", "end_time": "endTime", "routing_status": "routingStatus"},
        ),
    }


def flatten_user_details_page(raw: bytes) -> dict[str, pa.Table]:
    """Flatten one raw user details page into the ``presence`` and ``routing_status`` tables.

    :param raw: the page exactly as the API returned it (compact or pretty-printed JSON).
    :returns: ``{"presence": ..., "routing_status": ...}`` with the schemas of
        ``genesys_schemas.USER_DETAIL_TABLES``; fields we do not map are ignored.
    :raises RecordError: a field has the wrong type; the message names the user id and field.
    """
    try:
        return _flatten(raw)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    doc = load_json(raw, "user details page")
    if not isinstance(doc, dict):
        raise RecordError("user details page must be a JSON object")
    details = doc.get("userDetails")
    if details is not None and not isinstance(details, list):
        raise RecordError("user details page: field 'userDetails' must be an array")
    cleaned = []
    for i, user in enumerate(details or []):
        user_id = user.get("userId") if isinstance(user, dict) else None
        if not isinstance(user_id, str):
            raise RecordError(f"user detail #{i} on the page: field 'userId' must be a string")
        cleaned.append(check_record(user, _USER, f"user {user_id}", "", "", Counter()))
    try:
        return _flatten(json.dumps({"userDetails": cleaned}).encode())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise RecordError(f"user details page cannot be converted: {exc}") from None


# --- lookups -----------------------------------------------------------------------------


def _entities(entities: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> Iterable[Any]:
    # A whole listing page is accepted too.
    if isinstance(entities, Mapping):
        return entities.get("entities") or []
    return entities


def _get(entity: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = entity
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _lookup(
    kind: str,
    entities: Iterable[Any],
    schema: pa.Schema,
    paths: Mapping[str, tuple[str, ...]],
    derived: dict[str, Any] | None = None,
) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for n, entity in enumerate(entities):
        if not isinstance(entity, Mapping):
            raise RecordError(f"{kind} #{n} must be a JSON object")
        entity_id = entity.get("id")
        if not isinstance(entity_id, str):
            raise RecordError(f"{kind} #{n}: field 'id' must be a string")
        for name, path in paths.items():
            value = _get(entity, path)
            type_ = schema.field(name).type
            check_record(value, type_, f"{kind} {entity_id}", ".".join(path), "", Counter())
            columns[name].append(value)
        for name, fn in (derived or {}).items():
            columns[name].append(fn(entity))
    return pa.Table.from_pydict(columns, schema=schema)


def users_table(entities: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> pa.Table:
    """``users`` from ``GET /api/v2/users`` entities (or one listing page)."""
    paths = {
        "user_id": ("id",),
        "name": ("name",),
        "email": ("email",),
        "state": ("state",),
        "division_id": ("division", "id"),
    }
    return _lookup("user", _entities(entities), gs.USERS, paths)


def queues_table(entities: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> pa.Table:
    """``queues`` from ``GET /api/v2/routing/queues`` entities (or one listing page)."""
    paths = {
        "queue_id": ("id",),
        "name": ("name",),
        "division_id": ("division", "id"),
        "member_count": ("memberCount",),
    }
    return _lookup("queue", _entities(entities), gs.QUEUES, paths)


def wrapup_codes_table(entities: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> pa.Table:
    """``wrapup_codes`` from ``GET /api/v2/routing/wrapupcodes`` entities (or one listing page)."""
    return _lookup(
        "wrap-up code", _entities(entities), gs.WRAPUP_CODES, {"wrapup_code_id": ("id",), "name": ("name",)}
    )


def _label(entity: Mapping[str, Any]) -> Any:
    labels = entity.get("languageLabels")
    label = labels.get("en_US") if isinstance(labels, Mapping) else None
    if not isinstance(label, str):
        label = entity.get("name")
    return label if isinstance(label, str) else None


def presence_definitions_table(entities: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> pa.Table:
    """``presence_definitions`` from ``GET /api/v2/presence/definitions`` (or the legacy listing).

    ``label`` is the ``en_US`` language label, else the definition's ``name``.
    """
    paths = {
        "presence_definition_id": ("id",),
        "system_presence": ("systemPresence",),
        "deactivated": ("deactivated",),
    }
    return _lookup(
        "presence definition", _entities(entities), gs.PRESENCE_DEFINITIONS, paths, {"label": _label}
    )


def organization_table(obj: Mapping[str, Any]) -> pa.Table:
    """``organization`` (one row) from ``GET /api/v2/organizations/me``."""
    return _lookup("organization", [obj], gs.ORGANIZATION, {"organization_id": ("id",), "name": ("name",)})
