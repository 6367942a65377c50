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
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contact_center_provider.transforms import genesys_schemas as gs
from contact_center_provider.transforms._arrow import (
    TS,
    RecordError,
    arrow_ints,
    arrow_strings,
    check_record,
    child,
    count_unknown,
    empty_table,
    ints,
    list_children,
    load_json,
    read_json_page,
    table,
)

# Re-exported: the entity twin of the page flattener lives with the entities.
from contact_center_provider.transforms.genesys_entities import (
    participant_attributes_from_entities,
    split_by_conversation,
)

__all__ = [
    "FlattenResult",
    "RecordError",
    "flatten_conversation_page",
    "iter_flatten",
    "participant_attributes_from_entities",
    "partition_result",
    "split_by_conversation",
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
    ("conference_start", "conferenceStart", TS),
    ("media_stats_min_conversation_r_factor", "mediaStatsMinConversationRFactor", pa.float64()),
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
    ("requested_routings", "requestedRoutings", pa.list_(S)),
    ("used_routing", "usedRouting", S),
    ("provider", "provider", S),
    ("callback_user_name", "callbackUserName", S),
]
_FLOW_FIELDS = [
    ("flow_id", "flowId", S),
    ("flow_name", "flowName", S),
    ("flow_type", "flowType", S),
    ("flow_entry_type", "entryType", S),
    ("flow_entry_reason", "entryReason", S),
    ("flow_exit_reason", "exitReason", S),
    ("flow_transfer_type", "transferType", S),
    ("flow_transfer_target_name", "transferTargetName", S),
    ("flow_transfer_target_address", "transferTargetAddress", S),
]
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
    """The tables made from one raw page (or from the part of a page that one partition keeps).

    :ivar tables: one table per name in ``genesys_schemas.CONVERSATION_TABLES``, each with
        exactly that schema (empty tables for an empty page).
    :ivar conversations: number of conversations in ``tables["conversations"]``.
    :ivar unknown_fields: dotted path (``participants.mediaEndpointStats``; ``page.`` for the
        envelope) -> number of non-null occurrences of fields we do not map.
    :ivar outside_windows: conversations :func:`partition_result` dropped because they started
        in none of its windows (they belong to another run's partition).
    :ivar duplicates: conversations :func:`partition_result` dropped because they were already
        kept (an earlier page, an earlier split query, or twice on this page).
    :ivar parents: for each child table, the row of ``tables["conversations"]`` each of its
        rows belongs to (filled by the flattener; lets :func:`partition_result` select child
        rows by position, which stays right even when a page repeats a conversation).
    """

    tables: dict[str, pa.Table]
    conversations: int
    unknown_fields: Counter[str] = field(default_factory=Counter)
    outside_windows: int = 0
    duplicates: int = 0
    parents: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)


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


def _attributes(
    attrs: pa.Array, conv_ids: pa.Array, part_ids: pa.Array, part_conv: np.ndarray
) -> tuple[pa.Table, np.ndarray]:
    """Unpivot the attributes struct (one string field per key seen on the page).

    :returns: the table and, per row, the conversation row it belongs to.
    """
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
        return empty_table(gs.PARTICIPANT_ATTRIBUTES), np.zeros(0, dtype=np.int64)
    row = np.concatenate(rows)
    key_id = np.concatenate(key_ids)
    order = np.lexsort((key_id, row))  # group by participant, keys in first-seen order
    row = row[order]
    conv_row = part_conv[row]
    attributes = table(
        gs.PARTICIPANT_ATTRIBUTES,
        {
            "conversation_id": conv_ids.take(arrow_ints(conv_row)),
            "participant_id": part_ids.take(arrow_ints(row)),
            "key": arrow_strings(keys).take(arrow_ints(key_id[order])),
            "value": pa.concat_arrays(values).take(arrow_ints(order)),
        },
    )
    return attributes, conv_row


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
        return FlattenResult({k: empty_table(s) for k, s in gs.CONVERSATION_TABLES.items()}, 0, unknown)
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

    attributes, attr_conv = _attributes(part.field("attributes"), conv_ids, part_ids, part_conv)
    tables = {
        "conversations": table(gs.CONVERSATIONS, conversations),
        "participants": table(gs.PARTICIPANTS, participants),
        "sessions": table(gs.SESSIONS, sessions),
        "segments": table(gs.SEGMENTS, segments),
        "session_metrics": table(gs.SESSION_METRICS, metrics),
        "participant_attributes": attributes,
    }
    conversation_rows = {
        "participants": part_conv,
        "sessions": sess_conv,
        "segments": sess_conv[seg_sess],
        "session_metrics": sess_conv[met_sess],
        "participant_attributes": attr_conv,
    }
    return FlattenResult(tables, n_conv, unknown, parents=conversation_rows)


def _attribute_rows(
    conv_row: int, conv_id: str, participant: dict[str, Any], rows: dict[str, list[Any]]
) -> None:
    for key, value in (participant.pop("attributes", None) or {}).items():
        if value is not None:
            rows["_row"].append(conv_row)
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
    attributes: dict[str, list[Any]] = {name: [] for name in ["_row", *gs.PARTICIPANT_ATTRIBUTES.names]}
    for i, conv in enumerate(conversations or []):
        if not isinstance(conv, dict):
            raise RecordError(f"conversation #{i} on the page must be a JSON object")
        conv_id = conv.get("conversationId")
        if not isinstance(conv_id, str):
            raise RecordError(f"conversation #{i} on the page: field 'conversationId' must be a string")
        conv = check_record(conv, _CONVERSATION, f"conversation {conv_id}", "", "", unknown)
        for participant in conv.get("participants") or []:
            if participant is not None:
                _attribute_rows(i, conv_id, participant, attributes)
        cleaned.append(conv)
    page["conversations"] = cleaned
    compact = json.dumps(page, separators=(",", ":")).encode()
    try:
        result = _flatten_fast(compact, count=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, _Fallback) as exc:
        raise RecordError(f"conversation details page cannot be converted: {exc}") from None
    result.parents["participant_attributes"] = np.array(attributes.pop("_row"), dtype=np.int64)
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


# --- exactly once: each conversation in the partition holding its start ----------------------

Window = tuple[datetime, datetime]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_NO_START = np.iinfo(np.int64).min


def _window_ms(windows: Sequence[Window]) -> list[tuple[int, int]]:
    bounds = []
    for start, end in windows:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError(f"partition window {start}/{end} must use time-zone aware datetimes")
        if end <= start:
            raise ValueError(
                f"partition window {start.isoformat()}/{end.isoformat()} must end after it starts"
            )
        bounds.append(((start - _EPOCH) // _MS, (end - _EPOCH) // _MS))
    return bounds


def _groups(assign: np.ndarray, count: int) -> list[np.ndarray]:
    """Row indices per group ``0..count-1`` (rows assigned ``-1`` belong to none), in row order."""
    order = np.argsort(assign, kind="stable")
    edges = np.searchsorted(assign[order], np.arange(count + 1))
    return [order[edges[g] : edges[g + 1]] for g in range(count)]


def _rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    # Pages come ordered by start and child rows follow their conversation, so a window's
    # rows are usually one run: a zero-copy slice instead of a gather.
    first, last = int(rows[0]), int(rows[-1])
    if last - first + 1 == len(rows):
        return table.slice(first, len(rows))
    return table.take(arrow_ints(rows))


def _split(result: FlattenResult, window_of: np.ndarray, count: int) -> list[FlattenResult]:
    """One result per window with the rows of the conversations ``window_of`` assigns to it."""
    conversation_groups = _groups(window_of, count)
    rank = np.zeros(len(window_of), dtype=np.int64)  # a conversation row's row in its window
    for group in conversation_groups:
        rank[group] = np.arange(len(group))
    empty = {name: empty_table(schema) for name, schema in gs.CONVERSATION_TABLES.items()}
    parts = [FlattenResult(dict(empty), len(group)) for group in conversation_groups]
    ids = result.tables["conversations"].column("conversation_id")
    for name, source in result.tables.items():
        parent = None if name == "conversations" else result.parents.get(name)
        if name == "conversations":
            groups = conversation_groups
        elif parent is not None and len(parent) == source.num_rows:
            groups = _groups(window_of[parent], count)
        else:  # a table built elsewhere: select by id (a repeated id keeps all its rows)
            groups = []
            for group in conversation_groups:
                member = pc.is_in(source.column("conversation_id"), value_set=ids.take(arrow_ints(group)))
                groups.append(ints(pc.indices_nonzero(member)) if len(group) else group)
        for part, rows in zip(parts, groups, strict=True):
            if len(rows):
                part.tables[name] = _rows(source, rows)
                if parent is not None and name != "conversations" and len(parent) == source.num_rows:
                    part.parents[name] = rank[parent[rows]]
    return parts


def partition_result(result: FlattenResult, windows: Sequence[Window], seen: set[str]) -> list[FlattenResult]:
    """Split a flattened page so that each conversation lands once, in the window holding its start.

    Details jobs return every conversation whose lifetime *overlaps* their interval, and a
    query split into pieces returns a conversation in every piece that touches its start day;
    the tables hold each conversation once, in the partition of its ``conversationStart``.
    Raw pages are not touched: this only decides which flattened rows each partition keeps.

    :param result: one flattened page (:func:`flatten_conversation_page`, :func:`iter_flatten`).
    :param windows: ``[start, end)`` per partition, aware datetimes. A conversation that starts
        in several (overlapping) windows goes to the first; one whose start is in none (or is
        missing) is dropped and counted in ``outside_windows``.
    :param seen: ids of conversations already kept by earlier pages of the same export; ids kept
        here are added to it. A conversation already in ``seen``, or met a second time on this
        page, is dropped and counted in ``duplicates`` (the first occurrence wins).
    :returns: one result per window, in the order of ``windows``, each with the same six tables
        and schemas. Page-level counts (``unknown_fields``, ``outside_windows``, ``duplicates``)
        are carried by the first result only, so summing over all results gives the page's totals.
    :raises ValueError: no window, a naive datetime, or a window that does not end after it starts.
    """
    if not windows:
        raise ValueError("partition_result needs at least one window")
    bounds = _window_ms(windows)
    conversations = result.tables["conversations"]
    ids = conversations.column("conversation_id").combine_chunks()
    starts = conversations.column("conversation_start").combine_chunks().cast(pa.int64())
    start_ms = ints(starts)
    if starts.null_count:  # (fill_null would convert a Python scalar, which imports pandas)
        start_ms = start_ms.copy()
        start_ms[ints(pc.indices_nonzero(starts.is_null()))] = _NO_START
    n = len(ids)
    keep = np.ones(n, dtype=bool)
    unique = pc.unique(ids)
    if len(unique) < n:
        _, first = np.unique(ints(pc.index_in(ids, value_set=unique)), return_index=True)
        keep[:] = False
        keep[first] = True
    # Only this page's ids are looked up in ``seen``: the set can hold a whole day.
    already = seen.intersection(ids.to_pylist()) if seen else set()
    if already:
        was_seen = pc.is_in(ids, value_set=arrow_strings(sorted(already)))
        keep[ints(pc.indices_nonzero(was_seen))] = False
    window_of = np.full(n, -1, dtype=np.int64)
    for number, (low, high) in enumerate(bounds):
        window_of[keep & (window_of < 0) & (start_ms >= low) & (start_ms < high)] = number
    placed = window_of >= 0
    seen.update(ids.take(arrow_ints(np.flatnonzero(placed))).to_pylist())
    parts = _split(result, window_of, len(bounds))
    first_part = parts[0]
    first_part.unknown_fields = Counter(result.unknown_fields)
    first_part.outside_windows = result.outside_windows + int((keep & ~placed).sum())
    first_part.duplicates = result.duplicates + int(n - keep.sum())
    return parts
