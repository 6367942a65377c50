"""The abandon report: one ``|``-delimited line per abandoned conversation.

Selection happens in the export query (ACD segment disconnected by the peer, voice),
so every conversation in the input tables becomes a row. Rendering goes through the
``abandons.txt.j2`` template with values sanitised beforehand by
:func:`~.formatting.flat_text_field` (see that module for what happens to ``|``,
line breaks and formula-like values).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from contact_center_provider.transforms.reports.formatting import flat_text_field, js_date_string, one_line
from contact_center_provider.transforms.reports.render import render
from contact_center_provider.transforms.reports.tables import (
    conversation_order,
    group_rows,
    rows_of,
)

__all__ = ["TEMPLATE", "AbandonRow", "abandon_rows", "abandons_context", "render_abandons"]

TEMPLATE = "abandons.txt.j2"
COLUMNS = ("Conversation ID", "Queue", "Customer Name", "ANI")


@dataclass(frozen=True)
class AbandonRow:
    """One abandoned conversation, values as the vendor sent them (``None`` when missing)."""

    conversation_id: str
    queue: str | None
    customer_name: str | None
    ani: str | None


def abandon_rows(conversations: pa.Table, participants: pa.Table, sessions: pa.Table) -> list[AbandonRow]:
    """Derive one :class:`AbandonRow` per conversation, ordered by conversation start then id.

    Queue is the ``participant_name`` of the last ``acd`` participant, Customer Name that
    of the last ``customer`` participant, ANI the last non-empty ``ani`` among that
    customer's sessions (API order).
    """
    parts_by_conv = group_rows(rows_of(participants), "conversation_id", "participant_ordinal")
    sessions_by_part = group_rows(rows_of(sessions), ("conversation_id", "participant_id"), "session_ordinal")
    result = []
    for conv in conversation_order(conversations):
        cid = conv["conversation_id"]
        parts = parts_by_conv.get(cid, [])
        acd = [p for p in parts if p.get("purpose") == "acd"]
        customers = [p for p in parts if p.get("purpose") == "customer"]
        queue = acd[-1].get("participant_name") if acd else None
        customer_name = ani = None
        if customers:
            customer = customers[-1]
            customer_name = customer.get("participant_name")
            anis = [
                s["ani"]
                for s in sessions_by_part.get((cid, customer.get("participant_id")), [])
                if s.get("ani")
            ]
            ani = anis[-1] if anis else None
        result.append(AbandonRow(cid, queue, customer_name, ani))
    return result


def _header_value(value: object) -> str:
    return one_line(value).replace("|", "\u00a6")


def abandons_context(
    rows: list[AbandonRow],
    *,
    run_date: str,
    company: str,
    interval: str,
    job_name: str = "Abandons job",
    configuration_name: str = "Abandons Configuration",
) -> dict[str, Any]:
    """Return the ``abandons.txt.j2`` context with every value made safe for the flat file."""
    return {
        "run_date": _header_value(run_date),
        "company": _header_value(company),
        "interval": _header_value(interval),
        "job_name": _header_value(job_name),
        "configuration_name": _header_value(configuration_name),
        "columns": list(COLUMNS),
        "rows": [
            {
                "conversation_id": flat_text_field(r.conversation_id),
                "queue": flat_text_field(r.queue),
                "customer_name": flat_text_field(r.customer_name),
                "ani": flat_text_field(r.ani),
            }
            for r in rows
        ],
    }


def render_abandons(
    rows: list[AbandonRow],
    *,
    run_date: str | datetime,
    company: str,
    interval: str,
    job_name: str = "Abandons job",
    configuration_name: str = "Abandons Configuration",
    search_path: list[str | Path] | None = None,
    tz: str = "UTC",
) -> str:
    """Render the abandon file: seven header lines, then one line per row, LF line ends.

    :param run_date: the run date text (``Fri Jan 13 2017 10:56:45 GMT-0700``) or a
        ``datetime`` formatted that way in ``tz``.
    """
    if isinstance(run_date, datetime):
        run_date = js_date_string(run_date, tz)
    context = abandons_context(
        rows,
        run_date=run_date,
        company=company,
        interval=interval,
        job_name=job_name,
        configuration_name=configuration_name,
    )
    return render(TEMPLATE, context, search_path)
