"""Deterministic synthetic Context Services data: services with their states and tasks.

A service is a customer commitment (CS 8.5 "Services, States, and Tasks"): it starts
(Service Start Event), may move through states, each state may hold tasks, and it may
complete (Service End Event). Every UTC hour's services are a pure function of
``(seed, hour, per_hour)``, generated with ``random.Random(f"{seed}:gms:{hour}:{per_hour}")``,
so the same seed always yields the same services for an interval.

Records follow the resource shape of the Query Service / Query States pages
(``service_id``, ``service_type``, ``customer_id`` or ``contact_key``, ``est_duration``,
``started``/``completed`` events with ``timestamp``, ``interaction_id``,
``application_type``, ``application_id``, ``resource_type``, ``resource_id``,
``media_type``) plus attached data as top-level key/values (CS 8.5: "Key-value pairs
replace 8.1 extensions"). Keys and values include non-ASCII text, and some values hold a
comma or a semicolon, so an unquoted CSV would shift columns.

:func:`view_at` cuts a service's life at the server's "now": events after it have not
happened yet (no ``completed`` block, the service is still active).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

HOUR_MS = 3_600_000
#: Longest life of a service that completes; bounds the look-back when matching end events.
MAX_DURATION_MS = 8 * HOUR_MS
#: Share of services that never complete (still active whenever asked).
OPEN_RATE = 0.12
#: Share of anonymous services (no customer_id, a contact_key instead).
ANONYMOUS_RATE = 0.15

#: Attached-data keys, per record type, in the order the sandbox writes their values at
#: the end of a CSV row (``csv_attached_data``). A real GMS has no such fixed list: it is
#: whatever the applications attach.
ATTACHED_DATA_KEYS: dict[str, tuple[str, ...]] = {
    "services": ("Feedback", "Satisfaction", "VIP", "Résidence", "Catégorie"),
    "states": ("Question", "Réponse"),
    "tasks": ("Priorité", "Note"),
}

_FEEDBACK = (
    "Très bien, merci",
    "Great service",
    "Lent; à revoir",
    "Schnell und freundlich",
    'Said "call me back"',
    "とても良い",
)
_RESIDENCE = ("Zürich", "São Paulo", "東京", "Kraków", "Dublin", "Reykjavík")
_CATEGORY = ("Facturation", "Réclamation", "Assistance technique", "Änderung")
_QUESTION = ("How is the weather?", "Êtes-vous satisfait ?", "¿Volvería a llamar?")
_ANSWER = ("Oui", "No", "Peut-être, plus tard", "はい")
_NOTE = ("Rappeler le client", "Dossier transmis", "Wartet auf Rückruf", "")
_SERVICE_TYPES = (100, 200, 300, 400, 500)
_STATE_TYPES = (1100, 1200, 1300)
_TASK_TYPES = (2100, 2200)
_MEDIA_TYPES = (1, 2, 3, 4)  # voice, chat, email, sms (Business Attribute DB ids)


@dataclass(frozen=True)
class Lifecycle:
    """Start and (optional) end of a record, epoch milliseconds."""

    start_ms: int
    end_ms: int | None


@dataclass(frozen=True)
class GeneratedService:
    """One service with its states and tasks, full life (not yet cut at "now")."""

    life: Lifecycle
    service: dict[str, Any]
    states: tuple[tuple[Lifecycle, dict[str, Any]], ...]
    tasks: tuple[tuple[Lifecycle, dict[str, Any]], ...]


def format_ms(epoch_ms: int) -> str:
    """``2014-09-02T12:29:58.568Z``, the document's date/time form."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _event(rng: random.Random, at_ms: int, media_type: int, interaction_id: str) -> dict[str, Any]:
    return {
        "timestamp": format_ms(at_ms),
        "interaction_id": interaction_id,
        "application_type": rng.choice((300, 400)),
        "application_id": rng.randint(1, 999),
        "resource_type": rng.choice((100, 200)),
        "resource_id": rng.randint(1, 999),
        "media_type": media_type,
    }


def _life(rng: random.Random, start: int, longest: int, open_rate: float) -> Lifecycle:
    if rng.random() < open_rate:
        return Lifecycle(start, None)
    return Lifecycle(start, start + rng.randint(30_000, longest))


def _attached(rng: random.Random, kind: str) -> dict[str, Any]:
    values: dict[str, Any]
    if kind == "services":
        values = {
            "Feedback": rng.choice(_FEEDBACK),
            "Satisfaction": rng.randint(1, 10),
            "VIP": rng.random() < 0.2,
            "Résidence": rng.choice(_RESIDENCE),
            "Catégorie": rng.choice(_CATEGORY),
        }
    elif kind == "states":
        values = {"Question": rng.choice(_QUESTION), "Réponse": rng.choice(_ANSWER)}
    else:
        values = {"Priorité": rng.randint(1, 5), "Note": rng.choice(_NOTE)}
    # Applications attach what they know: drop some keys so rows differ.
    return {key: value for key, value in values.items() if rng.random() < 0.8 and value != ""}


def _children(
    rng: random.Random,
    service_id: str,
    life: Lifecycle,
    media_type: int,
) -> tuple[list[tuple[Lifecycle, dict[str, Any]]], list[tuple[Lifecycle, dict[str, Any]]]]:
    states: list[tuple[Lifecycle, dict[str, Any]]] = []
    tasks: list[tuple[Lifecycle, dict[str, Any]]] = []
    span = (life.end_ms - life.start_ms) if life.end_ms is not None else 2 * HOUR_MS
    t = life.start_ms
    for _ in range(rng.randint(0, 3)):
        t += rng.randint(1_000, max(1_001, span // 4))
        state_end = t + rng.randint(5_000, max(5_001, span // 3))
        if life.end_ms is not None:
            state_end = min(state_end, life.end_ms)
        state_life = Lifecycle(t, state_end if (life.end_ms is not None or rng.random() < 0.6) else None)
        state_id = _uid(rng)
        state = {
            "service_id": service_id,
            "state_id": state_id,
            "state_type": rng.choice(_STATE_TYPES),
            "est_duration": rng.randint(10, 600),
            "started": _event(rng, t, media_type, _uid(rng)[:16].upper()),
            **_attached(rng, "states"),
        }
        if state_life.end_ms is not None:
            state["completed"] = _event(
                rng, state_life.end_ms, media_type, state["started"]["interaction_id"]
            )
        states.append((state_life, state))
        task_t = t
        for _ in range(rng.randint(0, 2)):
            task_t += rng.randint(500, 30_000)
            task_end = task_t + rng.randint(2_000, 120_000)
            task_life = Lifecycle(
                task_t,
                task_end if state_life.end_ms is None or task_end <= state_life.end_ms else state_life.end_ms,
            )
            task = {
                "service_id": service_id,
                "state_id": state_id,
                "task_id": _uid(rng),
                "task_type": rng.choice(_TASK_TYPES),
                "est_duration": rng.randint(5, 300),
                "started": _event(rng, task_t, media_type, state["started"]["interaction_id"]),
                **_attached(rng, "tasks"),
            }
            assert task_life.end_ms is not None
            task["completed"] = _event(rng, task_life.end_ms, media_type, state["started"]["interaction_id"])
            tasks.append((task_life, task))
    return states, tasks


@lru_cache(maxsize=512)
def generate_hour(seed: int, hour: int, per_hour: int) -> tuple[GeneratedService, ...]:
    """The services that start in UTC hour number ``hour`` (epoch hours), in start order."""
    rng = random.Random(f"{seed}:gms:{hour}:{per_hour}")
    starts = sorted(hour * HOUR_MS + rng.randrange(HOUR_MS) for _ in range(per_hour))
    out = []
    for start in starts:
        service_id = f"{rng.randint(100, 999)}-{_uid(rng)}"
        life = _life(rng, start, MAX_DURATION_MS, OPEN_RATE)
        media_type = rng.choice(_MEDIA_TYPES)
        anonymous = rng.random() < ANONYMOUS_RATE
        phone = f"0{rng.randint(100_000_000, 999_999_999)}"
        interaction = _uid(rng)[:16].upper()
        service: dict[str, Any] = {
            "service_id": service_id,
            "service_type": rng.choice(_SERVICE_TYPES),
            "customer_id": None if anonymous else str(rng.randint(10**11, 10**12 - 1)),
            "contact_key": phone if anonymous else None,
            "est_duration": rng.randint(60, 3600),
            "started": {
                **_event(rng, start, media_type, interaction),
                "session_id": _uid(rng),
            },
            **_attached(rng, "services"),
        }
        if life.end_ms is not None:
            service["completed"] = _event(rng, life.end_ms, media_type, interaction)
        states, tasks = _children(rng, service_id, life, media_type)
        out.append(GeneratedService(life, service, tuple(states), tuple(tasks)))
    return tuple(out)


def _cut(life: Lifecycle, record: dict[str, Any], now_ms: int) -> dict[str, Any] | None:
    """The record as known at ``now_ms``: not started yet -> None; not completed yet -> no ``completed``."""
    if life.start_ms > now_ms:
        return None
    if life.end_ms is not None and life.end_ms > now_ms:
        return {key: value for key, value in record.items() if key != "completed"}
    return record


@dataclass(frozen=True)
class ServiceView:
    """A service as the server knows it at its "now"."""

    start_ms: int
    end_ms: int | None  # None: still active
    service: dict[str, Any]
    states: list[dict[str, Any]]
    tasks: list[dict[str, Any]]


def view_at(generated: GeneratedService, now_ms: int) -> ServiceView | None:
    """Cut ``generated`` at ``now_ms``; ``None`` when it has not started yet."""
    service = _cut(generated.life, generated.service, now_ms)
    if service is None:
        return None
    end = (
        generated.life.end_ms
        if generated.life.end_ms is not None and generated.life.end_ms <= now_ms
        else None
    )
    states = [s for life, record in generated.states if (s := _cut(life, record, now_ms)) is not None]
    tasks = [t for life, record in generated.tasks if (t := _cut(life, record, now_ms)) is not None]
    return ServiceView(generated.life.start_ms, end, service, states, tasks)


def iter_services(seed: int, from_ms: int, to_ms: int, per_hour: int) -> Iterator[GeneratedService]:
    """Every service whose start or (possible) end can fall in ``[from_ms, to_ms)``."""
    first = (from_ms - MAX_DURATION_MS) // HOUR_MS
    last = (to_ms - 1) // HOUR_MS
    for hour in range(first, last + 1):
        yield from generate_hour(seed, hour, per_hour)
