"""One agent's presence and routing status as spans, totals and a timeline (pure, no I/O).

Records are sorted chronologically (table order breaks ties); consecutive records of
the same status that touch or overlap are merged into one *span* (the API often
repeats a routing status back to back), and both the event tables and the timeline
show spans. A record without a start begins at the interval start; a record still
open (no end) ends at the interval end. A span's duration is its full length, as the
Open Data Exporter printed it; totals count only the part inside the interval, so they
add up to the interval's real length even on a 23- or 25-hour DST day.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from contact_center_provider.transforms.reports.formatting import humanize_duration
from contact_center_provider.transforms.reports.localtime import LocalClock, clock

__all__ = [
    "PRESENCE_COLORS",
    "ROUTING_COLORS",
    "Labeler",
    "Rect",
    "Span",
    "SpanRow",
    "Timeline",
    "TotalRow",
    "color",
    "merge_spans",
    "span_rows",
    "to_spans",
    "totals",
]

#: Fill colours by Genesys system presence (a custom definition uses its system presence's).
PRESENCE_COLORS = {
    "AVAILABLE": "#43a047",
    "ON_QUEUE": "#1e88e5",
    "BUSY": "#e53935",
    "MEETING": "#d81b60",
    "AWAY": "#fb8c00",
    "BREAK": "#fdd835",
    "MEAL": "#f4511e",
    "TRAINING": "#8e24aa",
    "IDLE": "#90a4ae",
    "OFFLINE": "#bdbdbd",
}
#: Fill colours by routing status.
ROUTING_COLORS = {
    "OFF_QUEUE": "#bdbdbd",
    "IDLE": "#81c784",
    "INTERACTING": "#1e88e5",
    "COMMUNICATING": "#8e24aa",
    "NOT_RESPONDING": "#e53935",
}
_FALLBACK_COLORS = ("#6d4c41", "#00897b", "#5e35b1", "#c0ca33", "#3949ab", "#00acc1", "#7cb342")

# SVG geometry (user units of the viewBox; the picture scales to the page width).
SVG_WIDTH = 1000
SVG_LABEL_WIDTH = 130
SVG_RIGHT_MARGIN = 25
LANE_HEIGHT = 26
LANE_GAP = 8
LANE_TOP = 8
AXIS_GAP = 6
TICK_LABEL_HEIGHT = 18
MIN_RECT_WIDTH = 0.5
_TICK_STEPS_S = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
MAX_TICKS = 8

Record = tuple[int | None, int | None, str | None, str | None]


# Rows handed to templates are named tuples: Jinja reads their attributes directly,
# where a dict costs it a failed getattr first.
class TotalRow(NamedTuple):
    label: str
    ms: int
    clock: str
    duration: str
    percent: str
    color: str


class SpanRow(NamedTuple):
    label: str
    start: str
    end: str
    open: bool
    clock: str
    duration: str
    records: int


class Rect(NamedTuple):
    x: str
    width: str
    color: str
    title: str


def color(code: str, palette: Mapping[str, str]) -> str:
    """The status's colour; an unknown status gets a stable colour from its name."""
    if code in palette:
        return palette[code]
    return _FALLBACK_COLORS[zlib.crc32(code.encode()) % len(_FALLBACK_COLORS)]


class Labeler:
    """Names a presence record: the org's definition label when its id resolves, else the system presence.

    :param definitions: ``presence_definition_id -> (system_presence, label)``.
    """

    def __init__(self, definitions: Mapping[str, tuple[str | None, str | None]]) -> None:
        self._definitions = definitions

    def presence(self, system: str | None, definition_id: str | None) -> tuple[str, str]:
        """``(label, code)``; the code (system presence) picks the colour and the index column."""
        system_of, label_of = self._definitions.get(definition_id or "", (None, None))
        label = label_of or system or "Unknown"
        return label, system or system_of or label

    @staticmethod
    def routing(status: str | None) -> tuple[str, str]:
        label = status or "Unknown"
        return label, label


@dataclass(slots=True)
class Span:
    """Consecutive records of one status, merged. Times are epoch milliseconds."""

    label: str
    code: str
    start: int
    end: int
    open_ended: bool
    records: int = 1


def merge_spans(items: Iterable[tuple[int, int, bool, str, str]]) -> list[Span]:
    """Merge chronologically sorted ``(start, end, open, label, code)`` into spans.

    Records merge when they have the same label and the next starts before or when the
    current one ends; a gap (no record) keeps two spans apart so it stays visible.
    """
    spans: list[Span] = []
    for start, end, open_ended, label, code in items:
        last = spans[-1] if spans else None
        if last is not None and last.label == label and start <= last.end:
            if end >= last.end:
                last.end, last.open_ended = end, open_ended
            last.records += 1
        else:
            spans.append(Span(label, code, start, end, open_ended))
    return spans


def to_spans(
    records: Iterable[Record], kind: str, labeler: Labeler, start_ms: int, end_ms: int
) -> list[Span]:
    """Turn one user's raw records of ``kind`` (``presence`` | ``routing``) into merged spans."""
    items = []
    for order, (start, end, status, definition_id) in enumerate(records):
        begin = start_ms if start is None else start
        open_ended = end is None
        finish = max(begin, end_ms) if end is None else end
        label, code = (
            labeler.presence(status, definition_id) if kind == "presence" else labeler.routing(status)
        )
        items.append((begin, order, finish, open_ended, label, code))
    items.sort(key=lambda item: (item[0], item[1]))
    return merge_spans((b, f, o, label, code) for b, _, f, o, label, code in items)


def totals(spans: Iterable[Span], start_ms: int, end_ms: int, by: str = "label") -> dict[str, int]:
    """Milliseconds inside ``[start, end)`` per label (or per ``code``)."""
    out: dict[str, int] = {}
    for span in spans:
        inside = min(span.end, end_ms) - max(span.start, start_ms)
        if inside > 0:
            key = span.label if by == "label" else span.code
            out[key] = out.get(key, 0) + inside
    return out


def total_rows(spans: list[Span], start_ms: int, end_ms: int, palette: Mapping[str, str]) -> list[TotalRow]:
    """Rows of a totals table, longest first: label, exact ``h:mm:ss``, humanised, percent, colour."""
    span_ms = max(end_ms - start_ms, 1)
    codes = {span.label: span.code for span in spans}
    by_label = totals(spans, start_ms, end_ms)
    return [
        TotalRow(
            label,
            ms,
            clock(ms),
            humanize_duration(ms),
            f"{100 * ms / span_ms:.1f}",
            color(codes[label], palette),
        )
        for label, ms in sorted(by_label.items(), key=lambda item: (-item[1], item[0]))
    ]


def span_rows(spans: list[Span], local: LocalClock) -> list[SpanRow]:
    """Rows of an events table: the original exporter's status, start, end and duration per span."""
    return [
        SpanRow(
            s.label,
            local.stamp(s.start)[0],
            local.stamp(s.end)[0],
            s.open_ended,
            clock(s.end - s.start),
            humanize_duration(s.end - s.start),
            s.records,
        )
        for s in spans
    ]


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


class Timeline:
    """The SVG geometry of one interval, shared by every agent's picture.

    :param start_ms: interval start.
    :param end_ms: interval end.
    :param local: the report's clock (ticks fall on round local times).
    """

    def __init__(self, start_ms: int, end_ms: int, local: LocalClock) -> None:
        self.start_ms, self.end_ms, self._local = start_ms, end_ms, local
        plot_width = SVG_WIDTH - SVG_LABEL_WIDTH - SVG_RIGHT_MARGIN
        self._scale = plot_width / max(end_ms - start_ms, 1)
        span_s = (end_ms - start_ms) / 1000
        step = next((s for s in _TICK_STEPS_S if span_s / s <= MAX_TICKS), _TICK_STEPS_S[-1])
        axis_y = LANE_TOP + 2 * LANE_HEIGHT + LANE_GAP + AXIS_GAP
        self.frame: dict[str, Any] = {
            "width": SVG_WIDTH,
            "height": axis_y + TICK_LABEL_HEIGHT + 4,
            "plot_x": SVG_LABEL_WIDTH,
            "plot_right": SVG_LABEL_WIDTH + plot_width,
            "plot_width": plot_width,
            "axis_y": axis_y,
            "tick_label_y": axis_y + TICK_LABEL_HEIGHT - 2,
            "lane_top": LANE_TOP,
            "lane_height": LANE_HEIGHT,
            "ticks": [
                {"x": _num(self._x(instant)), "label": label}
                for instant, label in local.ticks(start_ms, end_ms, step)
            ],
        }

    def _x(self, ms: int) -> float:
        return SVG_LABEL_WIDTH + (ms - self.start_ms) * self._scale

    def lane(self, index: int, title: str, spans: list[Span], palette: Mapping[str, str]) -> dict[str, Any]:
        """One lane: a rectangle per span (clipped to the interval), with a tooltip."""
        y = LANE_TOP + index * (LANE_HEIGHT + LANE_GAP)
        rects = []
        for span in spans:
            left, right = max(span.start, self.start_ms), min(span.end, self.end_ms)
            if right < left:
                continue
            width = max((right - left) * self._scale, MIN_RECT_WIDTH)
            tooltip = (
                f"{span.label}: {self._local.stamp(span.start)[1]} - {self._local.stamp(span.end)[1]}"
                f"{' (open)' if span.open_ended else ''} ({clock(span.end - span.start)})"
            )
            rects.append(
                {
                    "x": _num(self._x(left)),
                    "width": _num(width),
                    "color": color(span.code, palette),
                    "title": tooltip,
                }
            )
        return {"label": title, "y": y, "text_y": y + LANE_HEIGHT // 2 + 5, "rects": rects}
