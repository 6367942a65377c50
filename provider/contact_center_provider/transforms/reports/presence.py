"""The presence report at any size: an index of agents, and one small detail page per agent.

Files (see :mod:`.output` for naming and publication):

``presence.html`` (the index)
    One row per agent, sorted by name: division, and the time in each system presence
    and routing status within the interval (``h:mm:ss``). Column headers sort the rows
    with CSS alone (``#by-<column>`` fragments), so sorting and reading need no script;
    a small inline script adds a name/division filter box when scripts run. Each name
    links to the agent's detail page.
``presence_files/<hash>.html`` (one per agent)
    The agent's totals per presence label and routing status (exact ``h:mm:ss`` beside
    the humanised wording), a timeline of merged spans (inline SVG) and the original
    exporter's event columns -- Presence, Start Time, End Time, Duration and Routing
    Status, Start Time, End Time, Duration -- as two tables side by side, so no row is
    half empty.

With ``group_by`` (a column of the ``users`` table, e.g. ``division_id``) the main file
lists the groups and each group gets its own index page.

A user's name comes from the ``users`` table, else the user id is shown (unknown or
deleted users). Records are read in batches and grouped per user in bounded memory
(:mod:`.presence_input`); only the index rows (a few numbers per agent) are kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from contact_center_provider.transforms.reports.formatting import interval_text, js_date_string
from contact_center_provider.transforms.reports.localtime import LocalClock, clock, epoch_ms
from contact_center_provider.transforms.reports.output import Renderer, ReportFile, content_name
from contact_center_provider.transforms.reports.presence_input import DEFAULT_MAX_ROWS, iter_user_records
from contact_center_provider.transforms.reports.presence_model import (
    PRESENCE_COLORS,
    ROUTING_COLORS,
    Labeler,
    Timeline,
    color,
    span_rows,
    to_spans,
    total_rows,
    totals,
)
from contact_center_provider.transforms.reports.sources import TableSource, present, read_columns

__all__ = ["AGENT_TEMPLATE", "DEFAULT_MAX_ROWS", "GROUPS_TEMPLATE", "TEMPLATE", "IndexRow", "write_presence"]

TEMPLATE = "presence.html.j2"
AGENT_TEMPLATE = "presence_agent.html.j2"
GROUPS_TEMPLATE = "presence_groups.html.j2"
NO_GROUP = "(none)"


@dataclass(frozen=True)
class _Agent:
    name: str
    division: str
    group: str


@dataclass
class _IndexEntry:
    sort_key: tuple[str, str, str]
    user_id: str
    name: str
    division: str
    group: str
    href: str
    presence: dict[str, int]
    routing: dict[str, int]


class IndexRow(NamedTuple):
    name: str
    user_id: str
    division: str
    href: str
    style: str
    cells: list[str]


def _tz_name(tz: str | tzinfo) -> str:
    return tz if isinstance(tz, str) else str(getattr(tz, "key", None) or getattr(tz, "name", None) or tz)


def _directory(users: TableSource | None, group_by: str | None) -> dict[str, _Agent]:
    """``user_id -> _Agent`` from the users table (first non-empty name wins)."""
    if users is None:
        if group_by is not None:
            raise ValueError(f"presence report: group_by={group_by!r} needs the users table as an input")
        return {}
    if group_by is not None and group_by not in users.schema.names:
        raise ValueError(
            f"presence report: group_by={group_by!r} is not a column of the users table "
            f"(columns: {users.schema.names})"
        )
    group_label = f"{group_by.removesuffix('_id')}_name" if group_by else None
    wanted = ["user_id", "name", "division_id", "division_name"]
    wanted += [c for c in (group_by, group_label) if c and c not in wanted]
    table = read_columns(users, wanted)
    columns = {c: table.column(c).to_pylist() for c in present(users, wanted)}
    out: dict[str, _Agent] = {}
    for i, user_id in enumerate(columns["user_id"]):
        if user_id is None:
            continue

        def value(column: str | None, i: int = i) -> str:
            return str(columns[column][i] or "") if column and column in columns else ""

        known = out.get(user_id)
        if known is not None and known.name:
            continue
        group = value(group_label) or value(group_by) or NO_GROUP
        out[user_id] = _Agent(value("name"), value("division_name") or value("division_id"), group)
    return out


def _labeler(definitions: TableSource | None) -> Labeler:
    if definitions is None:
        return Labeler({})
    rows = read_columns(definitions, ["presence_definition_id", "system_presence", "label"]).to_pylist()
    return Labeler(
        {
            r["presence_definition_id"]: (r.get("system_presence"), r.get("label"))
            for r in rows
            if r.get("presence_definition_id")
        }
    )


def _columns(entries: list[_IndexEntry]) -> list[dict[str, Any]]:
    """Index columns: the system presences then routing statuses that occur, in palette order."""
    columns = []
    for kind, palette, title in (
        ("presence", PRESENCE_COLORS, "Presence"),
        ("routing", ROUTING_COLORS, "Routing status"),
    ):
        seen = {code for e in entries for code in getattr(e, kind)}
        ordered = [c for c in palette if c in seen] + sorted(seen - set(palette))
        columns += [{"code": c, "kind": kind, "title": title, "color": color(c, palette)} for c in ordered]
    for number, column in enumerate(columns):
        column["key"] = f"c{number}"
    return columns


def _index_context(
    entries: list[_IndexEntry], columns: list[dict[str, Any]], header: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """Rows in name order, with CSS sort keys: per column the rank by time, longest first."""
    entries = sorted(entries, key=lambda e: e.sort_key)
    ranks: list[dict[int, int]] = []
    for column in columns:
        kind, code = column["kind"], column["code"]
        timed = [
            (-getattr(e, kind).get(code, 0), n) for n, e in enumerate(entries) if getattr(e, kind).get(code)
        ]
        ranks.append({n: rank for rank, (_, n) in enumerate(sorted(timed), start=1)})
    divisions = sorted({e.division for e in entries}, key=lambda d: (d == "", d.casefold(), d))
    division_rank = {d: n for n, d in enumerate(divisions)}
    rows = []
    for n, entry in enumerate(entries):
        keys = [f"--{column['key']}:{ranks[c][n]}" for c, column in enumerate(columns) if n in ranks[c]]
        if len(divisions) > 1:
            keys.append(f"--dv:{division_rank[entry.division]}")
        cells = [
            clock(getattr(entry, column["kind"]).get(column["code"], 0))
            if getattr(entry, column["kind"]).get(column["code"])
            else ""
            for column in columns
        ]
        rows.append(IndexRow(entry.name, entry.user_id, entry.division, entry.href, ";".join(keys), cells))
    return {
        **header,
        **extra,
        "columns": columns,
        "rows": rows,
        "agent_count": len(rows),
        "has_division": any(e.division for e in entries),
        "sort_division": len(divisions) > 1,
    }


def write_presence(
    sources: Mapping[str, TableSource | None],
    render: Renderer,
    *,
    main_name: str,
    run_date: str | datetime,
    interval_start: datetime,
    interval_end: datetime,
    tz: str | tzinfo,
    job_name: str = "Presence Detail Report",
    group_by: str | None = None,
    template: str = TEMPLATE,
    max_rows: int = DEFAULT_MAX_ROWS,
    spill_dir: str | None = None,
) -> Iterator[ReportFile]:
    """Yield the report's files: agent pages (and group pages), then the main page.

    :param sources: ``presence`` and ``routing_status`` (required), ``users`` and
        ``presence_definitions`` (optional: ``None`` shows user ids and system presences).
    :param render: renders a template name with a context.
    :param main_name: the main file's name (``presence.html``); secondary files go in
        ``presence_files/`` next to it.
    :param run_date: run date text, or a ``datetime`` printed like a JavaScript date in ``tz``.
    :param interval_start: start of the data interval (naive means UTC).
    :param interval_end: end of the data interval; open-ended records end here.
    :param tz: the zone every time is printed in.
    :param group_by: a ``users`` column (``division_id``) to render one index per group;
        a ``<name>_name`` column next to ``<name>_id`` labels the groups.
    :param max_rows: records held in memory at once (see :mod:`.presence_input`).
    :raises ValueError: when the interval is empty or reversed, or ``group_by`` is not a column.
    """
    start = interval_start if interval_start.tzinfo else interval_start.replace(tzinfo=UTC)
    end = interval_end if interval_end.tzinfo else interval_end.replace(tzinfo=UTC)
    if end <= start:
        raise ValueError(f"presence report: interval end {end.isoformat()} is not after its start")
    start_ms, end_ms = epoch_ms(start), epoch_ms(end)
    presence, routing = sources["presence"], sources["routing_status"]
    if presence is None or routing is None:
        raise ValueError("presence report needs the presence and routing_status tables")
    local = LocalClock(tz, start_ms, end_ms)
    labeler = _labeler(sources.get("presence_definitions"))
    agents = _directory(sources.get("users"), group_by)
    timeline = Timeline(start_ms, end_ms, local)
    header = {
        "job_name": job_name,
        "run_date": js_date_string(run_date, tz) if isinstance(run_date, datetime) else run_date,
        "interval": interval_text(start, end, tz),
        "interval_length": clock(end_ms - start_ms),
        "tz_name": _tz_name(tz),
        "index_href": f"../{main_name}",
    }

    entries: list[_IndexEntry] = []
    records = spans_drawn = 0
    for user in iter_user_records(presence, routing, max_rows=max_rows, spill_dir=spill_dir):
        agent = agents.get(user.user_id) or _Agent("", "", NO_GROUP)
        name = agent.name or user.user_id
        p_spans = to_spans(user.presence, "presence", labeler, start_ms, end_ms)
        r_spans = to_spans(user.routing, "routing", labeler, start_ms, end_ms)
        records += len(user.presence) + len(user.routing)
        spans_drawn += len(p_spans) + len(r_spans)
        page = render(
            AGENT_TEMPLATE,
            {
                **header,
                "title": f"{name} - {job_name}",
                "agent": {
                    "name": name,
                    "user_id": user.user_id,
                    "division": agent.division,
                    "group": agent.group,
                },
                "presence_totals": total_rows(p_spans, start_ms, end_ms, PRESENCE_COLORS),
                "routing_totals": total_rows(r_spans, start_ms, end_ms, ROUTING_COLORS),
                "timeline": {
                    **timeline.frame,
                    "lanes": [
                        timeline.lane(0, "Presence", p_spans, PRESENCE_COLORS),
                        timeline.lane(1, "Routing status", r_spans, ROUTING_COLORS),
                    ],
                },
                "presence_rows": span_rows(p_spans, local),
                "routing_rows": span_rows(r_spans, local),
            },
        ).encode("utf-8")
        file_name = content_name(main_name, page)
        yield ReportFile(file_name, page)
        entries.append(
            _IndexEntry(
                (name.casefold(), name, user.user_id),
                user.user_id,
                name,
                agent.division,
                agent.group,
                file_name,
                totals(p_spans, start_ms, end_ms, by="code"),
                totals(r_spans, start_ms, end_ms, by="code"),
            )
        )

    columns = _columns(entries)
    summary: dict[str, Any] = {"agents": len(entries), "records": records, "spans": spans_drawn}
    if group_by is None:
        context = _index_context(
            entries, columns, header, title=job_name, group=None, up_href=None, href_prefix=""
        )
        yield ReportFile(main_name, render(template, context).encode("utf-8"), main=True, summary=summary)
        return
    groups = []
    for group in sorted({e.group for e in entries}, key=lambda g: (g == NO_GROUP, g.casefold(), g)):
        members = [e for e in entries if e.group == group]
        context = _index_context(
            members,
            columns,
            header,
            title=f"{job_name} - {group}",
            group=group,
            up_href=f"../{main_name}",
            # Group pages live in the same folder as the agent pages.
            href_prefix="../",
        )
        page = render(template, context).encode("utf-8")
        file_name = content_name(main_name, page, prefix="group-")
        yield ReportFile(file_name, page)
        groups.append({"name": group, "agent_count": len(members), "href": file_name})
    context = {
        **header,
        "title": job_name,
        "groups": groups,
        "agent_count": len(entries),
        "group_by": group_by,
    }
    summary["groups"] = len(groups)
    yield ReportFile(main_name, render(GROUPS_TEMPLATE, context).encode("utf-8"), main=True, summary=summary)
