"""The call detail report: every participant of every conversation, with its account number.

Per conversation (``conversation_start`` order, ties by id) and per participant (API
order): Purpose, Name (``participant_name`` or ``No Name``), ANI, DNIS and Direction
from the participant's first session (``unknown`` when missing) and Account (the
participant attribute ``accountNumber``, empty when missing). The template is
``call_detail.html.j2``; autoescaping escapes every value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from contact_center_provider.transforms.reports.formatting import js_date_string
from contact_center_provider.transforms.reports.tables import (
    conversation_order,
    group_rows,
    rows_of,
)

__all__ = ["ACCOUNT_ATTRIBUTE", "COLUMNS", "TEMPLATE", "call_detail_context"]

TEMPLATE = "call_detail.html.j2"
COLUMNS = ("Purpose", "Name", "ANI", "DNIS", "Direction", "Account")
#: The participant attribute shown in the Account column.
ACCOUNT_ATTRIBUTE = "accountNumber"
UNKNOWN = "unknown"


def _or_unknown(value: str | None) -> str:
    return value if value else UNKNOWN


def call_detail_context(
    conversations: pa.Table,
    participants: pa.Table,
    sessions: pa.Table,
    participant_attributes: pa.Table | None,
    *,
    run_date: str | datetime,
    interval: str,
    interval_step: str = "PT1H",
    tz: str = "UTC",
) -> dict[str, Any]:
    """Build the ``call_detail.html.j2`` context.

    :param participant_attributes: key/value attributes per participant; ``None`` or an
        empty table leaves every Account empty.
    :param run_date: run date text, or a ``datetime`` printed like a JavaScript date in ``tz``.
    :param interval: interval text (see :func:`~.formatting.interval_text`).
    :param interval_step: ISO 8601 step printed after the interval.
    :returns: ``{"title", "run_date", "interval", "interval_step", "conversation_count",
        "columns", "conversations": [{"conversation_id", "rows": [{"purpose", "name", "ani",
        "dnis", "direction", "account"}]}]}``.
    """
    if isinstance(run_date, datetime):
        run_date = js_date_string(run_date, tz)
    parts_by_conv = group_rows(rows_of(participants), "conversation_id", "participant_ordinal")
    sessions_by_part = group_rows(rows_of(sessions), ("conversation_id", "participant_id"), "session_ordinal")
    accounts: dict[tuple[str, str | None], str] = {}
    for attr in rows_of(participant_attributes):
        if attr.get("key") == ACCOUNT_ATTRIBUTE and attr.get("value") is not None:
            accounts[(attr["conversation_id"], attr.get("participant_id"))] = attr["value"]

    conversations_out = []
    for conv in conversation_order(conversations):
        cid = conv["conversation_id"]
        rows = []
        for part in parts_by_conv.get(cid, []):
            pid = part.get("participant_id")
            part_sessions = sessions_by_part.get((cid, pid), []) if pid is not None else []
            first: dict[str, Any] = part_sessions[0] if part_sessions else {}
            rows.append(
                {
                    "purpose": _or_unknown(part.get("purpose")),
                    "name": part.get("participant_name") or "No Name",
                    "ani": _or_unknown(first.get("ani")),
                    "dnis": _or_unknown(first.get("dnis")),
                    "direction": _or_unknown(first.get("direction")),
                    "account": accounts.get((cid, pid), ""),
                }
            )
        conversations_out.append({"conversation_id": cid, "rows": rows})
    return {
        "title": "Call Data Report",
        "run_date": run_date,
        "interval": interval,
        "interval_step": interval_step,
        "conversation_count": len(conversations_out),
        "columns": list(COLUMNS),
        "conversations": conversations_out,
    }
