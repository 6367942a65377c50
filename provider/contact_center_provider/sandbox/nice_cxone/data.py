"""Deterministic result files of the Data Extraction entities (no HTTP).

A day's rows depend only on the sandbox seed, the entity, its version and the UTC day, so
any interval's file is the concatenation of its days and a split export lands exactly
the rows of an unsplit one.

QM Workflows (v1) carries the 37 documented columns in the documented order; values are
shaped after the document's lists (types, triggers, statuses, states). Free-text columns
hold what real users type: commas, double quotes, line breaks, non-ASCII letters and text
that spreadsheets would run as a formula. Version 3 adds ``Workflow ID`` (a later schema
in a public connector has ``workflowId``; the exact v3 column set is unverified).
Recording interaction metadata and WFM payroll have no published column list: the columns
below are illustrative (``ACD Call ID``, ``Start Date``, ``Voice Recording Status`` and
``Agent 1 Skills`` are seen in public code) and ``wfm-payroll`` is an assumed entity name.

Timestamps are written ``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC); the real format is unverified.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

QM_WORKFLOWS_V1 = (
    "Tenant Name",
    "Agent ID",
    "Type",
    "Evaluation Flow Trigger",
    "Workflow Status",
    "Auto Acknowledged",
    "Workflow State",
    "Plan Name",
    "Form Name",
    "Form Version",
    "Start Date",
    "Submission Date",
    "Last Updated",
    "Score \u2013 Percentage",
    "Score",
    "Maximum Possible Score",
    "Rank",
    "Failed Critical Question",
    "User Review Comments",
    "Dispute Resolver Comments",
    "Segment ID",
    "ACD ID",
    "Interaction Type",
    "Interaction Start Date",
    "Interaction End Date",
    "Interaction Direction",
    "Team ID",
    "Team Name",
    "Phone Number",
    "FirstName (Eva)",
    "LastName (Eva)",
    "FirstName (Agent)",
    "LastName (Agent)",
    "FirstName (Disp)",
    "LastName (Disp)",
    "FirstName (Assigner)",
    "LastName (Assigner)",
)

RECORDING_METADATA = (
    "ACD Call ID",
    "Segment ID",
    "Start Date",
    "End Date",
    "Direction",
    "Media Type",
    "Agent 1 ID",
    "Agent 1 Name",
    "Agent 1 Skills",
    "Voice Recording Status",
    "Screen Recording Status",
    "Duration (sec)",
)

WFM_PAYROLL = ("Agent ID", "Agent Name", "Date", "Activity", "Start Time", "End Time", "Paid Hours")

_TEAMS = (
    ("11", "Tier 1 \u2013 Billing"),
    ("12", "Soporte Técnico"),
    ("13", "Retention, Saves & Win-back"),
    ("14", 'The "A" Team'),
)
_AGENTS = (
    ("2491534", "Zoë", "Åkesson", 0),
    ("2491535", "José", "Núñez", 1),
    ("2491536", "Łukasz", "Wójcik", 0),
    ("2491537", "Nguyễn", "Thị Hoa", 2),
    ("2491538", "Siobhán", "O'Brien", 3),
    ("2491539", "Søren", "Kierkegård", 1),
    ("2491540", "田中", "花子", 2),
    ("2491541", "François", "Müller-Lüdenscheidt", 3),
    ("2491542", "Ólafur", "Þórsson", 0),
    ("2491543", "Renée", "D'Souza", 1),
    ("2491544", "Amaka", "Okafor", 2),
    ("2491545", "Дмитрий", "Иванов", 3),
    ("2491546", "Ana María", "de la Cruz, Jr.", 0),
    ("2491547", "Priya", "Raghunathan", 1),
)
_SUPERVISORS = (("Björk", "Guðmundsdóttir"), ("Chen", "Wei"), ("Mary-Kate", "O'Neill"), ("Jürgen", "Groß"))
_PLANS = (
    "Q2 Voice Quality Plan",
    "Chat, Email & Social plan",
    'Plan "Gold" agents',
    "Nuevo año \u2013 calidad",
)
_FORMS = ("Voice QA Form", "Chat QA \u2013 v2", "Compliance, PCI & Disclosures", "Évaluation qualité")
_STATUSES = (
    "Claimed (new)",
    "Sent to Agent",
    "Dispute",
    "In Progress",
    "In Review",
    "Completed Reviewed",
    "Completed Acknowledged",
    "Completed No Review",
    "Completed",
    "Expired",
)
_RANKS = ("Excellent", "Good", "Needs Improvement", "Unsatisfactory", "")
_COMMENTS = (
    'I disagree, the customer said "cancel" twice.\nSee 00:03:12, then again at 00:04:40.',
    '=HYPERLINK("http://example.invalid","click")',
    "+1 for empathy, -2 for hold time",
    "-hold was required by policy",
    "@supervisor please review; the greeting was correct",
    "Très bien — merci ! 👍",
    "Line one\r\nLine two, with a comma\nLine three",
    '"Quoted from start to end"',
    "Tab\tseparated\tnotes",
    "Kunde war verärgert; Lösung angeboten.",
)
_RESOLUTIONS = (
    "Upheld, score unchanged.",
    'Overturned: "cancel" was a question, not a request.',
    "Partially accepted,\nadjusted question 4.",
    "=1+1",
    "Résolu ✔",
)
_SKILLS = ("Billing EN", "Support ES", "Retention, VIP", "Sales \u2013 FR", 'Tier "2"')


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _rng(seed: int, entity: str, version: str, day: date) -> random.Random:
    # A string seed is hashed with SHA-512: stable across processes and Python versions.
    return random.Random(f"nice-cxone:{seed}:{entity}:{version}:{day.isoformat()}")


def _count(rng: random.Random, day: date, per_day: int) -> int:
    if per_day == 0:
        return 0
    weekend = day.weekday() >= 5
    mean = per_day * (0.3 if weekend else 1.0)
    return max(0, round(rng.gauss(mean, mean * 0.15)))


def _qm_rows(rng: random.Random, day: date, per_day: int, tenant: str, version: str) -> Iterator[list[str]]:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    submissions = sorted(rng.uniform(0, 86399.999) for _ in range(_count(rng, day, per_day)))
    for offset in submissions:
        agent_id, first, last, team = _AGENTS[rng.randrange(len(_AGENTS))]
        team_id, team_name = _TEAMS[team]
        self_assessment = rng.random() < 0.2
        kind = "Self-Assessment" if self_assessment else "Evaluation"
        trigger = rng.choice(
            ("Manual trigger", "Quality Plan")
            if self_assessment
            else ("Manual trigger", "Quality Plan", "Quality Plan", "Calibration")
        )
        status = rng.choice(_STATUSES)
        state = "Closed" if status.startswith("Completed") else "Timed-Out" if status == "Expired" else "Open"
        auto_ack = "" if self_assessment else rng.choice(("TRUE", "FALSE"))
        submitted = midnight + timedelta(seconds=offset)
        started = submitted - timedelta(seconds=rng.uniform(120, 3600))
        updated = submitted + timedelta(seconds=rng.uniform(0, 7200))
        failed_critical = rng.random() < 0.08
        max_score = float(rng.choice((40, 50, 100)))
        score = 0.0 if failed_critical else round(rng.uniform(0.45, 1.0) * max_score, 1)
        percentage = round(100.0 * score / max_score, 2)
        disputed = status in ("Dispute", "In Review", "Completed Reviewed")
        channel = rng.choice(("Phone call", "Phone call", "Chat", "Email"))
        interaction_end = started - timedelta(seconds=rng.uniform(600, 86400 * 2))
        interaction_start = interaction_end - timedelta(seconds=rng.uniform(45, 1800))
        evaluator = (first, last) if self_assessment else rng.choice(_SUPERVISORS)
        resolver = rng.choice(_SUPERVISORS) if status == "Completed Reviewed" else ("", "")
        assigner = rng.choice(_SUPERVISORS) if trigger == "Manual trigger" else ("", "")
        phone = f"+1415555{rng.randrange(10000):04d}" if channel == "Phone call" else ""
        row = [
            tenant,
            agent_id,
            kind,
            trigger,
            status,
            auto_ack,
            state,
            rng.choice(_PLANS) if trigger == "Quality Plan" else "",
            rng.choice(_FORMS),
            str(rng.randint(1, 7)),
            _ts(started),
            _ts(submitted),
            _ts(updated),
            f"{percentage:g}",
            f"{score:g}",
            f"{max_score:g}",
            rng.choice(_RANKS),
            "true" if failed_critical else "false",
            rng.choice(_COMMENTS) if disputed else "",
            rng.choice(_RESOLUTIONS) if resolver[0] else "",
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            str(rng.randrange(100_000_000, 999_999_999)),
            channel,
            _ts(interaction_start),
            _ts(interaction_end),
            rng.choice(("Inbound", "Inbound", "Outbound")),
            team_id,
            team_name,
            phone,
            evaluator[0],
            evaluator[1],
            first,
            last,
            resolver[0],
            resolver[1],
            assigner[0],
            assigner[1],
        ]
        if version != "1":
            row.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        yield row


def _recording_rows(
    rng: random.Random, day: date, per_day: int, tenant: str, version: str
) -> Iterator[list[str]]:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for offset in sorted(rng.uniform(0, 86000) for _ in range(_count(rng, day, per_day * 3))):
        agent_id, first, last, _ = _AGENTS[rng.randrange(len(_AGENTS))]
        start = midnight + timedelta(seconds=offset)
        duration = rng.randint(30, 1800)
        skills = "; ".join(rng.sample(_SKILLS, rng.randint(1, 3)))
        yield [
            str(rng.randrange(100_000_000, 999_999_999)),
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            _ts(start),
            _ts(start + timedelta(seconds=duration)),
            rng.choice(("Inbound", "Outbound")),
            rng.choice(("Voice", "Voice", "Chat")),
            agent_id,
            f"{first} {last}",
            skills,
            rng.choice(("Recorded", "Recorded", "Not Recorded", "Partially Recorded")),
            rng.choice(("Recorded", "Not Recorded")),
            str(duration),
        ]


def _payroll_rows(
    rng: random.Random, day: date, per_day: int, tenant: str, version: str
) -> Iterator[list[str]]:
    if per_day == 0:
        return
    for agent_id, first, last, _ in _AGENTS:
        if day.weekday() >= 5 and rng.random() < 0.7:
            continue
        start_hour = rng.choice((7, 8, 9, 12))
        for activity, hours in (("Open", 4.0), ("Lunch", 0.5), ("Open", 3.5)):
            yield [
                agent_id,
                f"{first} {last}",
                day.isoformat(),
                activity,
                f"{start_hour:02d}:00",
                f"{start_hour + int(hours):02d}:{int(hours % 1 * 60):02d}",
                f"{hours if activity != 'Lunch' else 0:g}",
            ]
            start_hour += int(hours)


RowMaker = Callable[[random.Random, date, int, str, str], Iterator[list[str]]]

#: entity name -> version -> (columns, row generator)
ENTITIES: dict[str, dict[str, tuple[tuple[str, ...], RowMaker]]] = {
    "qm-workflows": {
        "1": (QM_WORKFLOWS_V1, _qm_rows),
        "3": ((*QM_WORKFLOWS_V1, "Workflow ID"), _qm_rows),
    },
    "recording-interaction-metadata": {v: (RECORDING_METADATA, _recording_rows) for v in ("7", "10", "12")},
    "wfm-payroll": {"1": (WFM_PAYROLL, _payroll_rows)},
}


def known(entity: str, version: str) -> bool:
    return version in ENTITIES.get(entity, {})


def render_csv(
    seed: int, entity: str, version: str, days: list[date], *, per_day: int, tenant: str, bom: bool = False
) -> bytes:
    """The result file of ``entity``/``version`` for the given UTC days (header row always present)."""
    columns, make_rows = ENTITIES[entity][version]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for day in days:
        writer.writerows(make_rows(_rng(seed, entity, version, day), day, per_day, tenant, version))
    data = buffer.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if bom else data
