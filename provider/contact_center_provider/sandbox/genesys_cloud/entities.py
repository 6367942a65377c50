"""Platform entities derived from the generated data: ``Conversation`` and ``User`` with expands.

``GET /api/v2/conversations/{id}`` answers the ``Conversation`` model: participants keep their
analytics ids and attributes, and each carries its communications by media type (``calls``,
``callbacks``, ``chats``, ``emails``, ``messages``), one per analytics session, with the
session's segments. ``GET /api/v2/users[/{id}]?expand=presence,routingStatus`` adds the
user's ``UserPresence`` and ``RoutingStatus`` at the sandbox's "now", read from the same
timelines the user-details jobs serve. Field names are the SDK's attribute maps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .directory import PRESENCES, Directory
from .timefmt import format_ms
from .userdata import DAY_MS, EPOCH, user_timelines_for_day

#: Participant list that holds a session's communication, per analytics media type.
MEDIA_LISTS = {
    "voice": "calls",
    "callback": "callbacks",
    "chat": "chats",
    "email": "emails",
    "message": "messages",
}
#: State of a communication whose current (open) segment is of this type.
_OPEN_STATE = {"alert": "alerting", "dialing": "dialing", "contacting": "contacting"}
#: ``presenceDefinition.systemPresence`` of a user's presence: the label form ("On Queue"),
#: as seen in public samples of this object [unverified]; the definitions endpoint uses "OnQueue".
_PRESENCE_LABEL = {analytics: label for analytics, _, label in PRESENCES}
#: Expand values served; others are accepted and ignored ("expand parameters are resolved with
#: a best effort approach and not guaranteed to be returned", SDK docstring of get_user).
USER_EXPANDS = ("presence", "routingStatus")


def _communication(session: dict[str, Any]) -> dict[str, Any]:
    segments = session["segments"]
    last = segments[-1]
    closed = "segmentEnd" in last
    state = "disconnected" if closed else _OPEN_STATE.get(last["segmentType"], "connected")
    body: dict[str, Any] = {"state": state, "id": session["sessionId"], "direction": session["direction"]}
    wire_segments = []
    for segment in segments:
        item = {"startTime": segment["segmentStart"], "type": segment["segmentType"]}
        if "segmentEnd" in segment:
            item["endTime"] = segment["segmentEnd"]
        if "disconnectType" in segment:
            item["disconnectType"] = segment["disconnectType"]
        wire_segments.append(item)
    body["segments"] = wire_segments
    body["held"] = any(s["segmentType"] == "hold" and "segmentEnd" not in s for s in segments)
    connected = next((s["segmentStart"] for s in segments if s["segmentType"] == "interact"), None)
    if connected:
        body["connectedTime"] = connected
    if closed:
        body["disconnectedTime"] = last["segmentEnd"]
        if "disconnectType" in last:
            body["disconnectType"] = last["disconnectType"]
    if session.get("provider"):
        body["provider"] = session["provider"]
    media = session["mediaType"]
    if media == "voice":
        body |= {"recording": False, "recordingState": "none", "muted": False, "confined": False}
    elif media == "callback":
        body["callbackNumbers"] = list(session.get("callbackNumbers", []))
        if session.get("callbackUserName"):
            body["callbackUserName"] = session["callbackUserName"]
    elif media == "message" and session.get("messageType"):
        body["type"] = session["messageType"]
    elif media == "email":
        subject = next((s["subject"] for s in segments if s.get("subject")), None)
        if subject:
            body["subject"] = subject
    return body


def conversation_entity(record: dict[str, Any], org: Directory) -> dict[str, Any]:
    """The ``Conversation`` of an analytics record (final or open, see :mod:`.progress`)."""
    queue_names = {q["id"]: q["name"] for q in org.queues}
    wrapups = {w["id"]: w["name"] for w in org.wrapup_codes}
    participants = []
    for p in record["participants"]:
        segments = [seg for s in p["sessions"] for seg in s["segments"]]
        session = p["sessions"][0]
        queue_id = next((seg["queueId"] for seg in segments if seg.get("queueId")), None)
        code = next((seg["wrapUpCode"] for seg in segments if seg.get("wrapUpCode")), None)
        connected = next((seg["segmentStart"] for seg in segments if seg["segmentType"] == "interact"), None)
        participant: dict[str, Any] = {
            "id": p["participantId"],
            "startTime": segments[0]["segmentStart"],
            "purpose": p["purpose"],
            "participantType": "Internal" if p["purpose"] in ("agent", "acd", "ivr") else "External",
            "attributes": dict(p.get("attributes", {})),
        }
        if all("segmentEnd" in s["segments"][-1] for s in p["sessions"]):
            participant["endTime"] = max(s["segments"][-1]["segmentEnd"] for s in p["sessions"])
        for key, value in (
            ("name", p.get("participantName")),
            ("connectedTime", connected),
            ("userId", p.get("userId")),
            ("queueId", queue_id),
            ("queueName", queue_names.get(queue_id or "")),
            ("ani", session.get("ani")),
            ("dnis", session.get("dnis")),
            ("address", session.get("remote")),
        ):
            if value is not None:
                participant[key] = value
        if p.get("userId"):
            participant["userUri"] = f"/api/v2/users/{p['userId']}"
        if code:
            participant["wrapup"] = {"code": code, "name": wrapups.get(code, code)}
        for s in p["sessions"]:
            participant.setdefault(MEDIA_LISTS[s["mediaType"]], []).append(_communication(s))
        participants.append(participant)
    conversation_id = record["conversationId"]
    entity: dict[str, Any] = {
        "id": conversation_id,
        "startTime": record["conversationStart"],
        "participants": participants,
        "recordingState": "NONE",
        "divisions": [
            {"division": {"id": d, "selfUri": f"/api/v2/authorization/divisions/{d}"}, "entities": []}
            for d in record["divisionIds"]
        ],
        "selfUri": f"/api/v2/conversations/{conversation_id}",
    }
    if "conversationEnd" in record:
        entity["endTime"] = record["conversationEnd"]
    return entity


def _at(records: tuple[tuple[int, int, str], ...], at_ms: int) -> tuple[int, int, str] | None:
    return next((r for r in records if r[0] <= at_ms < r[1]), None)


def user_expands(seed: int, org: Directory, user_id: str, at_ms: int, expand: set[str]) -> dict[str, Any]:
    """``presence`` and ``routingStatus`` of ``user_id`` at ``at_ms`` (those named in ``expand``)."""
    day = EPOCH + timedelta(days=at_ms // DAY_MS)
    timeline = next((t for t in user_timelines_for_day(seed, day) if t[0] == user_id), None)
    if timeline is None:
        return {}
    _, presences, statuses = timeline
    out: dict[str, Any] = {}
    presence = _at(presences, at_ms)
    if "presence" in expand and presence is not None:
        definition_id = org.presence_id(presence[2])
        out["presence"] = {
            "source": "PURECLOUD",
            "primary": True,
            "presenceDefinition": {
                "id": definition_id,
                "systemPresence": _PRESENCE_LABEL[presence[2]],
                "selfUri": f"/api/v2/presencedefinitions/{definition_id}",
            },
            "message": "",
            "modifiedDate": format_ms(presence[0]),
        }
    status = _at(statuses, at_ms)
    if "routingStatus" in expand and status is not None:
        out["routingStatus"] = {"userId": user_id, "status": status[2], "startTime": format_ms(status[0])}
    return out
