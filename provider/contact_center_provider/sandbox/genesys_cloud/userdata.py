"""Deterministic synthetic user details (``AnalyticsUserDetail``: presence and routing status).

Each agent works one shift per day (some days off): OFFLINE until the shift starts,
then ON_QUEUE stretches broken by BREAK, MEAL, MEETING, TRAINING or AWAY, then OFFLINE.
While ON_QUEUE the routing status alternates IDLE / INTERACTING (with a rare
NOT_RESPONDING); otherwise it is OFF_QUEUE. Days are generated lazily and cached.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from .directory import directory
from .timefmt import format_ms, to_ms

DAY_MS = 86_400_000
EPOCH = date(1970, 1, 1)
_AUX = ("BREAK", "MEAL", "MEETING", "TRAINING", "AWAY", "BUSY")


def _routing(rng: random.Random, start: int, end: int) -> list[tuple[int, int, str]]:
    records = []
    t = start
    while t < end:
        status = "INTERACTING" if rng.random() < 0.55 else "IDLE"
        if rng.random() < 0.02:
            status = "NOT_RESPONDING"
        length = rng.randint(30_000, 900_000)
        records.append((t, min(end, t + length), status))
        t += length
    return records


def _user_day(
    rng: random.Random, day_start: int
) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    presence: list[tuple[int, int, str]] = []
    routing: list[tuple[int, int, str]] = []
    day_end = day_start + DAY_MS
    if rng.random() < 0.2:  # day off
        return [(day_start, day_end, "OFFLINE")], [(day_start, day_end, "OFF_QUEUE")]
    shift_start = day_start + rng.randint(6 * 3_600_000, 14 * 3_600_000)
    shift_end = shift_start + rng.randint(6 * 3_600_000, 9 * 3_600_000)
    presence.append((day_start, shift_start, "OFFLINE"))
    routing.append((day_start, shift_start, "OFF_QUEUE"))
    login = rng.randint(60_000, 600_000)
    presence.append((shift_start, shift_start + login, "AVAILABLE"))
    routing.append((shift_start, shift_start + login, "OFF_QUEUE"))
    t = shift_start + login
    while t < shift_end:
        stretch = min(shift_end, t + rng.randint(45 * 60_000, 150 * 60_000))
        presence.append((t, stretch, "ON_QUEUE"))
        routing.extend(_routing(rng, t, stretch))
        t = stretch
        if t >= shift_end:
            break
        aux = rng.choice(_AUX)
        aux_end = min(shift_end, t + rng.randint(5 * 60_000, 45 * 60_000))
        presence.append((t, aux_end, aux))
        routing.append((t, aux_end, "OFF_QUEUE"))
        t = aux_end
    presence.append((shift_end, day_end, "OFFLINE"))
    routing.append((shift_end, day_end, "OFF_QUEUE"))
    return presence, routing


@lru_cache(maxsize=256)
def user_timelines_for_day(seed: int, day: date) -> tuple[tuple[str, tuple[Any, ...], tuple[Any, ...]], ...]:
    """``(userId, presence records, routing records)`` per agent for UTC ``day`` (epoch ms tuples)."""
    org = directory(seed)
    day_start = to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))
    out = []
    for user in org.users:
        rng = random.Random(f"{seed}:{day.isoformat()}:{user['id']}")
        presence, routing = _user_day(rng, day_start)
        out.append((user["id"], tuple(presence), tuple(routing)))
    return tuple(out)


def _record(start: int, end: int, at_ms: int | None) -> dict[str, str]:
    record = {"startTime": format_ms(start)}
    if at_ms is None or end <= at_ms:
        record["endTime"] = format_ms(end)
    return record


def generate_user_details(
    seed: int, start: datetime, end: datetime, *, as_of_ms: int | None = None
) -> Iterator[dict[str, Any]]:
    """``AnalyticsUserDetail`` records with presence/routing records overlapping ``[start, end)``.

    One record per user who has at least one overlapping record, users in directory order.

    :param as_of_ms: the moment the data is seen at: records that start later are absent and
        the one under way has no ``endTime`` (the platform's open record). None: all final.
    """
    start_ms, end_ms = to_ms(start), to_ms(end)
    if as_of_ms is not None:
        end_ms = min(end_ms, as_of_ms)
    org = directory(seed)
    days = [EPOCH + timedelta(days=n) for n in range(max(0, start_ms // DAY_MS), (end_ms - 1) // DAY_MS + 1)]
    per_user: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
        u["id"]: ([], []) for u in org.users
    }
    for day in days:
        for user_id, presence, routing in user_timelines_for_day(seed, day):
            presences, statuses = per_user[user_id]
            for rec_start, rec_end, value in presence:
                if rec_start < end_ms and rec_end > start_ms:
                    presences.append(
                        _record(rec_start, rec_end, as_of_ms)
                        | {"systemPresence": value, "organizationPresenceId": org.presence_id(value)}
                    )
            for rec_start, rec_end, value in routing:
                if rec_start < end_ms and rec_end > start_ms:
                    statuses.append(_record(rec_start, rec_end, as_of_ms) | {"routingStatus": value})
    for user in org.users:
        presences, statuses = per_user[user["id"]]
        if presences or statuses:
            record: dict[str, Any] = {"userId": user["id"]}
            if presences:
                record["primaryPresence"] = presences
            if statuses:
                record["routingStatus"] = statuses
            yield record
