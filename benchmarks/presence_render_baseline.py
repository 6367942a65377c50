"""The single-file presence renderer, as it was before the report became an index and agent pages.

Kept verbatim (builder and template) only as the baseline of ``presence_render.py``: every
table is read whole and turned into Python rows, and every agent goes into one HTML file.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import pyarrow as pa

from contact_center_provider.transforms.reports.formatting import (
    humanize_duration,
    interval_text,
    iso_local,
    js_date_string,
    local_text,
    to_local,
)
from contact_center_provider.transforms.reports.tables import rows_of

__all__ = ["LEGACY_TEMPLATE", "legacy_presence_context"]


# Colours and SVG geometry are the current model's: only the single-file layout is legacy.
from contact_center_provider.transforms.reports.presence_model import (
    _FALLBACK_COLORS,
    _TICK_STEPS_S,
    AXIS_GAP,
    LANE_GAP,
    LANE_HEIGHT,
    LANE_TOP,
    MAX_TICKS,
    MIN_RECT_WIDTH,
    PRESENCE_COLORS,
    ROUTING_COLORS,
    SVG_LABEL_WIDTH,
    SVG_RIGHT_MARGIN,
    SVG_WIDTH,
    TICK_LABEL_HEIGHT,
)


@dataclass(frozen=True)
class _Event:
    kind: str  # "presence" | "routing"
    label: str
    code: str  # the system presence / routing status that picks the colour
    start: datetime
    end: datetime
    open_ended: bool
    order: int  # table order, to keep the sort stable across kinds


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _ms(delta: timedelta) -> int:
    return (delta.days * 86_400_000) + (delta.seconds * 1000) + (delta.microseconds // 1000)


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _color(code: str, palette: dict[str, str]) -> str:
    if code in palette:
        return palette[code]
    return _FALLBACK_COLORS[zlib.crc32(code.encode()) % len(_FALLBACK_COLORS)]


def _events(
    presence: Iterable[dict[str, Any]],
    routing: Iterable[dict[str, Any]],
    definitions: dict[str, dict[str, Any]],
    interval_start: datetime,
    interval_end: datetime,
) -> dict[str, list[_Event]]:
    by_user: dict[str, list[_Event]] = {}
    order = 0

    def add(user_id: str, kind: str, label: str, code: str, row: dict[str, Any]) -> None:
        nonlocal order
        start = _aware(row["start_time"]) if row.get("start_time") is not None else interval_start
        open_ended = row.get("end_time") is None
        end = max(start, interval_end) if open_ended else _aware(row["end_time"])
        by_user.setdefault(user_id, []).append(_Event(kind, label, code, start, end, open_ended, order))
        order += 1

    for row in presence:
        system = row.get("system_presence") or ""
        definition = definitions.get(row.get("organization_presence_id") or "")
        label = (definition or {}).get("label") or system or "Unknown"
        code = system or (definition or {}).get("system_presence") or label
        add(row["user_id"], "presence", label, code, row)
    for row in routing:
        status = row.get("routing_status") or "Unknown"
        add(row["user_id"], "routing", status, status, row)
    for events in by_user.values():
        events.sort(key=lambda e: (e.start, e.kind != "presence", e.order))
    return by_user


def _totals(
    events: list[_Event], kind: str, start: datetime, end: datetime, palette: dict[str, str]
) -> list[dict[str, Any]]:
    span_ms = max(_ms(end - start), 1)
    totals: dict[str, int] = {}
    codes: dict[str, str] = {}
    for event in events:
        if event.kind != kind:
            continue
        clipped = _ms(min(event.end, end) - max(event.start, start))
        totals[event.label] = totals.get(event.label, 0) + max(clipped, 0)
        codes.setdefault(event.label, event.code)
    return [
        {
            "label": label,
            "ms": ms,
            "duration": humanize_duration(ms),
            "clock": _clock(ms),
            "percent": f"{100 * ms / span_ms:.1f}",
            "color": _color(codes[label], palette),
        }
        for label, ms in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    ]


def _ticks(start: datetime, end: datetime, tz: str | tzinfo, scale: float) -> list[dict[str, Any]]:
    span_s = (end - start).total_seconds()
    step = next((s for s in _TICK_STEPS_S if span_s / s <= MAX_TICKS), _TICK_STEPS_S[-1])
    offset_s = (to_local(start, tz).utcoffset() or timedelta(0)).total_seconds()
    first = math.ceil((start.timestamp() + offset_s) / step) * step - offset_s
    multi_day = span_s > 86400
    ticks = []
    t = first
    while t <= end.timestamp() + 1e-6:
        local = to_local(datetime.fromtimestamp(t, UTC), tz)
        label = local.strftime("%m-%d %H:%M" if multi_day else "%H:%M")
        ticks.append({"x": round(SVG_LABEL_WIDTH + (t - start.timestamp()) * scale, 2), "label": label})
        t += step
    return ticks


def _timeline(events: list[_Event], start: datetime, end: datetime, tz: str | tzinfo) -> dict[str, Any]:
    plot_width = SVG_WIDTH - SVG_LABEL_WIDTH - SVG_RIGHT_MARGIN
    scale = plot_width / max((end - start).total_seconds(), 1e-3)
    lanes = []
    for index, (kind, title, palette) in enumerate(
        (("presence", "Presence", PRESENCE_COLORS), ("routing", "Routing status", ROUTING_COLORS))
    ):
        y = LANE_TOP + index * (LANE_HEIGHT + LANE_GAP)
        rects = []
        for event in events:
            if event.kind != kind:
                continue
            left, right = max(event.start, start), min(event.end, end)
            if right < left:
                continue
            x = SVG_LABEL_WIDTH + (left - start).total_seconds() * scale
            width = max((right - left).total_seconds() * scale, MIN_RECT_WIDTH)
            tooltip = (
                f"{event.label}: {to_local(event.start, tz):%H:%M:%S} - "
                f"{to_local(event.end, tz):%H:%M:%S}{' (open)' if event.open_ended else ''}"
                f" ({humanize_duration(_ms(event.end - event.start))})"
            )
            rects.append(
                {
                    "x": round(x, 2),
                    "y": y,
                    "width": round(width, 2),
                    "height": LANE_HEIGHT,
                    "color": _color(event.code, palette),
                    "title": tooltip,
                }
            )
        lanes.append(
            {"label": title, "y": y, "height": LANE_HEIGHT, "text_y": y + LANE_HEIGHT / 2 + 5, "rects": rects}
        )
    axis_y = LANE_TOP + 2 * LANE_HEIGHT + LANE_GAP + AXIS_GAP
    return {
        "width": SVG_WIDTH,
        "height": axis_y + TICK_LABEL_HEIGHT + 4,
        "plot_x": SVG_LABEL_WIDTH,
        "plot_right": SVG_LABEL_WIDTH + plot_width,
        "axis_y": axis_y,
        "tick_label_y": axis_y + TICK_LABEL_HEIGHT - 2,
        "lane_top": LANE_TOP,
        "lanes": lanes,
        "ticks": _ticks(start, end, tz, scale),
    }


def legacy_presence_context(
    presence: pa.Table,
    routing_status: pa.Table,
    users: pa.Table | None,
    presence_definitions: pa.Table | None,
    *,
    interval_start: datetime,
    interval_end: datetime,
    tz: str | tzinfo,
    job_name: str,
    run_date: str | datetime,
) -> dict[str, Any]:
    """Build the ``presence.html.j2`` context.

    :param users: user lookup (``user_id``, ``name``); ``None`` shows ids only.
    :param presence_definitions: org presence definitions for labels; ``None`` shows system presences.
    :param interval_start: start of the data interval (naive means UTC).
    :param interval_end: end of the data interval; open-ended records end here.
    :param tz: time zone for printed times.
    :param run_date: run date text, or a ``datetime`` printed like a JavaScript date in ``tz``.
    :returns: ``{"title", "job_name", "run_date", "interval", "tz_name", "user_count", "users": [{"anchor",
        "user_id", "name", "events": [{"kind", "label", "start", "end", "start_iso", "end_iso", "open", "duration_ms",
        "duration"}], "presence_totals", "routing_totals", "timeline"}]}``.
    :raises ValueError: when the interval is empty or reversed.
    """
    start, end = _aware(interval_start), _aware(interval_end)
    if end <= start:
        raise ValueError(f"presence report: interval end {end.isoformat()} is not after its start")
    if isinstance(run_date, datetime):
        run_date = js_date_string(run_date, tz)

    names: dict[str, str] = {}
    for row in rows_of(users):
        if row.get("name") and row["user_id"] not in names:
            names[row["user_id"]] = row["name"]
    definitions = {
        row["presence_definition_id"]: row
        for row in rows_of(presence_definitions)
        if row.get("presence_definition_id")
    }
    by_user = _events(rows_of(presence), rows_of(routing_status), definitions, start, end)
    ordered = sorted(by_user.items(), key=lambda item: (item[1][0].start, item[0]))

    users_out = []
    for index, (user_id, events) in enumerate(ordered, start=1):
        users_out.append(
            {
                "anchor": f"user-{index}",
                "user_id": user_id,
                "name": names.get(user_id, user_id),
                "events": [
                    {
                        "kind": e.kind,
                        "label": e.label,
                        "start": local_text(e.start, tz),
                        "end": local_text(e.end, tz),
                        "start_iso": iso_local(e.start, tz),
                        "end_iso": iso_local(e.end, tz),
                        "open": e.open_ended,
                        "duration_ms": _ms(e.end - e.start),
                        "duration": humanize_duration(_ms(e.end - e.start)),
                    }
                    for e in events
                ],
                "presence_totals": _totals(events, "presence", start, end, PRESENCE_COLORS),
                "routing_totals": _totals(events, "routing", start, end, ROUTING_COLORS),
                "timeline": _timeline(events, start, end, tz),
            }
        )
    return {
        "title": job_name,
        "job_name": job_name,
        "run_date": run_date,
        "interval": interval_text(start, end, tz),
        "tz_name": str(tz),
        "user_count": len(users_out),
        "users": users_out,
    }


LEGACY_TEMPLATE = """{#-
  Presence report. Autoescaped (.html.j2): never mark data |safe.
  The user selector is a list of in-page links; CSS :target shows only the chosen
  user (all users when none is chosen), so no script is needed.
  Variables: title, job_name, run_date, interval, user_count, users (each with anchor,
  user_id, name, events, presence_totals, routing_totals, timeline).
-#}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 2rem; color: #222; }
  h1 small { color: #666; font-size: 0.6em; font-weight: normal; }
  h2 small { color: #777; font-size: 0.6em; font-weight: normal; }
  .meta { color: #444; margin: 0.2rem 0 1rem; }
  nav.users { border-bottom: 1px solid #ccc; padding-bottom: 0.5rem; margin-bottom: 1rem; }
  nav.users ul { list-style: none; display: inline; margin: 0; padding: 0; }
  nav.users li { display: inline-block; margin: 0.15rem 0.3rem; }
  nav.users a { text-decoration: none; padding: 0.15rem 0.5rem; border: 1px solid #c5cfdc; border-radius: 3px; color: #1a4b8c; }
  nav.users a:hover { background: #eef3fa; }
  main:has(section.user:target) section.user:not(:target) { display: none; }
  section.user { border-top: 2px solid #dde6f3; padding-top: 0.5rem; margin-bottom: 2rem; }
  section.user:target { border-top-color: #1e88e5; }
  svg.timeline { width: 100%; height: auto; max-width: 1100px; display: block; margin: 0.5rem 0; }
  svg.timeline .lane-bg { fill: #f3f4f6; }
  svg.timeline .lane-label, svg.timeline .tick-label { font-size: 12px; fill: #444; font-family: inherit; }
  svg.timeline .axis { stroke: #888; stroke-width: 1; }
  svg.timeline .tick { stroke: #bbb; stroke-width: 1; }
  .totals { display: flex; flex-wrap: wrap; gap: 2rem; }
  table { border-collapse: collapse; margin: 0.5rem 0; }
  th, td { border: 1px solid #ccc; padding: 0.3rem 0.55rem; text-align: left; }
  thead th { background: #f0f2f5; }
  td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
  caption { text-align: left; font-weight: 600; padding-bottom: 0.25rem; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.35em; vertical-align: baseline; border: 1px solid #0003; }
  .empty { color: #666; font-style: italic; }
  .open { color: #888; font-size: 0.85em; }
</style>
</head>
<body>
<header class="page-header">
  <h1>{{ job_name }} <small>{{ interval }}</small></h1>
  <p class="meta">Run date: {{ run_date }} &middot; Users: {{ user_count }} &middot; Times in {{ tz_name }}</p>
</header>
<nav class="users" aria-label="Users">
  <strong>User:</strong>
  <ul>
    <li><a href="#">All users</a></li>
  {% for user in users %}
    <li><a href="#{{ user.anchor }}">{{ user.name }}</a></li>
  {% endfor %}
  </ul>
</nav>
<main>
{% for user in users %}
{% set t = user.timeline %}
<section class="user" id="{{ user.anchor }}">
  <h2>{{ user.name }}{% if user.name != user.user_id %} <small>{{ user.user_id }}</small>{% endif %}</h2>
  <svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{ t.width }} {{ t.height }}" role="img" aria-label="Timeline of {{ user.name }}">
  {% for lane in t.lanes %}
    <text class="lane-label" x="0" y="{{ lane.text_y }}">{{ lane.label }}</text>
    <rect class="lane-bg" x="{{ t.plot_x }}" y="{{ lane.y }}" width="{{ t.plot_right - t.plot_x }}" height="{{ lane.height }}"></rect>
    {% for rect in lane.rects %}
    <rect x="{{ rect.x }}" y="{{ rect.y }}" width="{{ rect.width }}" height="{{ rect.height }}" fill="{{ rect.color }}"><title>{{ rect.title }}</title></rect>
    {% endfor %}
  {% endfor %}
    <line class="axis" x1="{{ t.plot_x }}" y1="{{ t.axis_y }}" x2="{{ t.plot_right }}" y2="{{ t.axis_y }}"></line>
  {% for tick in t.ticks %}
    <line class="tick" x1="{{ tick.x }}" y1="{{ t.lane_top }}" x2="{{ tick.x }}" y2="{{ t.axis_y + 4 }}"></line>
    <text class="tick-label" x="{{ tick.x }}" y="{{ t.tick_label_y }}" text-anchor="middle">{{ tick.label }}</text>
  {% endfor %}
  </svg>
  <div class="totals">
  {% for heading, totals in [("Presence", user.presence_totals), ("Routing status", user.routing_totals)] %}
    <table>
      <caption>Time in each {{ heading | lower }} within the interval</caption>
      <thead><tr><th scope="col">{{ heading }}</th><th scope="col">Total</th><th scope="col">h:mm:ss</th><th scope="col">%</th></tr></thead>
      <tbody>
      {% for total in totals %}
        <tr><td><span class="swatch" style="background: {{ total.color }}"></span>{{ total.label }}</td><td>{{ total.duration }}</td><td class="num">{{ total.clock }}</td><td class="num">{{ total.percent }}</td></tr>
      {% else %}
        <tr><td class="empty" colspan="4">None</td></tr>
      {% endfor %}
      </tbody>
    </table>
  {% endfor %}
  </div>
  <details open>
    <summary>Events ({{ user.events | length }})</summary>
    <table class="events">
      <thead>
        <tr>
          <th scope="col">Presence</th><th scope="col">Start Time</th><th scope="col">End Time</th><th scope="col">Duration</th>
          <th scope="col">Routing Status</th><th scope="col">Start Time</th><th scope="col">End Time</th><th scope="col">Duration</th>
        </tr>
      </thead>
      <tbody>
      {% for event in user.events %}
        <tr class="{{ event.kind }}">
        {% if event.kind == "presence" %}
          <td>{{ event.label }}</td><td class="time"><time datetime="{{ event.start_iso }}" title="{{ event.start_iso }}">{{ event.start }}</time></td><td class="time"><time datetime="{{ event.end_iso }}" title="{{ event.end_iso }}">{{ event.end }}</time>{% if event.open %} <span class="open">(open)</span>{% endif %}</td><td>{{ event.duration }}</td>
          <td></td><td></td><td></td><td></td>
        {% else %}
          <td></td><td></td><td></td><td></td>
          <td>{{ event.label }}</td><td class="time"><time datetime="{{ event.start_iso }}" title="{{ event.start_iso }}">{{ event.start }}</time></td><td class="time"><time datetime="{{ event.end_iso }}" title="{{ event.end_iso }}">{{ event.end }}</time>{% if event.open %} <span class="open">(open)</span>{% endif %}</td><td>{{ event.duration }}</td>
        {% endif %}
        </tr>
      {% endfor %}
      </tbody>
    </table>
  </details>
</section>
{% else %}
<p class="empty">No presence or routing status records in this interval.</p>
{% endfor %}
</main>
</body>
</html>
"""
