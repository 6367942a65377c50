"""Genesys Cloud transforms: raw pages -> Arrow tables, on hand-written and generated pages."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
import requests

from contact_center_provider.transforms import genesys_schemas as gs
from contact_center_provider.transforms.genesys_conversations import (
    FlattenResult,
    RecordError,
    flatten_conversation_page,
    iter_flatten,
    participant_attributes_from_entities,
)
from contact_center_provider.transforms.genesys_users import (
    flatten_user_details_page,
    organization_table,
    presence_definitions_table,
    queues_table,
    users_table,
    wrapup_codes_table,
)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def compact(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def job_page() -> dict[str, Any]:
    """Two conversations: a full inbound call with attributes and a bare one."""
    return {
        "conversations": [
            {
                "conversationId": "c1",
                "conversationStart": "2024-05-01T10:00:00.000Z",
                "conversationEnd": "2024-05-01T10:07:12.345Z",
                "originatingDirection": "inbound",
                "conversationInitiator": "customer",
                "customerParticipation": True,
                "divisionIds": ["d1", "d2"],
                "externalTag": "tag-1",
                "mediaStatsMinConversationMos": 4.2,
                "selfServed": False,
                "participants": [
                    {
                        "participantId": "p1",
                        "purpose": "customer",
                        "participantName": "Jane",
                        "externalContactId": "x1",
                        "attributes": {"accountNumber": "42", "tier": "gold"},
                        "sessions": [
                            {
                                "sessionId": "s1",
                                "mediaType": "voice",
                                "direction": "inbound",
                                "ani": "tel:+15551230000",
                                "dnis": "tel:+15559870000",
                                "callbackNumbers": ["tel:+15551230000"],
                                "recording": True,
                                "flow": {"flowId": "f1", "flowName": "Main IVR", "flowType": "INBOUNDCALL"},
                                "segments": [
                                    {
                                        "segmentStart": "2024-05-01T10:00:00.000Z",
                                        "segmentEnd": "2024-05-01T10:00:40.000Z",
                                        "segmentType": "ivr",
                                    },
                                    {
                                        "segmentStart": "2024-05-01T10:00:40.000Z",
                                        "segmentType": "interact",
                                        "queueId": "q1",
                                    },
                                ],
                                "metrics": [
                                    {"name": "nOffered", "value": 1, "emitDate": "2024-05-01T10:00:40.000Z"}
                                ],
                            }
                        ],
                    },
                    {
                        "participantId": "p2",
                        "purpose": "agent",
                        "userId": "u1",
                        "teamId": "t1",
                        "attributes": {"tier": "silver"},
                        "sessions": [
                            {
                                "sessionId": "s2",
                                "mediaType": "voice",
                                "segments": [
                                    {
                                        "segmentStart": "2024-05-01T10:01:00.000Z",
                                        "segmentEnd": "2024-05-01T10:06:20.000Z",
                                        "segmentType": "interact",
                                        "disconnectType": "peer",
                                        "conference": False,
                                    },
                                    {
                                        "segmentStart": "2024-05-01T10:06:20.000Z",
                                        "segmentEnd": "2024-05-01T10:07:12.345Z",
                                        "segmentType": "wrapup",
                                        "wrapUpCode": "w1",
                                        "wrapUpNote": "ok",
                                    },
                                ],
                                "metrics": [
                                    {
                                        "name": "tTalk",
                                        "value": 320000,
                                        "emitDate": "2024-05-01T10:06:20.000Z",
                                    },
                                    {
                                        "name": "tHandle",
                                        "value": 372345,
                                        "emitDate": "2024-05-01T10:07:12.345Z",
                                    },
                                ],
                            }
                        ],
                    },
                ],
            },
            {"conversationId": "c2", "conversationStart": "2024-05-01T11:00:00Z"},
        ],
        "cursor": "abc",
        "dataAvailabilityDate": "2024-05-02T00:00:00.000Z",
    }


def rows(result: FlattenResult, table: str) -> list[dict[str, Any]]:
    return result.tables[table].to_pylist()


# --- conversation pages ------------------------------------------------------------------------


def test_job_page_exact_values() -> None:
    result = flatten_conversation_page(compact(job_page()))
    assert result.conversations == 2
    assert not result.unknown_fields
    assert rows(result, "conversations") == [
        {
            "conversation_id": "c1",
            "conversation_start": ts("2024-05-01T10:00:00Z"),
            "conversation_end": ts("2024-05-01T10:07:12.345Z"),
            "originating_direction": "inbound",
            "conversation_initiator": "customer",
            "customer_participation": True,
            "division_ids": ["d1", "d2"],
            "external_tag": "tag-1",
            "media_stats_min_conversation_mos": 4.2,
            "self_served": False,
            "participant_count": 2,
            "conference_start": None,
            "media_stats_min_conversation_r_factor": None,
        },
        {
            "conversation_id": "c2",
            "conversation_start": ts("2024-05-01T11:00:00Z"),
            "conversation_end": None,
            "originating_direction": None,
            "conversation_initiator": None,
            "customer_participation": None,
            "division_ids": None,
            "external_tag": None,
            "media_stats_min_conversation_mos": None,
            "self_served": None,
            "participant_count": 0,
            "conference_start": None,
            "media_stats_min_conversation_r_factor": None,
        },
    ]
    participants = rows(result, "participants")
    assert [(p["conversation_id"], p["participant_id"], p["participant_ordinal"]) for p in participants] == [
        ("c1", "p1", 0),
        ("c1", "p2", 1),
    ]
    assert participants[0] | {} == {
        "conversation_id": "c1",
        "participant_id": "p1",
        "participant_ordinal": 0,
        "purpose": "customer",
        "participant_name": "Jane",
        "user_id": None,
        "team_id": None,
        "external_contact_id": "x1",
        "external_organization_id": None,
        "flagged_reason": None,
    }
    assert (participants[1]["user_id"], participants[1]["team_id"]) == ("u1", "t1")

    sessions = rows(result, "sessions")
    assert [(s["participant_id"], s["session_id"], s["session_ordinal"]) for s in sessions] == [
        ("p1", "s1", 0),
        ("p2", "s2", 0),
    ]
    first = sessions[0]
    assert first["ani"] == "tel:+15551230000"
    assert first["callback_numbers"] == ["tel:+15551230000"]
    assert (first["flow_id"], first["flow_name"], first["flow_type"]) == ("f1", "Main IVR", "INBOUNDCALL")
    assert first["recording"] is True
    assert sessions[1]["flow_id"] is None and sessions[1]["direction"] is None

    segments = rows(result, "segments")
    assert [
        (s["conversation_id"], s["participant_id"], s["session_id"], s["segment_ordinal"], s["segment_type"])
        for s in segments
    ] == [
        ("c1", "p1", "s1", 0, "ivr"),
        ("c1", "p1", "s1", 1, "interact"),
        ("c1", "p2", "s2", 0, "interact"),
        ("c1", "p2", "s2", 1, "wrapup"),
    ]
    assert [s["duration_ms"] for s in segments] == [40_000, None, 320_000, 52_345]
    assert segments[1]["segment_end"] is None and segments[1]["queue_id"] == "q1"
    assert (segments[2]["disconnect_type"], segments[2]["conference"]) == ("peer", False)
    assert (segments[3]["wrap_up_code"], segments[3]["wrap_up_note"]) == ("w1", "ok")

    assert rows(result, "session_metrics") == [
        {
            "conversation_id": "c1",
            "participant_id": "p1",
            "session_id": "s1",
            "metric_ordinal": 0,
            "name": "nOffered",
            "value": 1,
            "emit_date": ts("2024-05-01T10:00:40Z"),
        },
        {
            "conversation_id": "c1",
            "participant_id": "p2",
            "session_id": "s2",
            "metric_ordinal": 0,
            "name": "tTalk",
            "value": 320000,
            "emit_date": ts("2024-05-01T10:06:20Z"),
        },
        {
            "conversation_id": "c1",
            "participant_id": "p2",
            "session_id": "s2",
            "metric_ordinal": 1,
            "name": "tHandle",
            "value": 372345,
            "emit_date": ts("2024-05-01T10:07:12.345Z"),
        },
    ]
    assert rows(result, "participant_attributes") == [
        {"conversation_id": "c1", "participant_id": "p1", "key": "accountNumber", "value": "42"},
        {"conversation_id": "c1", "participant_id": "p1", "key": "tier", "value": "gold"},
        {"conversation_id": "c1", "participant_id": "p2", "key": "tier", "value": "silver"},
    ]


def test_tables_have_exactly_the_declared_schemas() -> None:
    for raw in (compact(job_page()), b'{"totalHits":0}'):
        result = flatten_conversation_page(raw)
        assert list(result.tables) == list(gs.CONVERSATION_TABLES)
        for name, schema in gs.CONVERSATION_TABLES.items():
            assert result.tables[name].schema.equals(schema, check_metadata=True), name


def test_query_page_without_attributes() -> None:
    page = job_page()
    for conversation in page["conversations"]:
        for participant in conversation.get("participants", []):
            del participant["attributes"]
    query_page = {"conversations": page["conversations"], "totalHits": 2}
    result = flatten_conversation_page(compact(query_page))
    assert result.conversations == 2
    assert result.tables["participant_attributes"].num_rows == 0
    assert result.tables["segments"].num_rows == 4
    assert not result.unknown_fields


@pytest.mark.parametrize("raw", [b'{"totalHits":0}', b'{"conversations":[],"cursor":"x"}', b"{}\n"])
def test_empty_page(raw: bytes) -> None:
    result = flatten_conversation_page(raw)
    assert result.conversations == 0
    assert all(table.num_rows == 0 for table in result.tables.values())
    assert not result.unknown_fields


def test_pretty_printed_page_gives_the_same_tables() -> None:
    pretty = json.dumps(job_page(), indent=2).encode()
    assert b"\n" in pretty
    expected = flatten_conversation_page(compact(job_page()))
    result = flatten_conversation_page(pretty)
    for name in gs.CONVERSATION_TABLES:
        assert result.tables[name].equals(expected.tables[name]), name


def with_unknown_fields() -> dict[str, Any]:
    page = job_page()
    page["aggregations"] = []
    page["brandNew"] = {"x": 1}
    c1 = page["conversations"][0]
    c1["knowledgeBaseIds"] = ["kb1"]
    c1["surveys"] = [{"surveyId": "s"}]
    page["conversations"][1]["knowledgeBaseIds"] = None  # null: not an occurrence
    for participant in c1["participants"]:
        participant["screenRecording"] = False
        session = participant["sessions"][0]
        session["mediaEndpointStats"] = [{"minMos": 4.1}]
        for segment in session["segments"]:
            segment["sipResponseCodes"] = [200]
        session["metrics"][0]["unitOfMeasure"] = "ms"
    c1["participants"][0]["sessions"][0]["flow"]["issuedCallback"] = False
    c1["participants"][0]["sessions"][0]["flow"]["outcomes"] = [{"flowOutcome": "x"}]
    return page


EXPECTED_UNKNOWN = {
    "page.aggregations": 1,
    "page.brandNew": 1,
    "knowledgeBaseIds": 1,
    "surveys": 1,
    "participants.screenRecording": 2,
    "participants.sessions.mediaEndpointStats": 2,
    "participants.sessions.flow.issuedCallback": 1,
    "participants.sessions.flow.outcomes": 1,
    "participants.sessions.segments.sipResponseCodes": 4,
    "participants.sessions.metrics.unitOfMeasure": 2,
}


def test_unknown_fields_are_counted_at_every_level() -> None:
    result = flatten_conversation_page(compact(with_unknown_fields()))
    assert dict(result.unknown_fields) == EXPECTED_UNKNOWN
    # The mapped data is unaffected.
    expected = flatten_conversation_page(compact(job_page()))
    for name in gs.CONVERSATION_TABLES:
        assert result.tables[name].equals(expected.tables[name]), name


def test_slow_path_counts_unknown_fields_the_same_way() -> None:
    page = with_unknown_fields()
    # Microseconds are not millisecond timestamps: Arrow rejects the page, the checked path repairs it.
    page["conversations"][0]["conversationStart"] = "2024-05-01T10:00:00.000999Z"
    result = flatten_conversation_page(compact(page))
    assert dict(result.unknown_fields) == EXPECTED_UNKNOWN
    assert result.tables["conversations"].column("conversation_start")[0].as_py() == ts(
        "2024-05-01T10:00:00Z"
    )
    assert result.tables["participant_attributes"].num_rows == 3


def test_attribute_values_keep_their_text() -> None:
    page = job_page()
    attributes = page["conversations"][0]["participants"][0]["attributes"]
    attributes["callbackAt"] = "2024-05-01T12:00:00Z"  # Arrow would infer a timestamp
    attributes["day"] = "2024-05-01"
    result = flatten_conversation_page(compact(page))
    values = {
        r["key"]: r["value"] for r in rows(result, "participant_attributes") if r["participant_id"] == "p1"
    }
    assert values == {
        "accountNumber": "42",
        "tier": "gold",
        "callbackAt": "2024-05-01T12:00:00Z",
        "day": "2024-05-01",
    }


def test_non_string_attribute_values_become_json_text() -> None:
    page = job_page()
    page["conversations"][0]["participants"][0]["attributes"] |= {"n": 7, "flag": True, "none": None}
    result = flatten_conversation_page(compact(page))
    values = {
        r["key"]: r["value"] for r in rows(result, "participant_attributes") if r["participant_id"] == "p1"
    }
    assert values == {"accountNumber": "42", "tier": "gold", "n": "7", "flag": "true"}


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (
            lambda c: c.update(conversationStart=5),
            ["conversation c1", "'conversationStart'", "ISO-8601 timestamp"],
        ),
        (lambda c: c.update(participants="x"), ["conversation c1", "'participants'", "an array", "string"]),
        (
            lambda c: c["participants"][1]["sessions"][0]["segments"][1].update(segmentEnd=True),
            [
                "conversation c1",
                "'participants[1].sessions[0].segments[1].segmentEnd'",
                "timestamp",
                "boolean",
            ],
        ),
        (
            lambda c: c["participants"][0]["sessions"][0]["metrics"][0].update(value="1"),
            ["conversation c1", "'participants[0].sessions[0].metrics[0].value'", "an integer", "string"],
        ),
        (lambda c: c.update(divisionIds="d1"), ["conversation c1", "'divisionIds'", "an array"]),
    ],
)
def test_wrong_type_names_conversation_and_field(mutate: Any, fragments: list[str]) -> None:
    page = job_page()
    mutate(page["conversations"][0])
    with pytest.raises(RecordError) as caught:
        flatten_conversation_page(compact(page))
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_missing_conversation_id_is_an_error() -> None:
    with pytest.raises(RecordError, match=r"conversation #0 on the page: field 'conversationId'"):
        flatten_conversation_page(b'{"conversations":[{"conversationStart":"2024-05-01T10:00:00Z"}]}')


def test_malformed_json_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="not valid JSON"):
        flatten_conversation_page(b'{"conversations":[')


def test_iter_flatten_keeps_page_order_and_raises_in_place() -> None:
    pages = []
    for n in range(7):
        page = job_page()
        page["conversations"][0]["conversationId"] = f"c-{n}"
        pages.append(compact(page))
    results = list(iter_flatten(iter(pages), workers=2))
    assert [r.tables["conversations"].column("conversation_id")[0].as_py() for r in results] == [
        f"c-{n}" for n in range(7)
    ]
    assert [r.conversations for r in results] == [2] * 7

    bad = job_page()
    bad["conversations"][0]["conversationEnd"] = 1
    seen = []
    with pytest.raises(RecordError, match="conversationEnd"):
        for result in iter_flatten([pages[0], pages[1], compact(bad), pages[2]], workers=2):
            seen.append(result)
    assert len(seen) == 2


def test_participant_attributes_from_entities() -> None:
    entities = [
        compact(
            {
                "id": "c1",
                "participants": [
                    {"id": "p1", "purpose": "customer", "attributes": {"accountNumber": "42", "empty": None}},
                    {"id": "p2", "purpose": "agent"},
                ],
            }
        ),
        b"   ",
        {"id": "c2", "participants": [{"id": "p9", "attributes": {"n": 3, "tier": "gold"}}]},
    ]
    table = participant_attributes_from_entities(entities)
    assert table.schema.equals(gs.PARTICIPANT_ATTRIBUTES)
    assert table.to_pylist() == [
        {"conversation_id": "c1", "participant_id": "p1", "key": "accountNumber", "value": "42"},
        {"conversation_id": "c2", "participant_id": "p9", "key": "n", "value": "3"},
        {"conversation_id": "c2", "participant_id": "p9", "key": "tier", "value": "gold"},
    ]
    with pytest.raises(RecordError, match=r"conversation c3: field 'participants\[0\].attributes'"):
        participant_attributes_from_entities([{"id": "c3", "participants": [{"id": "p", "attributes": []}]}])


# --- generated export ------------------------------------------------------------------------


def test_generated_export_row_counts_match_a_naive_count() -> None:
    from contact_center_provider.sandbox.genesys_cloud.data import generate_conversations

    start = datetime(2024, 5, 1, tzinfo=UTC)
    records = list(itertools.islice(generate_conversations(11, start, start + timedelta(days=3)), 450))
    assert len(records) == 450
    pages = [compact({"conversations": records[i : i + 200], "cursor": str(i)}) for i in range(0, 450, 200)]

    totals = {name: 0 for name in gs.CONVERSATION_TABLES}
    durations = 0
    for result in iter_flatten(pages):
        for name, table in result.tables.items():
            assert table.schema.equals(gs.CONVERSATION_TABLES[name])
            totals[name] += table.num_rows
        durations += sum(
            d for d in result.tables["segments"].column("duration_ms").to_pylist() if d is not None
        )

    participants = [p for r in records for p in r.get("participants", [])]
    sessions = [s for p in participants for s in p.get("sessions", [])]
    segments = [g for s in sessions for g in s.get("segments", [])]
    expected_durations = sum(
        (ts(g["segmentEnd"]) - ts(g["segmentStart"])) // timedelta(milliseconds=1)
        for g in segments
        if g.get("segmentEnd") and g.get("segmentStart")
    )
    assert totals == {
        "conversations": len(records),
        "participants": len(participants),
        "sessions": len(sessions),
        "segments": len(segments),
        "session_metrics": sum(len(s.get("metrics", [])) for s in sessions),
        "participant_attributes": sum(
            sum(v is not None for v in p.get("attributes", {}).values()) for p in participants
        ),
    }
    assert durations == expected_durations


# --- user details and lookups ------------------------------------------------------------------


def test_user_details_page_with_open_records() -> None:
    page = {
        "userDetails": [
            {
                "userId": "u1",
                "primaryPresence": [
                    {
                        "startTime": "2024-05-01T08:00:00.000Z",
                        "endTime": "2024-05-01T12:00:00.000Z",
                        "systemPresence": "AVAILABLE",
                        "organizationPresenceId": "op1",
                    },
                    {
                        "startTime": "2024-05-01T12:00:00.000Z",
                        "systemPresence": "BREAK",
                        "organizationPresenceId": "op2",
                    },
                ],
                "routingStatus": [{"startTime": "2024-05-01T08:00:00.000Z", "routingStatus": "IDLE"}],
            },
            {"userId": "u2"},
        ],
        "cursor": "x",
    }
    for raw in (compact(page), json.dumps(page, indent=1).encode()):
        tables = flatten_user_details_page(raw)
        assert tables["presence"].schema.equals(gs.PRESENCE)
        assert tables["routing_status"].schema.equals(gs.ROUTING_STATUS)
        assert tables["presence"].to_pylist() == [
            {
                "user_id": "u1",
                "start_time": ts("2024-05-01T08:00:00Z"),
                "end_time": ts("2024-05-01T12:00:00Z"),
                "system_presence": "AVAILABLE",
                "organization_presence_id": "op1",
            },
            {
                "user_id": "u1",
                "start_time": ts("2024-05-01T12:00:00Z"),
                "end_time": None,
                "system_presence": "BREAK",
                "organization_presence_id": "op2",
            },
        ]
        assert tables["routing_status"].to_pylist() == [
            {
                "user_id": "u1",
                "start_time": ts("2024-05-01T08:00:00Z"),
                "end_time": None,
                "routing_status": "IDLE",
            }
        ]
    empty = flatten_user_details_page(b'{"userDetails":[]}')
    assert empty["presence"].num_rows == 0 and empty["routing_status"].num_rows == 0


def test_user_details_wrong_type_names_user_and_field() -> None:
    raw = compact(
        {"userDetails": [{"userId": "u7", "routingStatus": [{"startTime": 3, "routingStatus": "IDLE"}]}]}
    )
    with pytest.raises(
        RecordError, match=r"user u7: field 'routingStatus\[0\].startTime' must be an ISO-8601"
    ):
        flatten_user_details_page(raw)


def test_lookup_tables() -> None:
    users = users_table(
        {
            "entities": [
                {
                    "id": "u1",
                    "name": "Ava",
                    "email": "ava@example.com",
                    "state": "active",
                    "division": {"id": "d1"},
                },
                {"id": "u2", "name": "Bo", "state": "inactive"},
            ],
            "pageNumber": 1,
        }
    )
    assert users.schema.equals(gs.USERS)
    assert users.to_pylist() == [
        {"user_id": "u1", "name": "Ava", "email": "ava@example.com", "state": "active", "division_id": "d1"},
        {"user_id": "u2", "name": "Bo", "email": None, "state": "inactive", "division_id": None},
    ]
    queues = queues_table([{"id": "q1", "name": "Sales", "division": {"id": "d1"}, "memberCount": 12}])
    assert queues.schema.equals(gs.QUEUES)
    assert queues.to_pylist() == [
        {"queue_id": "q1", "name": "Sales", "division_id": "d1", "member_count": 12}
    ]
    codes = wrapup_codes_table([{"id": "w1", "name": "Resolved"}])
    assert codes.schema.equals(gs.WRAPUP_CODES)
    assert codes.to_pylist() == [{"wrapup_code_id": "w1", "name": "Resolved"}]
    presence = presence_definitions_table(
        [
            {
                "id": "pd1",
                "name": "Lunch",
                "systemPresence": "Meal",
                "languageLabels": {"en_US": "Lunch break"},
            },
            {"id": "pd2", "name": "Available", "systemPresence": "Available", "deactivated": True},
        ]
    )
    assert presence.schema.equals(gs.PRESENCE_DEFINITIONS)
    assert presence.to_pylist() == [
        {
            "presence_definition_id": "pd1",
            "system_presence": "Meal",
            "label": "Lunch break",
            "deactivated": None,
        },
        {
            "presence_definition_id": "pd2",
            "system_presence": "Available",
            "label": "Available",
            "deactivated": True,
        },
    ]
    org = organization_table({"id": "o1", "name": "Sandbox Org", "thirdPartyOrgName": "x"})
    assert org.schema.equals(gs.ORGANIZATION)
    assert org.to_pylist() == [{"organization_id": "o1", "name": "Sandbox Org"}]


def test_lookup_wrong_type_names_entity() -> None:
    with pytest.raises(RecordError, match=r"queue q1: field 'memberCount' must be an integer"):
        queues_table([{"id": "q1", "memberCount": "12"}])
    with pytest.raises(RecordError, match=r"user #0: field 'id' must be a string"):
        users_table([{"name": "no id"}])


def test_empty_tables_are_arrow_tables() -> None:
    assert isinstance(users_table([]), pa.Table) and users_table([]).num_rows == 0


# --- fields analysts ask for -------------------------------------------------------------------


def test_flow_routing_provider_and_conference_fields_are_mapped() -> None:
    page = job_page()
    c1 = page["conversations"][0]
    c1["conferenceStart"] = "2024-05-01T10:02:00.000Z"
    c1["mediaStatsMinConversationRFactor"] = 90.5
    session = c1["participants"][0]["sessions"][0]
    session["flow"] |= {
        "entryType": "dnis",
        "entryReason": "tel:+18005551000",
        "exitReason": "TRANSFER",
        "transferType": "ACD",
        "transferTargetName": "Help Desk",
        "transferTargetAddress": "q1",
    }
    session |= {
        "requestedRoutings": ["Standard", "Bullseye"],
        "usedRouting": "Bullseye",
        "provider": "Edge",
        "callbackUserName": "Jane",
    }
    result = flatten_conversation_page(compact(page))
    assert not result.unknown_fields
    first = rows(result, "conversations")[0]
    assert first["conference_start"] == ts("2024-05-01T10:02:00Z")
    assert first["media_stats_min_conversation_r_factor"] == 90.5
    sessions = rows(result, "sessions")
    assert {k: v for k, v in sessions[0].items() if k.startswith("flow_")} == {
        "flow_id": "f1",
        "flow_name": "Main IVR",
        "flow_type": "INBOUNDCALL",
        "flow_entry_type": "dnis",
        "flow_entry_reason": "tel:+18005551000",
        "flow_exit_reason": "TRANSFER",
        "flow_transfer_type": "ACD",
        "flow_transfer_target_name": "Help Desk",
        "flow_transfer_target_address": "q1",
    }
    assert (sessions[0]["requested_routings"], sessions[0]["used_routing"]) == (
        ["Standard", "Bullseye"],
        "Bullseye",
    )
    assert (sessions[0]["provider"], sessions[0]["callback_user_name"]) == ("Edge", "Jane")
    assert sessions[1]["requested_routings"] is None and sessions[1]["flow_exit_reason"] is None
    # A wrong type is still named with its path.
    session["requestedRoutings"] = "Standard"
    with pytest.raises(
        RecordError, match=r"'participants\[0\].sessions\[0\].requestedRoutings' must be an array"
    ):
        flatten_conversation_page(compact(page))


def test_a_demo_like_export_from_the_sandbox_has_no_unknown_fields(sandbox: Any) -> None:
    """Everything the sandbox serves (jobs with attributes, queries, open conversations) is mapped."""
    gc = sandbox.vendor_url("genesys_cloud")
    requests.patch(
        f"{sandbox.url}/_sandbox/vendors/genesys_cloud/settings",
        # The last hour still has calls in progress: open records are part of a real export.
        json={"job_polls_to_complete": 0, "now": "2024-05-01T15:30:00Z", "availability_lag_seconds": 0},
        timeout=5,
    ).raise_for_status()
    auth = requests.post(
        f"{gc}/login/oauth/token", data={"grant_type": "client_credentials"}, auth=("c", "s"), timeout=5
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {auth}"}
    interval = "2024-05-01T12:00:00.000Z/2024-05-01T16:00:00.000Z"
    jobs = "/api/v2/analytics/conversations/details/jobs"
    job_id = requests.post(f"{gc}{jobs}", json={"interval": interval}, headers=headers, timeout=5).json()[
        "jobId"
    ]
    requests.get(f"{gc}{jobs}/{job_id}", headers=headers, timeout=5).raise_for_status()
    pages: list[bytes] = []
    params: dict[str, Any] = {"pageSize": 100}
    while True:
        response = requests.get(f"{gc}{jobs}/{job_id}/results", params=params, headers=headers, timeout=10)
        pages.append(response.content)
        if "cursor" not in response.json():
            break
        params["cursor"] = response.json()["cursor"]
    query = {"interval": interval, "paging": {"pageSize": 100, "pageNumber": 2}}
    pages.append(
        requests.post(
            f"{gc}/api/v2/analytics/conversations/details/query", json=query, headers=headers, timeout=10
        ).content
    )
    unknown: Counter[str] = Counter()
    conversations = open_count = 0
    for result in iter_flatten(pages):
        unknown.update(result.unknown_fields)
        conversations += result.conversations
        open_count += result.tables["conversations"].column("conversation_end").null_count
    assert conversations > 200 and open_count > 0 and len(pages) > 3
    assert dict(unknown) == {}
