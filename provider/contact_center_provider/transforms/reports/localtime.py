"""Epoch milliseconds printed in the report's time zone, fast enough for millions of values.

The tables store every timestamp in UTC; a report prints them in the user's zone. A
zone's offset changes only at its transitions (DST), so :class:`LocalClock` caches the
offset per UTC hour and computes exactly only for an hour that holds a transition.
Intervals that contain an offset change (the DST days) print the offset next to each
time, because the same wall-clock time can then name two instants.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from contact_center_provider.transforms.reports.formatting import resolve_tz

__all__ = ["HOUR_MS", "LocalClock", "clock", "epoch_ms"]

HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1)
_MIXED = -(2**62)  # cache marker: the hour holds a transition


def epoch_ms(dt: datetime) -> int:
    """Milliseconds since the epoch of ``dt`` (naive means UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def clock(ms: int) -> str:
    """An exact duration as ``h:mm:ss`` (hours unbounded; sub-second part dropped)."""
    sign = "-" if ms < 0 else ""
    seconds = abs(ms) // 1000
    return f"{sign}{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _offset_text(offset_ms: int) -> str:
    sign = "-" if offset_ms < 0 else "+"
    minutes = abs(offset_ms) // 60_000
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


class LocalClock:
    """Print epoch milliseconds in one time zone.

    :param tz: IANA name or ``tzinfo``.
    :param start_ms: interval start; with ``end_ms`` decides whether times carry their offset.
    :param end_ms: interval end.
    """

    def __init__(self, tz: str | tzinfo, start_ms: int, end_ms: int) -> None:
        self.tz = resolve_tz(tz)
        self._hours: dict[int, int] = {}
        self._stamps: dict[int, tuple[str, str]] = {}
        #: True when the zone's offset changes inside the interval (times then show it).
        self.offset_changes = self._changes(start_ms, end_ms)

    def _exact(self, ms: int) -> int:
        moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(self.tz)
        offset = moment.utcoffset() or timedelta(0)
        return offset.days * 86_400_000 + offset.seconds * 1000

    def offset(self, ms: int) -> int:
        """The zone's UTC offset at ``ms``, in milliseconds."""
        hour = ms // HOUR_MS
        cached = self._hours.get(hour)
        if cached is None:
            first, last = self._exact(hour * HOUR_MS), self._exact(hour * HOUR_MS + HOUR_MS - 1)
            cached = first if first == last else _MIXED
            self._hours[hour] = cached
        return self._exact(ms) if cached == _MIXED else cached

    def _changes(self, start_ms: int, end_ms: int) -> bool:
        first = self.offset(start_ms)
        # Hourly probes find any change; a year is 8,760 cached look-ups.
        return any(self.offset(ms) != first for ms in range(start_ms, end_ms + 1, HOUR_MS)) or (
            self.offset(end_ms) != first
        )

    def stamp(self, ms: int) -> tuple[str, str]:
        """``(text(ms), time_text(ms))``, cached: a span's end is the next span's start."""
        cached = self._stamps.get(ms)
        if cached is None:
            if len(self._stamps) > 100_000:
                self._stamps.clear()
            cached = self._stamps[ms] = (self.text(ms), self.time_text(ms))
        return cached

    def local(self, ms: int) -> datetime:
        """The naive wall-clock time of ``ms``."""
        return _EPOCH + timedelta(milliseconds=ms + self.offset(ms))

    def text(self, ms: int) -> str:
        """``YYYY-MM-DD HH:mm:ss``, plus `` ±hhmm`` when the interval crosses an offset change."""
        d = self.local(ms)
        text = f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"
        return f"{text} {_offset_text(self.offset(ms))}" if self.offset_changes else text

    def time_text(self, ms: int) -> str:
        """``HH:mm:ss`` (plus the offset when the interval crosses a change), for tooltips."""
        d = self.local(ms)
        text = f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
        return f"{text} {_offset_text(self.offset(ms))}" if self.offset_changes else text

    def iso(self, ms: int) -> str:
        """``YYYY-MM-DDTHH:mm:ss.SSS±hhmm`` (the form of the report's interval line)."""
        d = self.local(ms)
        return (
            f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
            f".{d.microsecond // 1000:03d}{_offset_text(self.offset(ms))}"
        )

    def hour_start(self, ms: int) -> int:
        """The instant the local hour holding ``ms`` began (a repeated DST hour is its own hour)."""
        offset = self.offset(ms)
        return (ms + offset) // HOUR_MS * HOUR_MS - offset

    def ticks(self, start_ms: int, end_ms: int, step_s: int) -> list[tuple[int, str]]:
        """Instants in ``[start, end]`` where the local wall clock is a multiple of ``step_s``.

        Steps are taken on the wall clock, so a 3-hour grid stays on 00:00, 03:00, ... on
        both sides of a DST change; a wall time skipped by the change gets no tick.
        """
        step_ms = step_s * 1000
        # A DST day lasts 25 hours and still shows one date.
        multi_day = end_ms - start_ms > 26 * HOUR_MS
        ticks: list[tuple[int, str]] = []
        wall = (start_ms + self.offset(start_ms)) // step_ms * step_ms
        if wall < start_ms + self.offset(start_ms):
            wall += step_ms
        while wall <= end_ms + 15 * HOUR_MS:
            # The offsets in force around this wall time; a repeated hour maps to the earlier instant,
            # a skipped one to none.
            offsets = {self.offset(wall + shift) for shift in (-15 * HOUR_MS, 0, 15 * HOUR_MS)}
            instant = min(
                (wall - o for o in offsets if wall - o + self.offset(wall - o) == wall), default=None
            )
            if instant is not None and start_ms <= instant <= end_ms:
                d = self.local(instant)
                label = f"{d.hour:02d}:{d.minute:02d}"
                ticks.append((instant, f"{d.month:02d}-{d.day:02d} {label}" if multi_day else label))
            wall += step_ms
        return ticks
