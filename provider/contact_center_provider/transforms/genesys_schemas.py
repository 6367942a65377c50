"""Explicit Arrow schemas for the Genesys Cloud tables.

Every table written under ``{base}/tables/genesys_cloud/<table>/`` has exactly the
schema below. Join keys: ``conversation_id`` -> ``participant_id`` -> ``session_id``
-> ``segment_ordinal`` / ``metric_ordinal``. Timestamps are UTC with millisecond
precision (the API's own precision); durations are integer milliseconds.

A field the vendor did not send is null. Columns added after a table's first release are
appended at its end, so positional readers (CSV) keep working. Ordinals are the 0-based position of the
record inside its parent, in the order the API returned it, so "first session" and
"last customer participant" stay answerable from the tables alone.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("ms", tz="UTC")
STR = pa.string()

CONVERSATIONS = pa.schema(
    [
        pa.field("conversation_id", STR, nullable=False),
        pa.field("conversation_start", TS),
        pa.field("conversation_end", TS),
        pa.field("originating_direction", STR),
        pa.field("conversation_initiator", STR),
        pa.field("customer_participation", pa.bool_()),
        pa.field("division_ids", pa.list_(STR)),
        pa.field("external_tag", STR),
        pa.field("media_stats_min_conversation_mos", pa.float64()),
        pa.field("self_served", pa.bool_()),
        pa.field("participant_count", pa.int32()),
        pa.field("conference_start", TS),
        pa.field("media_stats_min_conversation_r_factor", pa.float64()),
    ]
)

PARTICIPANTS = pa.schema(
    [
        pa.field("conversation_id", STR, nullable=False),
        pa.field("participant_id", STR),
        pa.field("participant_ordinal", pa.int32(), nullable=False),
        pa.field("purpose", STR),
        pa.field("participant_name", STR),
        pa.field("user_id", STR),
        pa.field("team_id", STR),
        pa.field("external_contact_id", STR),
        pa.field("external_organization_id", STR),
        pa.field("flagged_reason", STR),
    ]
)

SESSIONS = pa.schema(
    [
        pa.field("conversation_id", STR, nullable=False),
        pa.field("participant_id", STR),
        pa.field("session_id", STR),
        pa.field("session_ordinal", pa.int32(), nullable=False),
        pa.field("media_type", STR),
        pa.field("direction", STR),
        pa.field("ani", STR),
        pa.field("dnis", STR),
        pa.field("session_dnis", STR),
        pa.field("address_from", STR),
        pa.field("address_to", STR),
        pa.field("remote", STR),
        pa.field("message_type", STR),
        pa.field("edge_id", STR),
        pa.field("protocol_call_id", STR),
        pa.field("peer_id", STR),
        pa.field("outbound_campaign_id", STR),
        pa.field("callback_numbers", pa.list_(STR)),
        pa.field("flow_id", STR),
        pa.field("flow_name", STR),
        pa.field("flow_type", STR),
        pa.field("recording", pa.bool_()),
        pa.field("flow_entry_type", STR),
        pa.field("flow_entry_reason", STR),
        pa.field("flow_exit_reason", STR),
        pa.field("flow_transfer_type", STR),
        pa.field("flow_transfer_target_name", STR),
        pa.field("flow_transfer_target_address", STR),
        pa.field("requested_routings", pa.list_(STR)),
        pa.field("used_routing", STR),
        pa.field("provider", STR),
        pa.field("callback_user_name", STR),
    ]
)

SEGMENTS = pa.schema(
    [
        pa.field("conversation_id", STR, nullable=False),
        pa.field("participant_id", STR),
        pa.field("session_id", STR),
        pa.field("segment_ordinal", pa.int32(), nullable=False),
        pa.field("segment_type", STR),
        pa.field("segment_start", TS),
        pa.field("segment_end", TS),
        pa.field("duration_ms", pa.int64()),
        pa.field("queue_id", STR),
        pa.field("disconnect_type", STR),
        pa.field("wrap_up_code", STR),
        pa.field("wrap_up_note", STR),
        pa.field("conference", pa.bool_()),
        pa.field("group_id", STR),
        pa.field("error_code", STR),
        pa.field("requested_language_id", STR),
        pa.field("subject", STR),
    ]
)

SESSION_METRICS = pa.schema(
    [
        pa.field("conversation_id", STR, nullable=False),
        pa.field("participant_id", STR),
        pa.field("session_id", STR),
        pa.field("metric_ordinal", pa.int32(), nullable=False),
        pa.field("name", STR),
        pa.field("value", pa.int64()),
        pa.field("emit_date", TS),
    ]
)

PARTICIPANT_ATTRIBUTES = pa.schema(
    [
        pa.field("conversation_id", STR, nullable=False),
        pa.field("participant_id", STR),
        pa.field("key", STR, nullable=False),
        pa.field("value", STR),
    ]
)

PRESENCE = pa.schema(
    [
        pa.field("user_id", STR, nullable=False),
        pa.field("start_time", TS),
        pa.field("end_time", TS),  # null while the status is still open
        pa.field("system_presence", STR),
        pa.field("organization_presence_id", STR),
    ]
)

ROUTING_STATUS = pa.schema(
    [
        pa.field("user_id", STR, nullable=False),
        pa.field("start_time", TS),
        pa.field("end_time", TS),
        pa.field("routing_status", STR),
    ]
)

USERS = pa.schema(
    [
        pa.field("user_id", STR, nullable=False),
        pa.field("name", STR),
        pa.field("email", STR),
        pa.field("state", STR),
        pa.field("division_id", STR),
    ]
)

QUEUES = pa.schema(
    [
        pa.field("queue_id", STR, nullable=False),
        pa.field("name", STR),
        pa.field("division_id", STR),
        pa.field("member_count", pa.int32()),
    ]
)

PRESENCE_DEFINITIONS = pa.schema(
    [
        pa.field("presence_definition_id", STR, nullable=False),
        pa.field("system_presence", STR),
        pa.field("label", STR),  # the en_US language label, else the name
        pa.field("deactivated", pa.bool_()),
    ]
)

WRAPUP_CODES = pa.schema(
    [
        pa.field("wrapup_code_id", STR, nullable=False),
        pa.field("name", STR),
    ]
)

ORGANIZATION = pa.schema(
    [
        pa.field("organization_id", STR, nullable=False),
        pa.field("name", STR),
    ]
)

#: Tables produced from conversation details, in the order they are written.
CONVERSATION_TABLES: dict[str, pa.Schema] = {
    "conversations": CONVERSATIONS,
    "participants": PARTICIPANTS,
    "sessions": SESSIONS,
    "segments": SEGMENTS,
    "session_metrics": SESSION_METRICS,
    "participant_attributes": PARTICIPANT_ATTRIBUTES,
}

#: Tables produced from user details.
USER_DETAIL_TABLES: dict[str, pa.Schema] = {
    "presence": PRESENCE,
    "routing_status": ROUTING_STATUS,
}

#: Small lookup tables landed by the enrichment task.
LOOKUP_TABLES: dict[str, pa.Schema] = {
    "users": USERS,
    "queues": QUEUES,
    "presence_definitions": PRESENCE_DEFINITIONS,
    "wrapup_codes": WRAPUP_CODES,
    "organization": ORGANIZATION,
}

ALL_TABLES: dict[str, pa.Schema] = {**CONVERSATION_TABLES, **USER_DETAIL_TABLES, **LOOKUP_TABLES}
