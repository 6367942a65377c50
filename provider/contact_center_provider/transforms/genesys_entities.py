"""Genesys Cloud conversation entities (``GET /api/v2/conversations/{id}``) -> ``participant_attributes``.

The synchronous details query carries no participant attributes; the enrichment task fetches
each conversation's entity instead. This module turns those entities into the same
``participant_attributes`` table the job results give, and splits any conversation-keyed
table by the conversations each partition kept
(:func:`~contact_center_provider.transforms.genesys_conversations.partition_result`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from contact_center_provider.transforms import genesys_schemas as gs
from contact_center_provider.transforms._arrow import OPEN_STRUCT, RecordError, check_record, load_json

__all__ = ["participant_attributes_from_entities", "split_by_conversation"]


def split_by_conversation(table: pa.Table, kept: Sequence[pa.Array | pa.ChunkedArray]) -> list[pa.Table]:
    """Split a table keyed by ``conversation_id`` like :func:`partition_result` split the pages.

    For tables that do not come from the details pages, e.g. ``participant_attributes`` built
    by :func:`participant_attributes_from_entities`: row ``i`` of the answer holds the rows of
    the conversations whose ids are in ``kept[i]`` (the ``conversation_id`` column of what the
    ``i``-th window kept). Rows of other conversations are dropped; row order is kept.

    :param table: a table with a ``conversation_id`` column.
    :param kept: per window, the ids of the conversations it holds.
    """
    column = table.column("conversation_id")
    parts = []
    for ids in kept:
        value_set = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        parts.append(table.filter(pc.is_in(column, value_set=value_set.cast(pa.string()))))
    return parts


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
