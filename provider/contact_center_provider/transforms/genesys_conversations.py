"""Genesys Cloud conversation details pages -> the six conversation tables.

A raw page is one JSON object as the API returned it: job results
(``{"conversations": [...], "cursor": ..., "dataAvailabilityDate": ...}``, participants
carry ``attributes``) or a synchronous query page (``{"conversations": [...],
"totalHits": N}``, no attributes, ``conversations`` absent when empty).

Each page is parsed by Arrow's JSON reader against the nested type of the fields we
map and flattened with Arrow/numpy index arithmetic: there is no Python loop per
conversation, which is what makes a multi-gigabyte export affordable. Fields the
vendor sends that we do not map are counted in :attr:`FlattenResult.unknown_fields`
(they stay in the raw zone); a field of the wrong type raises :class:`RecordError`.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contact_center_provider.transforms import genesys_schemas as gs
from contact_center_provider.transforms._arrow import (
    OPEN_STRUCT,
    TS,
    RecordError,
    arrow_ints,
    arrow_strings,
    check_record,
    child,
    count_unknown,
    ints,
    list_children,
    load_json,
    read_json_page,
    table,
)

__all__ = [
    "FlattenResult",
    "RecordError",
    "flatten_conversation_page",
    "iter_flatten",
    "participant_attributes_from_entities",
]

S = pa.string()

# (column, wire name, type) per nesting level; container fields are added below.
_CONVERSATION_FIELDS = [
    ("conversation_id", "conversationId", S),
    ("conversation_start", "conversationStart", TS),
    ("conversation_end", "conversationEnd", TS),
    ("originating_direction", "originatingDirection", S),
    ("conversation_initiator", "conversationInitiator", S),
    ("customer_participation", "customerParticipation", pa.bool_()),
    ("division_ids", "divisionIds", pa.list_(S)),
    ("external_tag", "externalTag", S),
    ("media_stats_min_conversation_mos", "mediaStatsMinConversationMos", pa.float64()),
    ("self_served", "selfServed", pa.bool_()),
]
_PARTICIPANT_FIELDS = [
    ("participant_id", "participantId", S),
    ("purpose", "purpose", S),
    ("participant_name", "participantName", S),
    ("user_id", "userId", S),
    ("team_id", "teamId", S),
    ("external_contact_id", "externalContactId", S),
    ("external_organization_id", "externalOrganizationId", S),
    ("flagged_reason", "flaggedReason", S),
]
_SESSION_FIELDS = [
    ("session_id", "sessionId", S),
    ("media_type", "mediaType", S),
    ("direction", "direction", S),
    ("ani", "ani", S),
    ("dnis", "dnis", S),
    ("session_dnis", "sessionDnis", S),
    ("address_from", "addressFrom", S),
    ("address_to", "addressTo", S),
    ("remote", "remote", S),
    ("message_type", "messageType", S),
    ("edge_id", "edgeId", S),
    ("protocol_call_id", "protocolCallId", S),
    ("peer_id", "peerId", S),
    ("outbound_campaign_id", "outboundCampaignId", S),
    ("callback_numbers", "callbackNumbers", pa.list_(S)),
    ("recording", "recording", pa.bool_()),
]
_FLOW_FIELDS = [("flow_id", "flowId", S), ("flow_name", "flowName", S), ("flow_type", "flowType", S)]
_SEGMENT_FIELDS = [
    ("segment_type", "segmentType", S),
    ("segment_start", "segmentStart", TS),
    ("segment_end", "segmentEnd", TS),
    ("queue_id", "queueId", S),
    ("disconnect_type", "disconnectType", S),
    ("wrap_up_code", "wrapUpCode", S),
    ("wrap_up_note", "wrapUpNote", S),
    ("conference", "conference", pa.bool_()),
    ("group_id", "groupId", S),
    ("error_code", "errorCode", S),
    ("requested_language_id", "requestedLanguageId", S),
    ("subject", "subject", S),
]
_METRIC_FIELDS = [("name", "name", S), ("value", "value", pa.int64()), ("emit_date", "emitDate", TS)]


def _struct(fields: list[tuple[str, str, pa.DataType]], *extra: tuple[str, pa.DataType]) -> pa.StructType:
    return pa.struct([(wire, type_) for _, wire, type_ in fields] + list(extra))


_SEGMENT = _struct(_SEGMENT_FIELDS)
_METRIC = _struct(_METRIC_FIELDS)
_SESSION = _struct(
    _SESSION_FIELDS,
    ("flow", _struct(_FLOW_FIELDS)),
    ("segments", pa.list_(_SEGMENT)),
    ("metrics", pa.list_(_METRIC)),
)


@functools.lru_cache(maxsize=64)
def _page_type(string_keys: frozenset[str] = frozenset()) -> pa.StructType:
    """The parse type of a page; ``string_keys`` are attribute keys forced to be strings.

    Arrow infers ISO-looking strings as timestamps, which would lose the attribute's
    text; declaring such keys as strings keeps it.
    """
    attributes = pa.struct([(key, S) for key in sorted(string_keys)])
    participant = _struct(_PARTICIPANT_FIELDS, ("attributes", attributes), ("sessions", pa.list_(_SESSION)))
    conversation = _struct(_CONVERSATION_FIELDS, ("participants", pa.list_(participant)))
    # ``aggregations`` (sync query only) is not mapped, so it is not declared.
    return pa.struct(
        [
            ("conversations", pa.list_(conversation)),
            ("cursor", S),
            ("dataAvailabilityDate", S),
            ("totalHits", pa.int64()),
        ]
    )


_PAGE = _page_type()
_CONVERSATION: pa.StructType = _PAGE.field("conversations").type.value_type
_PARTICIPANT: pa.StructType = _CONVERSATION.field("participants").type.value_type
_OPEN_FIELDS = frozenset({"attributes"})
#: Prefix of unknown-field paths found in the page envelope rather than in a conversation.
PAGE_PREFIX = "page."


@dataclass
class FlattenResult:
    """The tables made from one raw page.

    :ivar tables: one table per name in ``genesys_schemas.CONVERSATION_TABLES``, each with
        exactly that schema (empty tables for an empty page).
    :ivar conversations: number of conversations on the page.
    :ivar unknown_fields: dotted path (``participants.sessions.provider``; ``page.`` for the
        envelope) -> number of non-null occurrences of fields we do not map.
    """

    tables: dict[str, pa.Table]
    conversations: int
    unknown_fields: Counter[str] = field(default_factory=Counter)


class _Fallback(Exception):
    """The fast path cannot represent this page; take the checked slow path."""


class _StringKeys:
    """Attribute keys seen inferred as non-strings, shared by pages (and threads).

    Once a key is known, later pages declare it as a string up front and parse once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.keys: frozenset[str] = frozenset()

    def add(self, keys: Iterable[str]) -> frozenset[str]:
        with self._lock:
            self.keys = self.keys | frozenset(keys)
            return self.keys


_STRING_KEYS = _StringKeys()


def _columns(struct: pa.Array, fields: list[tuple[str, str, pa.DataType]]) -> dict[str, pa.Array]:
    return {column: child(struct, wire, type_) for column, wire, type_ in fields}


def _attributes(attrs: pa.Array, conv_ids: pa.Array, part_ids: pa.Array, part_conv: np.ndarray) -> pa.Table:
    """Unpivot the attributes struct (one string field per key seen on the page)."""
    rows: list[np.ndarray] = []
    key_ids: list[np.ndarray] = []
    values: list[pa.Array] = []
    keys: list[str] = []
    for i, key_field in enumerate(attrs.type):
        column = attrs.field(i)
        if column.null_count == len(column):
            continue
        where = ints(pc.indices_nonzero(column.is_valid()))
        rows.append(where)
        key_ids.append(np.full(len(where), len(keys), dtype=np.int32))
        keys.append(key_field.name)
        values.append(column.take(arrow_ints(where)))
    if not rows:
        return gs.PARTICIPANT_ATTRIBUTES.empty_table()
    row = np.concatenate(rows)
    key_id = np.concatenate(key_ids)
    order = np.lexsort((key_id, row))  # group by participant, keys in first-seen order
    row = row[order]
    return table(
        gs.PARTICIPANT_ATTRIBUTES,
        {
            "conversation_id": conv_ids.take(arrow_ints(part_conv[row])),
            "participant_id": part_ids.take(arrow_ints(row)),
            "key": arrow_strings(keys).take(arrow_ints(key_id[order])),
            "value": pa.concat_arrays(values).take(arrow_ints(order)),
        },
    )


def _parse(raw: bytes) -> pa.Table:
    """Parse a page so that every attribute value is a string column."""
    known = _STRING_KEYS.keys
    page = read_json_page(raw, _page_type(known), infer=True)
    attrs = page.schema.field("conversations").type.value_type.field("participants").type.value_type
    attrs = attrs.field("attributes").type
    odd = [f for f in attrs if not (pa.types.is_string(f.type) or pa.types.is_null(f.type))]
    if not odd:
        return page
    if any(not pa.types.is_timestamp(f.type) for f in odd):
        raise _Fallback  # numbers, booleans or objects as values: the slow path handles them
    # ISO-looking strings were inferred as timestamps: parse again with them declared as strings.
    return read_json_page(raw, _page_type(_STRING_KEYS.add(f.name for f in odd)), infer=True)


def _flatten_fast(raw: bytes, *, count: bool) -> FlattenResult:
    page = _parse(raw)
    unknown: Counter[str] = Counter()
    if count:
        for name in page.column_names:
            if _PAGE.get_field_index(name) == -1 and page.column(name).null_count < page.num_rows:
                unknown[PAGE_PREFIX + name] += 1
    conv = page.column("conversations").combine_chunks().flatten()
    n_conv = len(conv)
    if n_conv == 0:
        return FlattenResult({k: s.empty_table() for k, s in gs.CONVERSATION_TABLES.items()}, 0, unknown)
    conv_ids = child(conv, "conversationId", S)
    if conv_ids.null_count:
        raise _Fallback  # the slow path names the conversation without an id
    if count:
        count_unknown(conv, _CONVERSATION, "", unknown, _OPEN_FIELDS)

    part_lists = child(conv, "participants", _CONVERSATION.field("participants").type)
    part, part_conv, part_ord = list_children(part_lists)
    part_ids = child(part, "participantId", S)
    sess, sess_part, sess_ord = list_children(child(part, "sessions", _PARTICIPANT.field("sessions").type))
    sess_conv = part_conv[sess_part]
    sess_ids = child(sess, "sessionId", S)
    seg, seg_sess, seg_ord = list_children(child(sess, "segments", _SESSION.field("segments").type))
    met, met_sess, met_ord = list_children(child(sess, "metrics", _SESSION.field("metrics").type))

    def parents(index: np.ndarray) -> dict[str, pa.Array]:
        return {
            "conversation_id": conv_ids.take(arrow_ints(sess_conv[index])),
            "participant_id": part_ids.take(arrow_ints(sess_part[index])),
            "session_id": sess_ids.take(arrow_ints(index)),
        }

    conversations = _columns(conv, _CONVERSATION_FIELDS)
    conversations["participant_count"] = np.diff(ints(part_lists.offsets))  # 0 for a null list

    participants = {"conversation_id": conv_ids.take(arrow_ints(part_conv)), "participant_ordinal": part_ord}
    participants |= _columns(part, _PARTICIPANT_FIELDS)

    sessions = {
        "conversation_id": conv_ids.take(arrow_ints(sess_conv)),
        "participant_id": part_ids.take(arrow_ints(sess_part)),
        "session_ordinal": sess_ord,
    }
    sessions |= _columns(sess, _SESSION_FIELDS)
    sessions |= _columns(child(sess, "flow", _SESSION.field("flow").type), _FLOW_FIELDS)

    segments = parents(seg_sess) | {"segment_ordinal": seg_ord} | _columns(seg, _SEGMENT_FIELDS)
    segments["duration_ms"] = pc.subtract(segments["segment_end"], segments["segment_start"]).cast(pa.int64())

    metrics = parents(met_sess) | {"metric_ordinal": met_ord} | _columns(met, _METRIC_FIELDS)

    attrs = part.field("attributes")
    tables = {
        "conversations": table(gs.CONVERSATIONS, conversations),
        "participants": table(gs.PARTICIPANTS, participants),
        "sessions": table(gs.SESSIONS, sessions),
        "segments": table(gs.SEGMENTS, segments),
        "session_metrics": table(gs.SESSION_METRICS, metrics),
        "participant_attributes": _attributes(attrs, conv_ids, part_ids, part_conv),
    }
    return FlattenResult(tables, n_conv, unknown)


def _attribute_rows(conv_id: str, participant: dict[str, Any], rows: dict[str, list[Any]]) -> None:
    for key, value in (participant.pop("attributes", None) or {}).items():
        if value is not None:
            rows["conversation_id"].append(conv_id)
            rows["participant_id"].append(participant.get("participantId"))
            rows["key"].append(key)
            rows["value"].append(value)


def _flatten_checked(raw: bytes) -> FlattenResult:
    """Slow path: name the bad record, or clean the page in Python and flatten it again."""
    doc = load_json(raw, "conversation details page")
    if not isinstance(doc, dict):
        raise RecordError("conversation details page must be a JSON object")
    unknown: Counter[str] = Counter()
    page: dict[str, Any] = {}
    for key, value in doc.items():
        if _PAGE.get_field_index(key) == -1:
            if value is not None:
                unknown[PAGE_PREFIX + key] += 1
        elif key != "conversations":
            page[key] = value
    conversations = doc.get("conversations")
    if conversations is not None and not isinstance(conversations, list):
        raise RecordError("conversation details page: field 'conversations' must be an array")
    cleaned = []
    attributes: dict[str, list[Any]] = {name: [] for name in gs.PARTICIPANT_ATTRIBUTES.names}
    for i, conv in enumerate(conversations or []):
        if not isinstance(conv, dict):
            raise RecordError(f"conversation #{i} on the page must be a JSON object")
        conv_id = conv.get("conversationId")
        if not isinstance(conv_id, str):
            raise RecordError(f"conversation #{i} on the page: field 'conversationId' must be a string")
        conv = check_record(conv, _CONVERSATION, f"conversation {conv_id}", "", "", unknown)
        for participant in conv.get("participants") or []:
            if participant is not None:
                _attribute_rows(conv_id, participant, attributes)
        cleaned.append(conv)
    page["conversations"] = cleaned
    compact = json.dumps(page, separators=(",", ":")).encode()
    try:
        result = _flatten_fast(compact, count=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, _Fallback) as exc:
        raise RecordError(f"conversation details page cannot be converted: {exc}") from None
    result.tables["participant_attributes"] = pa.Table.from_pydict(
        attributes, schema=gs.PARTICIPANT_ATTRIBUTES
    )
    result.unknown_fields = unknown
    return result


def flatten_conversation_page(raw: bytes) -> FlattenResult:
    """Flatten one raw conversation details page into the six conversation tables.

    :param raw: the page exactly as the API returned it (compact or pretty-printed JSON).
    :raises RecordError: a field has the wrong type; the message names the conversation
        id, the field path (``participants[0].sessions[1].segmentStart``) and what was expected.
    """
    try:
        return _flatten_fast(raw, count=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, _Fallback):
        return _flatten_checked(raw)


def iter_flatten(pages: Iterable[bytes], *, workers: int = 2) -> Iterator[FlattenResult]:
    """Flatten pages in order, ``workers`` pages at a time.

    Arrow releases the GIL while it parses and flattens, so pages are processed on a small
    thread pool; at most ``2 * workers`` pages (and their tables) are held at once, so memory
    does not grow with the export.

    :param pages: raw pages, e.g. read lazily from the raw zone.
    :param workers: pages processed concurrently; 1 processes them in the calling thread.
    """
    if workers <= 1:
        for raw in pages:
            yield flatten_conversation_page(raw)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="genesys-flatten") as pool:
        pending: deque[Future[FlattenResult]] = deque()
        try:
            for raw in pages:
                pending.append(pool.submit(flatten_conversation_page, raw))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def participant_attributes_from_entities(lines: Iterable[bytes | dict[str, Any]]) -> pa.Table:
    """Build ``participant_attributes`` from ``GET /api/v2/conversations/{id}`` entities.

    :param lines: one Conversation entity per item, as JSON bytes (a JSON Lines row) or a
        decoded dict. Blank lines are skipped. The participant id is the entity
        participant's ``id`` (the same id as analytics ``participantId``).
    :returns: a table with the ``PARTICIPANT_ATTRIBUTES`` schema; null-valued attributes
        are left out, non-string values are kept as their JSON text.
    :raises RecordError: an entity, its participants or their attributes have the wrong type.
    """
    conv_ids: list[str | None] = []
    part_ids: list[str | None] = []
    keys: list[str] = []
    values: list[str | None] = []
    for n, line in enumerate(lines):
        if isinstance(line, bytes | bytearray | str):
            if not line.strip():
                continue
            entity = load_json(line, f"conversation entity on line {n + 1}")
        else:
            entity = line
        if not isinstance(entity, dict):
            raise RecordError(f"conversation entity on line {n + 1} must be a JSON object")
        conv_id = entity.get("id")
        if not isinstance(conv_id, str):
            raise RecordError(f"conversation entity on line {n + 1}: field 'id' must be a string")
        record = f"conversation {conv_id}"
        participants = entity.get("participants")
        if participants is None:
            participants = []
        if not isinstance(participants, list):
            raise RecordError(f"{record}: field 'participants' must be an array")
        for i, participant in enumerate(participants):
            if not isinstance(participant, dict):
                raise RecordError(f"{record}: field 'participants[{i}]' must be an object")
            part_id = participant.get("id")
            if part_id is not None and not isinstance(part_id, str):
                raise RecordError(f"{record}: field 'participants[{i}].id' must be a string")
            attributes = participant.get("attributes")
            if attributes is None:
                attributes = {}
            if not isinstance(attributes, dict):
                raise RecordError(f"{record}: field 'participants[{i}].attributes' must be an object")
            cleaned = check_record(
                attributes, OPEN_STRUCT, record, f"participants[{i}].attributes", "", Counter()
            )
            for key, value in cleaned.items():
                if value is None:
                    continue
                conv_ids.append(conv_id)
                part_ids.append(part_id)
                keys.append(key)
                values.append(value)
    return pa.Table.from_pydict(
        {"conversation_id": conv_ids, "participant_id": part_ids, "key": keys, "value": values},
        schema=gs.PARTICIPANT_ATTRIBUTES,
    )
