"""The call detail report: every participant of every conversation, with its account number.

Per conversation (``conversation_start`` order, ties by id): a full-width row with the
conversation id and its start time, duration, queue, wait and outcome; then per
participant (API order) the Open Data Exporter's columns: Purpose, Name
(``participant_name`` or ``No Name``), ANI, DNIS and Direction from the participant's
first session (``unknown`` when missing) and Account (the participant attribute
``accountNumber``, empty when missing). The first page carries the totals:
conversations, answered, abandoned, average handle time and average wait.

A day of a large centre does not fit one page: above ``page_size`` conversations the
main file holds the totals and a list of pages, one or more per local hour, each in
``call_detail_files/``. Inputs are read column by column and combined with Arrow
(joins and group-bys); Python sees one page of rows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contact_center_provider.transforms.reports.formatting import interval_text, js_date_string
from contact_center_provider.transforms.reports.localtime import HOUR_MS, LocalClock, clock, epoch_ms
from contact_center_provider.transforms.reports.output import Renderer, ReportFile, content_name
from contact_center_provider.transforms.reports.sources import TableSource, read_columns

__all__ = [
    "ACCOUNT_ATTRIBUTE",
    "COLUMNS",
    "DEFAULT_METRICS",
    "DEFAULT_PAGE_SIZE",
    "PAGE_TEMPLATE",
    "TEMPLATE",
    "write_call_detail",
]

TEMPLATE = "call_detail.html.j2"
PAGE_TEMPLATE = "call_detail_page.html.j2"
COLUMNS = ("Purpose", "Name", "ANI", "DNIS", "Direction", "Account")
#: The participant attribute shown in the Account column.
ACCOUNT_ATTRIBUTE = "accountNumber"
UNKNOWN = "unknown"
#: Conversations per page; a larger report is split per local hour, then per this many.
DEFAULT_PAGE_SIZE = 500
#: Session metrics behind the conversation facts, by role. The vendor documents we hold
#: are silent on them; these are the Genesys analytics metric names (summed per
#: conversation): time in queue, answered by an agent, abandoned in queue, handle time
#: (talk + hold + after-call work). Override with ``metrics={...}``.
DEFAULT_METRICS = {"wait": "tAcd", "answered": "tAnswered", "abandoned": "tAbandon", "handle": "tHandle"}

_MS = pa.timestamp("ms", tz="UTC")


def _release() -> None:
    # Arrow's allocator keeps freed memory for reuse; between the big steps, hand it back.
    pa.default_memory_pool().release_unused()


def _sorted(table: pa.Table, *keys: str) -> pa.Table:
    return table.sort_by([(k, "ascending", "at_end") for k in keys])


def _with_index(table: pa.Table) -> pa.Table:
    return table.append_column("_i", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def _extreme_row(table: pa.Table, keys: list[str], order: str, how: str) -> pa.Array:
    """Row indices of the row with the smallest (``min``) or largest (``max``) ``order`` per key.

    ``order`` is an int64 column with the row index in its low 32 bits, so ties cannot happen
    and the row is found again without sorting the table by its string keys.
    """
    best = table.select([*keys, order]).group_by(keys, use_threads=False).aggregate([(order, how)])
    return pc.bit_wise_and(best.column(f"{order}_{how}"), pa.scalar(0xFFFFFFFF, pa.int64()))


def _order_key(ordinal: pa.ChunkedArray, index: pa.ChunkedArray) -> pa.ChunkedArray:
    """``ordinal`` (missing sorts last) in the high bits, the row index in the low 32 bits."""
    high = pc.fill_null(ordinal.cast(pa.int64()), pa.scalar(2**30, pa.int64()))
    return pc.add(pc.shift_left(high, pa.scalar(32, pa.int64())), index)


def _ensure(table: pa.Table, columns: Mapping[str, pa.DataType]) -> pa.Table:
    for name, kind in columns.items():
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, kind))
    return table


def _conversations(source: TableSource, metric_sums: pa.Table | None, metrics: Mapping[str, str]) -> pa.Table:
    """One row per conversation id (its first row), by start (missing last) then id, with its metrics."""
    table = _ensure(
        read_columns(source, ["conversation_id", "conversation_start", "conversation_end"]),
        {"conversation_start": _MS, "conversation_end": _MS},
    )
    table = _with_index(table)
    first = table.group_by("conversation_id", use_threads=False).aggregate([("_i", "min")])
    table = _sorted(table.take(first.column("_i_min")), "conversation_start", "conversation_id")
    table = table.append_column("rank", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    for role in ("wait", "answered", "abandoned", "handle"):
        column: Any = pa.nulls(table.num_rows, pa.int64())
        if metric_sums is not None:
            picked = metric_sums.filter(pc.equal(metric_sums.column("name"), metrics[role]))
            joined = _sorted(
                table.select(["conversation_id", "rank"]).join(
                    picked.select(["conversation_id", "value_sum"]),
                    "conversation_id",
                    join_type="left outer",
                    use_threads=False,
                ),
                "rank",
            )
            column = joined.column("value_sum")
        table = table.append_column(role, column)
    return table


def _metric_sums(source: TableSource | None, metrics: Mapping[str, str]) -> pa.Table | None:
    """``conversation_id, name, value_sum`` for the metric names the report reads."""
    if source is None or not {"conversation_id", "name", "value"} <= set(source.schema.names):
        return None
    wanted = pa.array(sorted(set(metrics.values())), pa.string())
    pieces = [
        kept
        for batch in source.iter_batches(["conversation_id", "name", "value"])
        if (kept := batch.filter(pc.is_in(batch.column("name"), value_set=wanted))).num_rows
    ]
    if not pieces:
        return None
    sums = (
        pa.Table.from_batches(pieces)
        .group_by(["conversation_id", "name"], use_threads=False)
        .aggregate([("value", "sum")])
    )
    _release()
    return sums


def _participant_rows(
    sources: Mapping[str, TableSource | None], ranks: pa.Table
) -> tuple[pa.Table, pa.Table]:
    """Every participant row of the report in order (by rank), and the queue per conversation.

    Each "first"/"last" below is a min/max over ``ordinal << 32 | row index``: the winning
    row comes back from the index without sorting tables by their string keys.
    """
    keys = ["conversation_id", "participant_id"]
    participants_source, sessions_source = sources["participants"], sources["sessions"]
    assert participants_source is not None and sessions_source is not None
    participants = _with_index(
        _ensure(
            read_columns(participants_source, [*keys, "participant_ordinal", "purpose", "participant_name"]),
            {
                "participant_id": pa.string(),
                "participant_ordinal": pa.int32(),
                "purpose": pa.string(),
                "participant_name": pa.string(),
            },
        )
    )
    participants = participants.append_column(
        "_k", _order_key(participants.column("participant_ordinal"), participants.column("_i"))
    )
    # Queue: the last acd participant in API order (the abandon report's rule).
    acd = participants.filter(pc.equal(participants.column("purpose"), "acd"))
    queues = participants.take(_extreme_row(acd, ["conversation_id"], "_k", "max"))
    queues = queues.select(["conversation_id", "participant_name"]).rename_columns(
        ["conversation_id", "queue"]
    )
    del acd

    sessions = _ensure(
        read_columns(sessions_source, [*keys, "session_ordinal", "ani", "dnis", "direction"]),
        {
            "participant_id": pa.string(),
            "session_ordinal": pa.int32(),
            "ani": pa.string(),
            "dnis": pa.string(),
            "direction": pa.string(),
        },
    )
    sessions = _with_index(sessions.filter(pc.is_valid(sessions.column("participant_id"))))
    sessions = sessions.append_column(
        "_k", _order_key(sessions.column("session_ordinal"), sessions.column("_i"))
    )
    first_sessions = sessions.take(_extreme_row(sessions, keys, "_k", "min"))
    first_sessions = first_sessions.select([*keys, "ani", "dnis", "direction"])
    del sessions
    _release()

    rows = participants.drop_columns(["_i", "participant_ordinal"]).join(
        ranks, "conversation_id", join_type="inner", use_threads=False
    )
    rows = rows.join(first_sessions, keys, join_type="left outer", use_threads=False)
    del participants, first_sessions
    attributes = sources.get("participant_attributes")
    if attributes is not None and {"key", "value", "participant_id"} <= set(attributes.schema.names):
        pieces = []
        for batch in attributes.iter_batches([*keys, "key", "value"]):
            mask = pc.and_(
                pc.equal(batch.column("key"), ACCOUNT_ATTRIBUTE), pc.is_valid(batch.column("value"))
            )
            if (kept := batch.filter(mask)).num_rows:
                pieces.append(kept.select([*keys, "value"]))
        if pieces:
            # The last value given for a participant wins, as a dict update would have it.
            given = _with_index(pa.Table.from_batches(pieces))
            accounts = given.take(_extreme_row(given, keys, "_i", "max")).select([*keys, "value"])
            rows = rows.join(
                accounts.rename_columns([*keys, "account"]), keys, join_type="left outer", use_threads=False
            )
    rows = _ensure(
        rows, {"account": pa.string(), "ani": pa.string(), "dnis": pa.string(), "direction": pa.string()}
    )
    _release()
    rows = rows.select(["rank", "_k", "purpose", "participant_name", "ani", "dnis", "direction", "account"])
    return _sorted(rows, "rank", "_k"), queues


def _or_unknown(value: str | None) -> str:
    return value if value else UNKNOWN


@dataclass(frozen=True)
class _Page:
    first: int  # conversation ranks [first, last)
    last: int
    label: str
    part: int
    parts: int


def _pages(starts: list[int | None], local: LocalClock, page_size: int) -> list[_Page]:
    """Pages per local hour (a repeated DST hour is its own), each cut into ``page_size`` pieces."""
    hours: list[tuple[int | None, int, int]] = []  # (hour start, first rank, last rank)
    for rank, start in enumerate(starts):
        hour = None if start is None else local.hour_start(start)
        if hours and hours[-1][0] == hour:
            hours[-1] = (hour, hours[-1][1], rank + 1)
        else:
            hours.append((hour, rank, rank + 1))
    pages = []
    for hour, first, last in hours:
        label = "No start time" if hour is None else f"{local.text(hour)} - {local.time_text(hour + HOUR_MS)}"
        parts = -(-(last - first) // page_size)
        for part in range(parts):
            pages.append(
                _Page(
                    first + part * page_size,
                    min(last, first + (part + 1) * page_size),
                    label,
                    part + 1,
                    parts,
                )
            )
    return pages


def _average(values: pa.ChunkedArray) -> str:
    valid = pc.drop_null(values)
    return clock(int(pc.sum(valid).as_py() // len(valid))) if len(valid) else ""


def write_call_detail(
    sources: Mapping[str, TableSource | None],
    render: Renderer,
    *,
    main_name: str,
    run_date: str | datetime,
    interval_start: datetime,
    interval_end: datetime,
    tz: str | tzinfo = "UTC",
    interval: str | None = None,
    interval_step: str = "PT1H",
    page_size: int = DEFAULT_PAGE_SIZE,
    metrics: Mapping[str, str] | None = None,
    template: str = TEMPLATE,
) -> Iterator[ReportFile]:
    """Yield the report's files: pages (when there are more than ``page_size`` conversations), then the main page.

    :param sources: ``conversations``, ``participants``, ``sessions`` (required);
        ``participant_attributes`` and ``session_metrics`` (optional: without them Account,
        respectively wait and outcome, stay empty).
    :param render: renders a template name with a context.
    :param main_name: the main file's name (``call_detail.html``).
    :param run_date: run date text, or a ``datetime`` printed like a JavaScript date in ``tz``.
    :param interval_start: start of the data interval (naive means UTC).
    :param interval_end: end of the data interval.
    :param tz: the zone every time is printed in; pages follow its hours.
    :param interval: interval text; default: printed from ``interval_start``/``interval_end`` in ``tz``.
    :param interval_step: ISO 8601 step printed after the interval.
    :param page_size: conversations per page (at least 1).
    :param metrics: metric names by role, over :data:`DEFAULT_METRICS`.
    """
    if page_size < 1:
        raise ValueError(f"call_detail report: page_size must be at least 1, got {page_size}")
    unknown = sorted(set(metrics or {}) - set(DEFAULT_METRICS))
    if unknown:
        raise ValueError(
            f"call_detail report: unknown metric roles {unknown}; known: {sorted(DEFAULT_METRICS)}"
        )
    roles = {**DEFAULT_METRICS, **(metrics or {})}
    local = LocalClock(tz, epoch_ms(interval_start), epoch_ms(interval_end))
    if interval is None:
        interval = interval_text(interval_start, interval_end, tz)
    conversations_source = sources["conversations"]
    assert conversations_source is not None
    conversations = _conversations(
        conversations_source, _metric_sums(sources.get("session_metrics"), roles), roles
    )
    rows, queues = _participant_rows(sources, conversations.select(["conversation_id", "rank"]))
    conversations = _sorted(
        conversations.join(queues, "conversation_id", join_type="left outer", use_threads=False), "rank"
    )

    starts: list[int | None] = conversations.column("conversation_start").cast(pa.int64()).to_pylist()
    count = conversations.num_rows
    answered = int(pc.sum(pc.is_valid(conversations.column("answered"))).as_py() or 0)
    abandoned = int(pc.sum(pc.is_valid(conversations.column("abandoned"))).as_py() or 0)
    header = {
        "title": "Call Data Report",
        "run_date": js_date_string(run_date, tz) if isinstance(run_date, datetime) else run_date,
        "interval": interval,
        "interval_step": interval_step,
        "conversation_count": count,
        "columns": list(COLUMNS),
        "totals": [
            ("Conversations", str(count)),
            ("Answered", str(answered)),
            ("Abandoned", str(abandoned)),
            ("Average handle time", _average(conversations.column("handle"))),
            ("Average wait", _average(conversations.column("wait"))),
        ],
        "index_href": f"../{main_name}",
    }
    rank_of_row = rows.column("rank").to_numpy()

    def page_conversations(page: _Page) -> list[dict[str, Any]]:
        convs = conversations.slice(page.first, page.last - page.first).to_pylist()
        lo, hi = np.searchsorted(rank_of_row, [page.first, page.last])
        by_rank: dict[int, list[dict[str, Any]]] = {}
        for row in rows.slice(int(lo), int(hi - lo)).to_pylist():
            by_rank.setdefault(row["rank"], []).append(
                {
                    "purpose": _or_unknown(row["purpose"]),
                    "name": row["participant_name"] or "No Name",
                    "ani": _or_unknown(row["ani"]),
                    "dnis": _or_unknown(row["dnis"]),
                    "direction": _or_unknown(row["direction"]),
                    "account": row["account"] or "",
                }
            )
        out = []
        for conv in convs:
            begin, finish = conv["conversation_start"], conv["conversation_end"]
            begin_ms = None if begin is None else epoch_ms(begin)
            outcome = (
                "Answered"
                if conv["answered"] is not None
                else "Abandoned"
                if conv["abandoned"] is not None
                else ""
            )
            out.append(
                {
                    "conversation_id": conv["conversation_id"],
                    "start": "" if begin_ms is None else local.text(begin_ms),
                    "start_iso": "" if begin_ms is None else local.iso(begin_ms),
                    "duration": ""
                    if begin_ms is None or finish is None
                    else clock(epoch_ms(finish) - begin_ms),
                    "queue": conv["queue"] or "",
                    "wait": "" if conv["wait"] is None else clock(conv["wait"]),
                    "outcome": outcome,
                    "rows": by_rank.get(conv["rank"], []),
                }
            )
        return out

    summary: dict[str, Any] = {"conversations": count, "answered": answered, "abandoned": abandoned}
    if count <= page_size:
        context = {**header, "conversations": page_conversations(_Page(0, count, "", 1, 1)), "pages": []}
        summary["pages"] = 1
        yield ReportFile(main_name, render(template, context).encode("utf-8"), main=True, summary=summary)
        return
    listed = []
    for number, page in enumerate(_pages(starts, local, page_size), start=1):
        convs = page_conversations(page)
        label = page.label if page.parts == 1 else f"{page.label} ({page.part}/{page.parts})"
        context = {**header, "page_label": label, "page_number": number, "conversations": convs}
        data = render(PAGE_TEMPLATE, context).encode("utf-8")
        name = content_name(main_name, data, prefix=f"p{number:04d}-")
        yield ReportFile(name, data)
        listed.append(
            {
                "label": label,
                "href": name,
                "conversations": len(convs),
                "answered": sum(c["outcome"] == "Answered" for c in convs),
                "abandoned": sum(c["outcome"] == "Abandoned" for c in convs),
                "first_start": convs[0]["start"] if convs else "",
            }
        )
    summary["pages"] = len(listed) + 1
    context = {**header, "conversations": [], "pages": listed}
    yield ReportFile(main_name, render(template, context).encode("utf-8"), main=True, summary=summary)
