"""Conversations as the platform shows them at a moment: not yet started, in progress, or final.

The generator makes every conversation complete. A conversation still in progress at the
sandbox's "now" is served *open*, the way the analytics API shows live data: no
``conversationEnd``; segments that had not started are absent; the segment under way has no
``segmentEnd`` (nor the ``disconnectType`` and wrap-up code that only its end decides);
metrics emitted later are absent; participants that had not joined are absent. As "now"
moves past the conversation's end, the same id is served in its final form.

Timestamps on the records all have the generator's fixed format (``...T10:00:00.000Z``), so
they compare as strings.
"""

from __future__ import annotations

from typing import Any

from .data import Generated
from .timefmt import format_ms

#: Fields an open segment does not have yet: they are decided when it ends.
_DECIDED_AT_END = ("segmentEnd", "disconnectType", "wrapUpCode", "wrapUpNote")


def as_of(item: Generated, at_ms: int) -> dict[str, Any] | None:
    """The record of ``item`` as seen at ``at_ms``: None before it starts, else open or final.

    The final record is returned as is (shared, read-only); an open one is a new dict.
    """
    if item.start_ms >= at_ms:
        return None
    if item.end_ms <= at_ms:
        return item.record
    return _open(item.record, format_ms(at_ms))


def is_open(record: dict[str, Any]) -> bool:
    """Whether a served record is still in progress."""
    return "conversationEnd" not in record


def _open(record: dict[str, Any], cut: str) -> dict[str, Any]:
    view = {
        k: v for k, v in record.items() if k not in ("conversationEnd", "conferenceStart", "participants")
    }
    if record.get("conferenceStart", cut) < cut:
        view["conferenceStart"] = record["conferenceStart"]
    participants = []
    for participant in record["participants"]:
        sessions = []
        for session in participant["sessions"]:
            segments = [_open_segment(seg, cut) for seg in session["segments"] if seg["segmentStart"] < cut]
            if not segments:
                continue
            open_session = {k: v for k, v in session.items() if k not in ("segments", "metrics")}
            metrics = [m for m in session.get("metrics", []) if m["emitDate"] <= cut]
            open_session["segments"] = segments
            if metrics:
                open_session["metrics"] = metrics
            sessions.append(open_session)
        if sessions:
            participants.append({**participant, "sessions": sessions})
    view["participants"] = participants
    return view


def _open_segment(segment: dict[str, Any], cut: str) -> dict[str, Any]:
    if segment["segmentEnd"] <= cut:
        return segment
    return {k: v for k, v in segment.items() if k not in _DECIDED_AT_END}
