"""Value formatting shared by the report builders (pure, no Airflow imports).

Dates
    :func:`js_date_string` prints a moment like JavaScript's ``Date.toString()``
    without the trailing zone name (``Fri Jan 13 2017 10:56:45 GMT-0700``), and
    :func:`interval_text` prints an interval the way the Open Data Exporter did
    (``2017-01-13T10:40:00.000-0700/2017-01-13T10:50:00.000-0700``; UTC prints
    ``+0000``). A naive ``datetime`` is taken to be UTC, which is how every
    timestamp in our tables is stored.

Durations
    :func:`humanize_duration` reproduces moment.js ``duration.humanize()`` with its
    default thresholds, in English (``a few seconds``, ``a minute``, ``5 minutes``,
    ``an hour``, ...).

Cells of the pipe-delimited abandon file
    A value written into a field of the flat text file goes through
    :func:`flat_text_field`, which keeps the one-line, one-record, ``|``-delimited
    structure intact whatever the vendor sent:

    * a missing value (``None``) becomes an empty field (the original printed
      ``undefined``);
    * every run of line-breaking or tab characters (CR, LF, TAB, VT, FF, the
      file/group/record separators U+001C..U+001E, NEL U+0085, and the Unicode
      line/paragraph separators U+2028/U+2029) becomes a single space;
    * ``|`` becomes ``¦`` (U+00A6 BROKEN BAR), so a field never splits in two;
    * finally the value is neutralised against spreadsheet formula injection by
      :func:`neutralize_cell`: a value starting with ``=``, ``+``, ``-``, ``@``,
      TAB or CR gets a leading ``'`` (so ``=HYPERLINK(...)`` is written as
      ``'=HYPERLINK(...)``).

    The file is UTF-8. Nothing is quoted, as in the original layout.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

__all__ = [
    "flat_text_field",
    "format_offset",
    "humanize_duration",
    "interval_text",
    "iso_local",
    "js_date_string",
    "local_text",
    "neutralize_cell",
    "one_line",
    "resolve_tz",
    "to_local",
]

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: First characters a spreadsheet may read as the start of a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_LINE_BREAKS = re.compile("[\r\n\t\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")


def resolve_tz(tz: str | tzinfo) -> tzinfo:
    """Return a ``tzinfo`` for an IANA name (``"America/Denver"``) or pass one through."""
    if isinstance(tz, str):
        return UTC if tz.upper() == "UTC" else ZoneInfo(tz)
    return tz


def to_local(dt: datetime, tz: str | tzinfo) -> datetime:
    """Convert ``dt`` (naive means UTC) to the time zone ``tz``."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(resolve_tz(tz))


def format_offset(dt: datetime) -> str:
    """Return the UTC offset of an aware ``dt`` as ``±hhmm`` (no colon; UTC is ``+0000``)."""
    offset = dt.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def js_date_string(dt: datetime, tz: str | tzinfo) -> str:
    """Format ``dt`` in ``tz`` like JavaScript's Date string: ``Fri Jan 13 2017 10:56:45 GMT-0700``."""
    local = to_local(dt, tz)
    return (
        f"{_WEEKDAYS[local.weekday()]} {_MONTHS[local.month - 1]} {local.day:02d} {local.year:04d} "
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d} GMT{format_offset(local)}"
    )


def iso_local(dt: datetime, tz: str | tzinfo) -> str:
    """Format ``dt`` in ``tz`` as ``YYYY-MM-DDTHH:mm:ss.SSS±hhmm``."""
    local = to_local(dt, tz)
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}.{local.microsecond // 1000:03d}"
        f"{format_offset(local)}"
    )


def local_text(dt: datetime, tz: str | tzinfo) -> str:
    """Format ``dt`` in ``tz`` as ``YYYY-MM-DD HH:mm:ss`` (no offset: for tables that state the zone)."""
    local = to_local(dt, tz)
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    )


def interval_text(start: datetime, end: datetime, tz: str | tzinfo) -> str:
    """Format an interval as ``<start>/<end>``, both as ``YYYY-MM-DDTHH:mm:ss.SSS±hhmm`` in ``tz``."""
    return f"{iso_local(start, tz)}/{iso_local(end, tz)}"


def _js_round(x: float) -> int:
    """Round like JavaScript's ``Math.round``: halves go towards +infinity."""
    floor = math.floor(x)
    return floor + 1 if x - floor >= 0.5 else floor


def humanize_duration(ms: int | float) -> str:
    """Describe a duration in English exactly like moment.js ``moment.duration(ms).humanize()``.

    moment's default thresholds apply to the rounded duration: under 45 seconds is
    ``a few seconds``; under 45 minutes is minutes; under 22 hours is hours; under
    26 days is days; under 11 months is months; then years. A rounded count of 1
    reads ``a minute`` / ``an hour`` / ``a day`` / ``a month`` / ``a year``. The sign
    is ignored (no "ago"/"in" suffix), as in ``humanize()`` without arguments.
    """
    ms = abs(ms)
    # Same float operations as moment's Duration#as for a duration built from milliseconds.
    seconds = _js_round(ms / 1000)
    minutes = _js_round(ms / 6e4)
    hours = _js_round(ms / 36e5)
    days_f = ms / 864e5
    days = _js_round(days_f)
    months_f = days_f * 4800 / 146097
    months = _js_round(months_f)
    years = _js_round(months_f / 12)
    if seconds <= 44:
        return "a few seconds"
    if minutes <= 1:
        return "a minute"
    if minutes < 45:
        return f"{minutes} minutes"
    if hours <= 1:
        return "an hour"
    if hours < 22:
        return f"{hours} hours"
    if days <= 1:
        return "a day"
    if days < 26:
        return f"{days} days"
    if months <= 1:
        return "a month"
    if months < 11:
        return f"{months} months"
    if years <= 1:
        return "a year"
    return f"{years} years"


def neutralize_cell(value: str) -> str:
    """Prefix ``'`` to a value a spreadsheet could read as a formula (starts with = + - @ TAB CR)."""
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def one_line(value: object) -> str:
    """Return ``value`` as text on one line: ``None`` -> ``""``, line breaks and tabs -> one space."""
    if value is None:
        return ""
    return _LINE_BREAKS.sub(" ", str(value))


def flat_text_field(value: object) -> str:
    """Make ``value`` safe as one field of the ``|``-delimited abandon file.

    ``None`` -> ``""``; runs of CR/LF/TAB (and other line separators) -> one space;
    ``|`` -> ``¦`` (U+00A6); then :func:`neutralize_cell`.
    """
    return neutralize_cell(one_line(value).replace("|", "\u00a6"))
