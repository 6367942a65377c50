"""Deterministic synthetic conversation details (the analytics ``AnalyticsConversation`` shape).

Every UTC day's conversations are a pure function of ``(seed, day, per_day)``: they are
generated lazily with ``random.Random(f"{seed}:{day}:{per_day}")`` and cached, so any
interval is cheap and the same seed always yields the same records. Benchmarks can
use :func:`generate_conversations` and :func:`conversation_count` directly.

The mix is realistic enough for reports: inbound voice through an IVR and a queue
(majority; ~10% abandoned in queue: the ``acd`` segment ends with ``disconnectType=peer``
and no agent joins), outbound voice with an ``external`` party, callbacks, chats, emails
and messages; blind transfers and conferences; ``accountNumber`` participant attributes;
a few hostile customer names (HTML, a spreadsheet formula, ``|`` plus a newline); and the
gaps real data has: customers without a name, anonymous callers (no ANI), sessions without a
DNIS, customers without an account number (drawn from a second random stream per
conversation, so adding them changed no other value).

Records are shared cached dicts: treat them as read-only (copy before changing).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from .directory import QUEUE_NAMES, Directory, directory, stable_uuid
from .timefmt import format_ms, to_ms

DEFAULT_PER_DAY = 960
#: Longest conversation the generator makes; bounds the look-back for lifetime overlap.
MAX_DURATION_MS = 6 * 3600 * 1000
DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)

#: Hostile names that reports must escape (HTML, CSV formula, delimiter + newline).
TRICKY_NAMES = (
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x")',
    "Pipe | Name\nSecond Line",
)
_CUSTOMER_NAMES = (
    "Australia",
    "Spencer TN",
    "Georgia",
    "Luxembourg",
    "WIRELESS CALLER",
    "Jane Smith",
    "Carlos Mendez",
    "Mei Chen",
    "Robert Taylor",
    "Anika Sharma",
    "O'Neil, Patrick",
    "Zoë Ångström",
    "Lagos NG",
    "Helen Park",
    "Unknown",
    "Dublin IE",
    "Tomás Ruiz",
    "Sarah Connor",
    "Yusuf Demir",
    "Li Wei",
)
_MEDIA_MIX = (
    ("voice", 55),
    ("voice_out", 5),
    ("callback", 7),
    ("chat", 13),
    ("email", 10),
    ("message", 10),
)
_MEDIA_KINDS = tuple(kind for kind, _ in _MEDIA_MIX)
_MEDIA_WEIGHTS = tuple(weight for _, weight in _MEDIA_MIX)
ABANDON_RATE = 0.10
NO_NAME_RATE = 0.05
NO_ANI_RATE = 0.04
NO_DNIS_RATE = 0.02
NO_ACCOUNT_RATE = 0.10
#: ``provider`` of a session per media type (free text on the platform; voice is "Edge").
PROVIDERS = {
    "voice": "Edge",
    "callback": "PureCloud Callback",
    "chat": "PureCloud Webchat v2",
    "email": "PureCloud Email",
    "message": "PureCloud Messaging",
}
TRANSFER_RATE = 0.08
CONFERENCE_RATE = 0.04
HOLD_RATE = 0.3


@dataclass(frozen=True)
class Generated:
    """One conversation with its lifetime in epoch milliseconds (for interval matching)."""

    start_ms: int
    end_ms: int
    record: dict[str, Any]


def _conversation_id(rng: random.Random, day_number: int, index: int) -> str:
    """A UUID-shaped id whose last group encodes (day, index) so a GET can find it cheaply."""
    raw = uuid.UUID(int=rng.getrandbits(128), version=4).hex
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{day_number:05x}{index:05x}{raw[30:32]}"


def decode_conversation_id(conversation_id: str) -> tuple[date, int] | None:
    """``(day, index)`` encoded by the generator, or ``None`` for a foreign id."""
    try:
        tail = conversation_id.split("-")[4]
        day_number, index = int(tail[:5], 16), int(tail[5:10], 16)
    except (IndexError, ValueError):
        return None
    if len(tail) != 12:
        return None
    return _EPOCH + timedelta(days=day_number), index


def _phone(rng: random.Random, prefix: str = "+1") -> str:
    return f"tel:{prefix}{rng.randint(200, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"


class _Conversation:
    """Builds one conversation record; times are epoch ms."""

    def __init__(self, rng: random.Random, org: Directory, conversation_id: str, start: int) -> None:
        self.rng = rng
        self.org = org
        self.id = conversation_id
        self.start = start
        self.participants: list[dict[str, Any]] = []
        self.end = start
        self.conference_start: int | None = None

    def uuid(self) -> str:
        return stable_uuid(self.rng)

    def segment(self, kind: str, start: int, end: int, **extra: Any) -> dict[str, Any]:
        self.end = max(self.end, end)
        return {"segmentStart": format_ms(start), "segmentEnd": format_ms(end), "segmentType": kind, **extra}

    @staticmethod
    def metric(name: str, value: int, at: int) -> dict[str, Any]:
        return {"name": name, "value": int(value), "emitDate": format_ms(at)}

    def participant(
        self, purpose: str, name: str, sessions: list[dict[str, Any]], **extra: Any
    ) -> dict[str, Any]:
        record = {"participantId": self.uuid(), "participantName": name, "purpose": purpose, **extra}
        record["sessions"] = sessions
        self.participants.append(record)
        return record

    def session(
        self,
        media: str,
        direction: str,
        segments: list[dict[str, Any]],
        metrics: list[dict[str, Any]],
        **extra: Any,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "sessionId": self.uuid(),
            "mediaType": media,
            "direction": direction,
            **extra,
        }
        record["segments"] = segments
        if metrics:
            record["metrics"] = metrics
        return record

    def agent_leg(
        self,
        media: str,
        direction: str,
        queue_id: str,
        user: dict[str, Any],
        start: int,
        *,
        transfer_out: bool = False,
        conference: bool = False,
        session_extra: dict[str, Any] | None = None,
        lead: tuple[str, int] | None = None,
    ) -> int:
        """Add an agent participant offered at ``start``; returns when its talk ended.

        ``lead`` replaces the initial ``alert`` segment (e.g. ``("dialing", ms)`` for outbound).
        """
        rng = self.rng
        long_media = media == "email"
        lead_type, alert = lead or ("alert", rng.randint(3_000, 20_000))
        talk = rng.randint(120_000, 900_000) if long_media else rng.randint(45_000, 900_000)
        held = rng.randint(10_000, 120_000) if (media == "voice" and rng.random() < HOLD_RATE) else 0
        acw = rng.randint(10_000, 120_000)
        t = start
        segments = [self.segment(lead_type, t, t + alert, queueId=queue_id)]
        t += alert
        answered = t
        metrics = [
            self.metric("tDialing" if lead_type == "dialing" else "tAlert", alert, answered),
            self.metric("nConnected", 1, answered),
        ]
        if lead_type == "alert":
            metrics.append(self.metric("tAnswered", alert, answered))
        first_part = talk // 2 if (held or conference) else talk
        segments.append(self.segment("interact", t, t + first_part, queueId=queue_id))
        t += first_part
        if held:
            segments.append(self.segment("hold", t, t + held, queueId=queue_id))
            t += held
            metrics.append(self.metric("tHeld", held, t))
        if held or conference:
            if conference:
                self.conference_start = t
            segments.append(
                self.segment("interact", t, t + talk - first_part, queueId=queue_id, conference=conference)
            )
            t += talk - first_part
        segments[-1]["disconnectType"] = "transfer" if transfer_out else rng.choice(("peer", "client"))
        talk_end = t
        metrics.append(self.metric("tTalk", talk, talk_end))
        metrics.append(self.metric("tTalkComplete", talk, talk_end))
        if transfer_out:
            metrics.append(self.metric("nTransferred", 1, talk_end))
            metrics.append(self.metric("nBlindTransferred", 1, talk_end))
        wrapup_code = rng.choice(self.org.wrapup_codes)["id"]
        segments.append(self.segment("wrapup", t, t + acw, queueId=queue_id, wrapUpCode=wrapup_code))
        t += acw
        metrics.append(self.metric("tAcw", acw, t))
        metrics.append(self.metric("tHandle", talk + held + acw, t))
        session = self.session(media, direction, segments, metrics, **(session_extra or {}))
        self.participant("agent", user["name"], [session], userId=user["id"])
        return talk_end


def _attributes(rng: random.Random, queue_name: str, name: str) -> dict[str, str]:
    attributes = {
        "accountNumber": f"{rng.randint(10_000_000, 99_999_999)}",
        "customerTier": rng.choice(("bronze", "silver", "gold", "platinum")),
        "language": rng.choice(("en-US", "en-US", "es-US", "fr-CA")),
        "ivrSelection": queue_name.lower().replace(" ", "_"),
    }
    if name in TRICKY_NAMES:
        attributes["note"] = name
    return attributes


def _build(
    rng: random.Random, org: Directory, conversation_id: str, start: int, kind: str, name: str
) -> Generated:
    conv = _Conversation(rng, org, conversation_id, start)
    queue_index = rng.randrange(len(org.queues))
    queue = org.queues[queue_index]
    queue_id = queue["id"]
    agents = rng.sample(org.users, 3)
    customer_phone = _phone(rng)
    dnis = f"tel:+1800555{1000 + queue_index:04d}"
    attributes = _attributes(rng, QUEUE_NAMES[queue_index], name)
    initiator, direction = "customer", "inbound"

    if kind == "voice_out":
        initiator, direction = "agent", "outbound"
        dial = rng.randint(5_000, 25_000)
        user = agents[0]
        answered_at = start + dial
        # The agent dials; the called party joins as an 'external' participant.
        talk_end = conv.agent_leg(
            "voice",
            "outbound",
            queue_id,
            user,
            start,
            lead=("dialing", dial),
            session_extra={"ani": dnis, "dnis": customer_phone, "remote": name},
        )
        ext_segments = [conv.segment("interact", answered_at, talk_end, disconnectType="endpoint")]
        ext_session = conv.session(
            "voice", "outbound", ext_segments, [], ani=dnis, dnis=customer_phone, remote=name
        )
        conv.participant("external", name, [ext_session], attributes=attributes)
    else:
        media = {
            "voice": "voice",
            "callback": "callback",
            "chat": "chat",
            "email": "email",
            "message": "message",
        }[kind]
        t = start
        session_extra: dict[str, Any] = {}
        if media in ("voice", "callback"):
            session_extra = {"ani": customer_phone, "dnis": dnis, "remote": name}
        elif media == "email":
            session_extra = {
                "addressFrom": f"customer{rng.randint(100, 999)}@mail.example.org",
                "addressTo": "support@sandbox.example.com",
            }
        elif media == "message":
            session_extra = {
                "messageType": "sms",
                "addressFrom": customer_phone.removeprefix("tel:"),
                "addressTo": dnis.removeprefix("tel:"),
            }
        if media == "callback":
            session_extra["callbackNumbers"] = [customer_phone]
            session_extra["callbackUserName"] = name
        ivr_end = t
        if media == "voice":
            ivr_end = t + rng.randint(15_000, 90_000)
            flow = {
                "flowId": stable_uuid(random.Random(f"flow:{queue_index}")),
                "flowName": "Main IVR",
                "flowType": "INBOUNDCALL",
                "entryType": "dnis",
                "entryReason": dnis,
                "exitReason": "TRANSFER",
                "transferType": "ACD",
                "transferTargetName": queue["name"],
                "transferTargetAddress": queue_id,
            }
            ivr_session = conv.session(
                "voice",
                "inbound",
                [conv.segment("ivr", t, ivr_end)],
                [conv.metric("nFlow", 1, t), conv.metric("tFlow", ivr_end - t, ivr_end)],
                ani=customer_phone,
                dnis=dnis,
                flow=flow,
            )
            conv.participant("ivr", "Main IVR", [ivr_session])
        long_wait = media in ("email", "callback")
        wait = (
            rng.randint(300_000, 7_200_000)
            if long_wait
            else int(min(rng.expovariate(1 / 60_000) + 3_000, 900_000))
        )
        abandoned = media not in ("email", "callback") and rng.random() < ABANDON_RATE
        queue_end = ivr_end + wait
        acd_segments = [
            conv.segment(
                "interact",
                ivr_end,
                queue_end,
                queueId=queue_id,
                disconnectType="peer" if abandoned else "transfer",
            )
        ]
        acd_metrics = [conv.metric("nOffered", 1, ivr_end), conv.metric("tAcd", wait, queue_end)]
        if abandoned:
            acd_metrics.append(conv.metric("tAbandon", wait, queue_end))
        acd_session = conv.session(
            media,
            "inbound",
            acd_segments,
            acd_metrics,
            usedRouting="Standard",
            requestedRoutings=["Standard"],
            **session_extra,
        )
        end = queue_end
        if not abandoned:
            transfer = media in ("voice", "chat") and rng.random() < TRANSFER_RATE
            conference = media == "voice" and not transfer and rng.random() < CONFERENCE_RATE
            end = conv.agent_leg(
                media,
                "inbound",
                queue_id,
                agents[0],
                queue_end,
                transfer_out=transfer,
                conference=conference,
                session_extra=session_extra,
            )
            if transfer:
                end = conv.agent_leg(media, "inbound", queue_id, agents[1], end, session_extra=session_extra)
            if conference and conv.conference_start is not None:
                ext_phone = _phone(rng)
                ext_session = conv.session(
                    "voice",
                    "outbound",
                    [
                        conv.segment(
                            "interact", conv.conference_start, end, conference=True, disconnectType="peer"
                        )
                    ],
                    [],
                    ani=dnis,
                    dnis=ext_phone,
                    remote="Conference Partner",
                )
                conv.participant("external", "Conference Partner", [ext_session])
        subject = (
            {"subject": f"Question about account {attributes['accountNumber']}"} if media == "email" else {}
        )
        customer_segments = [conv.segment("interact", start, end, disconnectType="endpoint", **subject)]
        customer_metrics = [conv.metric("tIvr", ivr_end - start, ivr_end)] if media == "voice" else []
        customer = conv.session(media, "inbound", customer_segments, customer_metrics, **session_extra)
        conv.participants.insert(
            0,
            {
                "participantId": conv.uuid(),
                "participantName": name,
                "purpose": "customer",
                "attributes": attributes,
                "sessions": [customer],
            },
        )
        conv.participants.insert(
            2 if media == "voice" else 1,
            {
                "participantId": conv.uuid(),
                "participantName": queue["name"],
                "purpose": "acd",
                "sessions": [acd_session],
            },
        )

    record: dict[str, Any] = {
        "conversationId": conversation_id,
        "conversationStart": format_ms(start),
        "conversationEnd": format_ms(conv.end),
        "conversationInitiator": initiator,
        "originatingDirection": direction,
        "divisionIds": [org.division["id"]],
    }
    if conv.conference_start is not None:
        record["conferenceStart"] = format_ms(conv.conference_start)
    if kind in ("voice", "voice_out"):
        mos = round(rng.uniform(3.6, 4.45), 3)
        record["mediaStatsMinConversationMos"] = mos
        # Derived from the MOS (roughly linear over this range), not modelled.
        record["mediaStatsMinConversationRFactor"] = round(93.2 - (4.41 - mos) * 25, 2)
    record["participants"] = conv.participants
    _finish(record, random.Random(f"{conversation_id}:gaps"), customer_phone, dnis, name)
    return Generated(start, conv.end, record)


def _finish(record: dict[str, Any], rng: random.Random, phone: str, dnis: str, name: str) -> None:
    """Add session providers and the gaps real records have (second random stream)."""
    no_name = name not in TRICKY_NAMES and rng.random() < NO_NAME_RATE
    no_ani = rng.random() < NO_ANI_RATE
    no_dnis = rng.random() < NO_DNIS_RATE
    no_account = rng.random() < NO_ACCOUNT_RATE
    for participant in record["participants"]:
        outside = participant["purpose"] in ("customer", "external") and participant.get("attributes")
        if outside and no_name:
            participant.pop("participantName", None)
        if outside and no_account:
            participant["attributes"] = {
                k: v for k, v in participant["attributes"].items() if k != "accountNumber"
            }
        for session in participant["sessions"]:
            session["provider"] = PROVIDERS[session["mediaType"]]
            if no_ani and session.get("ani") == phone:
                del session["ani"]
            if no_dnis and session.get("dnis") == dnis and record["originatingDirection"] == "inbound":
                del session["dnis"]
            if no_name and session.get("remote") == name:
                session["remote"] = phone  # the platform shows the number when it has no name
            if no_name and outside:
                session.pop("callbackUserName", None)


@lru_cache(maxsize=512)
def conversations_for_day(seed: int, day: date, per_day: int = DEFAULT_PER_DAY) -> tuple[Generated, ...]:
    """All conversations that start on UTC ``day``, sorted by start (cached)."""
    rng = random.Random(f"{seed}:{day.isoformat()}:{per_day}")
    org = directory(seed)
    day_start = to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))
    day_number = (day - _EPOCH).days
    # Busier during the working day: two thirds of the traffic between 08:00 and 20:00 UTC.
    offsets = sorted(
        rng.randrange(8 * 3_600_000, 20 * 3_600_000) if rng.random() < 0.66 else rng.randrange(DAY_MS)
        for _ in range(per_day)
    )
    # Hostile names go to inbound voice calls so the customer-name column of every report sees them.
    tricky_slots = (
        dict(zip(rng.sample(range(per_day), len(TRICKY_NAMES)), TRICKY_NAMES, strict=True))
        if per_day >= 10
        else {}
    )
    generated = []
    for index, offset in enumerate(offsets):
        kind = rng.choices(_MEDIA_KINDS, _MEDIA_WEIGHTS)[0]
        name = tricky_slots.get(index) or rng.choice(_CUSTOMER_NAMES)
        if index in tricky_slots:
            kind = "voice"
        conversation_id = _conversation_id(rng, day_number, index)
        generated.append(_build(rng, org, conversation_id, day_start + offset, kind, name))
    return tuple(generated)


def _days(start_ms: int, end_ms: int, lookback_ms: int) -> Iterator[date]:
    first = (start_ms - lookback_ms) // DAY_MS
    last = (end_ms - 1) // DAY_MS
    for number in range(max(first, 0), last + 1):
        yield _EPOCH + timedelta(days=number)


def iter_generated(
    seed: int,
    start: datetime,
    end: datetime,
    *,
    per_day: int = DEFAULT_PER_DAY,
    start_day_matching: bool = False,
) -> Iterator[Generated]:
    """Conversations whose lifetime overlaps ``[start, end)``, by start time.

    With ``start_day_matching`` (the synchronous query's semantics) only conversations
    that started on a UTC day touched by the interval count.
    """
    start_ms, end_ms = to_ms(start), to_ms(end)
    floor_ms = (start_ms // DAY_MS) * DAY_MS if start_day_matching else start_ms - MAX_DURATION_MS
    for day in _days(start_ms, end_ms, start_ms - floor_ms):
        for item in conversations_for_day(seed, day, per_day):
            if item.start_ms >= end_ms:
                break
            if item.end_ms > start_ms and item.start_ms >= floor_ms:
                yield item


def generate_conversations(
    seed: int, start: datetime, end: datetime, *, per_day: int = DEFAULT_PER_DAY
) -> Iterator[dict[str, Any]]:
    """Job-result records (with participant ``attributes``) overlapping ``[start, end)``.

    :param seed: the sandbox seed.
    :param start: aware interval start.
    :param end: aware interval end (exclusive).
    :param per_day: conversations starting in each UTC day.
    """
    for item in iter_generated(seed, start, end, per_day=per_day):
        yield item.record


def conversation_count(seed: int, start: datetime, end: datetime, *, per_day: int = DEFAULT_PER_DAY) -> int:
    """How many conversations a details job over ``[start, end)`` returns (lifetime overlap)."""
    return sum(1 for _ in iter_generated(seed, start, end, per_day=per_day))


def find_generated(seed: int, conversation_id: str, per_day: int = DEFAULT_PER_DAY) -> Generated | None:
    """The generated conversation ``conversation_id`` (record and lifetime) or ``None``."""
    decoded = decode_conversation_id(conversation_id)
    if decoded is None:
        return None
    day, index = decoded
    if index >= per_day:
        return None
    try:
        item = conversations_for_day(seed, day, per_day)[index]
    except (IndexError, OverflowError, ValueError):
        return None
    return item if item.record["conversationId"] == conversation_id else None


def find_conversation(
    seed: int, conversation_id: str, per_day: int = DEFAULT_PER_DAY
) -> dict[str, Any] | None:
    """The final analytics record of ``conversation_id`` or ``None``."""
    item = find_generated(seed, conversation_id, per_day)
    return None if item is None else item.record


def without_attributes(record: dict[str, Any]) -> dict[str, Any]:
    """The sync query's ``AnalyticsConversationWithoutAttributes`` view of a record."""
    return {
        **record,
        "participants": [{k: v for k, v in p.items() if k != "attributes"} for p in record["participants"]],
    }
