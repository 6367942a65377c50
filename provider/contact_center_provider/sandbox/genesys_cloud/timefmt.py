"""Genesys wire timestamps (``YYYY-MM-DDTHH:MM:SS.mmmZ``) and ISO-8601 intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from .errors import GenesysApiError


def format_ts(value: float | datetime) -> str:
    """Format epoch seconds or an aware datetime as ``2024-05-01T10:00:00.000Z``."""
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@lru_cache(maxsize=4096)
def _day_prefix(day_number: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day_number)).strftime("%Y-%m-%dT")


def format_ms(epoch_ms: int) -> str:
    """Format integer epoch milliseconds (the generator's native unit); hot path, no strftime."""
    day_number, rest = divmod(epoch_ms, 86_400_000)
    seconds, ms = divmod(rest, 1000)
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{_day_prefix(day_number)}{hours:02d}:{minute:02d}:{sec:02d}.{ms:03d}Z"


def parse_ts(text: str) -> datetime:
    """Parse an ISO-8601 timestamp; naive values are taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_interval(value: object, field: str = "interval") -> tuple[datetime, datetime]:
    """Parse ``start/end``.

    :raises GenesysApiError: 400 naming ``field`` when it is missing, malformed or empty.
    """
    if not isinstance(value, str) or "/" not in value:
        raise GenesysApiError(
            400,
            f"{field} is required and must be an ISO-8601 interval 'start/end', got {value!r}",
            "bad.request",
            message_params={"field": field},
        )
    start_text, _, end_text = value.partition("/")
    try:
        start, end = parse_ts(start_text), parse_ts(end_text)
    except ValueError as exc:
        raise GenesysApiError(
            400,
            f"{field} {value!r} is not a valid ISO-8601 interval",
            "bad.request",
            message_params={"field": field},
        ) from exc
    if end <= start:
        raise GenesysApiError(
            400, f"{field} {value!r} must end after it starts", "bad.request", message_params={"field": field}
        )
    return start, end


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(moment.timestamp() * 1000)


def day_floor(moment: datetime) -> datetime:
    """Midnight UTC of the day holding ``moment``."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def days_between(start: datetime, end: datetime) -> list[datetime]:
    """Every UTC midnight ``d`` with ``start <= d + 1 day`` and ``d < end`` (the days touched)."""
    days = []
    day = day_floor(start)
    while day < end:
        days.append(day)
        day += timedelta(days=1)
    return days
