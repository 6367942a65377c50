"""Arrow tables for the report tests, built from plain values with the fixed schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from contact_center_provider.transforms import genesys_schemas as gs


def table(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    """Build a table with ``schema``; columns a row leaves out are null."""
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def conversation_tables(convs: list[dict[str, Any]]) -> dict[str, pa.Table]:
    """Tables for conversations given as nested dicts.

    Each conversation: ``{"id", "start", "participants": [{"id", "purpose", "name",
    "sessions": [{"ani", "dnis", "direction"}], "attributes": {...}}]}``.
    """
    conversations, participants, sessions, attributes = [], [], [], []
    for conv in convs:
        conversations.append({"conversation_id": conv["id"], "conversation_start": conv.get("start")})
        for p_ord, part in enumerate(conv.get("participants", [])):
            participants.append(
                {
                    "conversation_id": conv["id"],
                    "participant_id": part["id"],
                    "participant_ordinal": p_ord,
                    "purpose": part.get("purpose"),
                    "participant_name": part.get("name"),
                }
            )
            for s_ord, sess in enumerate(part.get("sessions", [])):
                sessions.append(
                    {
                        "conversation_id": conv["id"],
                        "participant_id": part["id"],
                        "session_id": f"{part['id']}-s{s_ord}",
                        "session_ordinal": s_ord,
                        "media_type": "voice",
                        **sess,
                    }
                )
            for key, value in part.get("attributes", {}).items():
                attributes.append(
                    {"conversation_id": conv["id"], "participant_id": part["id"], "key": key, "value": value}
                )
    return {
        "conversations": table(gs.CONVERSATIONS, conversations),
        "participants": table(gs.PARTICIPANTS, participants),
        "sessions": table(gs.SESSIONS, sessions),
        "participant_attributes": table(gs.PARTICIPANT_ATTRIBUTES, attributes),
    }


#: The two abandoned conversations of ode-reports.md, with queue and customer as the
#: last participants of their purpose and the ANI on the customer's last session.
ODE_EXAMPLE = [
    {
        "id": "e84f837d-d780-45af-bbdf-cad1c9c9faf9",
        "start": utc(2017, 1, 13, 17, 41, 2),
        "participants": [
            {
                "id": "p1",
                "purpose": "customer",
                "name": "Australia",
                "sessions": [{"ani": "tel:+610209985555"}],
            },
            {"id": "p2", "purpose": "ivr", "name": "Main IVR", "sessions": [{"ani": "tel:+610209985555"}]},
            {"id": "p3", "purpose": "acd", "name": "Product Sales", "sessions": [{}]},
        ],
    },
    {
        "id": "bb899c5d-a1c5-4a76-91c5-f3bbc45729d4",
        "start": utc(2017, 1, 13, 17, 44, 30),
        "participants": [
            {
                "id": "q1",
                "purpose": "customer",
                "name": "Spencer TN",
                "sessions": [{"ani": "tel:+19319465555"}, {"ani": None}],
            },
            {"id": "q2", "purpose": "acd", "name": "Sales", "sessions": [{}]},
            {"id": "q3", "purpose": "acd", "name": "Help Desk", "sessions": [{}]},
        ],
    },
]

ODE_EXAMPLE_TEXT = (
    "ABANDONED CONVERSATIONS\n"
    "Run date: Fri Jan 13 2017 10:56:45 GMT-0700\n"
    "Company: Genesys\n"
    "Interval: 2017-01-13T10:40:00.000-0700/2017-01-13T10:50:00.000-0700\n"
    "Job: Abandons job\n"
    "Configuration: Abandons Configuration\n"
    "Conversation ID|Queue|Customer Name|ANI\n"
    "e84f837d-d780-45af-bbdf-cad1c9c9faf9|Product Sales|Australia|tel:+610209985555\n"
    "bb899c5d-a1c5-4a76-91c5-f3bbc45729d4|Help Desk|Spencer TN|tel:+19319465555\n"
)


def presence_tables(
    presence: list[dict[str, Any]],
    routing: list[dict[str, Any]],
    users: list[dict[str, Any]] | None = None,
    definitions: list[dict[str, Any]] | None = None,
) -> dict[str, pa.Table]:
    return {
        "presence": table(gs.PRESENCE, presence),
        "routing_status": table(gs.ROUTING_STATUS, routing),
        "users": table(gs.USERS, users or []),
        "presence_definitions": table(gs.PRESENCE_DEFINITIONS, definitions or []),
    }
