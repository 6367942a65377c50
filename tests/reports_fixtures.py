"""Arrow tables for the report tests, built from plain values with the fixed schemas, and helpers
to render a report in memory and read its HTML back."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from contact_center_provider.transforms import genesys_schemas as gs
from contact_center_provider.transforms.reports import arrow_sources, get_report, make_renderer, render_files
from contact_center_provider.transforms.reports.formatting import interval_text, js_date_string

EVIL_SCRIPT = "<script>alert(1)</script>"
EVIL_FORMULA = '=HYPERLINK("http://x")'
EVIL_PIPE = "Pipe|Name\nsecond line"


def table(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    """Build a table with ``schema``; columns a row leaves out are null."""
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def conversation_tables(convs: list[dict[str, Any]]) -> dict[str, pa.Table]:
    """Tables for conversations given as nested dicts.

    Each conversation: ``{"id", "start", "end", "participants": [{"id", "purpose", "name",
    "sessions": [{"ani", "dnis", "direction", "metrics": {name: value}}], "attributes": {...}}]}``.
    """
    conversations, participants, sessions, attributes, metrics = [], [], [], [], []
    for conv in convs:
        conversations.append(
            {
                "conversation_id": conv["id"],
                "conversation_start": conv.get("start"),
                "conversation_end": conv.get("end"),
            }
        )
        for p_ord, part in enumerate(conv.get("participants", [])):
            participants.append(
                {
                    "conversation_id": conv["id"],
                    "participant_id": part["id"],
                    "participant_ordinal": p_ord,
                    "purpose": part.get("purpose"),
                    "participant_name": part.get("name"),
                }
            )
            for s_ord, sess in enumerate(part.get("sessions", [])):
                session_id = f"{part['id']}-s{s_ord}"
                sessions.append(
                    {
                        "conversation_id": conv["id"],
                        "participant_id": part["id"],
                        "session_id": session_id,
                        "session_ordinal": s_ord,
                        "media_type": "voice",
                        **{k: v for k, v in sess.items() if k != "metrics"},
                    }
                )
                for m_ord, (name, value) in enumerate(sess.get("metrics", {}).items()):
                    metrics.append(
                        {
                            "conversation_id": conv["id"],
                            "participant_id": part["id"],
                            "session_id": session_id,
                            "metric_ordinal": m_ord,
                            "name": name,
                            "value": value,
                        }
                    )
            for key, value in part.get("attributes", {}).items():
                attributes.append(
                    {"conversation_id": conv["id"], "participant_id": part["id"], "key": key, "value": value}
                )
    return {
        "conversations": table(gs.CONVERSATIONS, conversations),
        "participants": table(gs.PARTICIPANTS, participants),
        "sessions": table(gs.SESSIONS, sessions),
        "participant_attributes": table(gs.PARTICIPANT_ATTRIBUTES, attributes),
        "session_metrics": table(gs.SESSION_METRICS, metrics),
    }


#: The two abandoned conversations of ode-reports.md, with queue and customer as the
#: last participants of their purpose and the ANI on the customer's last session.
ODE_EXAMPLE = [
    {
        "id": "e84f837d-d780-45af-bbdf-cad1c9c9faf9",
        "start": utc(2017, 1, 13, 17, 41, 2),
        "participants": [
            {
                "id": "p1",
                "purpose": "customer",
                "name": "Australia",
                "sessions": [{"ani": "tel:+610209985555"}],
            },
            {"id": "p2", "purpose": "ivr", "name": "Main IVR", "sessions": [{"ani": "tel:+610209985555"}]},
            {"id": "p3", "purpose": "acd", "name": "Product Sales", "sessions": [{}]},
        ],
    },
    {
        "id": "bb899c5d-a1c5-4a76-91c5-f3bbc45729d4",
        "start": utc(2017, 1, 13, 17, 44, 30),
        "participants": [
            {
                "id": "q1",
                "purpose": "customer",
                "name": "Spencer TN",
                "sessions": [{"ani": "tel:+19319465555"}, {"ani": None}],
            },
            {"id": "q2", "purpose": "acd", "name": "Sales", "sessions": [{}]},
            {"id": "q3", "purpose": "acd", "name": "Help Desk", "sessions": [{}]},
        ],
    },
]

ODE_EXAMPLE_TEXT = (
    "ABANDONED CONVERSATIONS\n"
    "Run date: Fri Jan 13 2017 10:56:45 GMT-0700\n"
    "Company: Genesys\n"
    "Interval: 2017-01-13T10:40:00.000-0700/2017-01-13T10:50:00.000-0700\n"
    "Job: Abandons job\n"
    "Configuration: Abandons Configuration\n"
    "Conversation ID|Queue|Customer Name|ANI\n"
    "e84f837d-d780-45af-bbdf-cad1c9c9faf9|Product Sales|Australia|tel:+610209985555\n"
    "bb899c5d-a1c5-4a76-91c5-f3bbc45729d4|Help Desk|Spencer TN|tel:+19319465555\n"
)


def presence_tables(
    presence: list[dict[str, Any]],
    routing: list[dict[str, Any]],
    users: list[dict[str, Any]] | None = None,
    definitions: list[dict[str, Any]] | None = None,
) -> dict[str, pa.Table]:
    return {
        "presence": table(gs.PRESENCE, presence),
        "routing_status": table(gs.ROUTING_STATUS, routing),
        "users": table(gs.USERS, users or []),
        "presence_definitions": table(gs.PRESENCE_DEFINITIONS, definitions or []),
    }


CALL_DETAIL_CONVS = [
    {
        "id": "conv-2",
        "start": utc(2017, 1, 13, 17, 45),
        "participants": [
            {
                "id": "c2-cust",
                "purpose": "customer",
                "name": "Spencer TN",
                "sessions": [{"ani": "tel:+19319465555", "dnis": "tel:+18005550100", "direction": "inbound"}],
                "attributes": {"accountNumber": "A-42", "other": "x"},
            },
            {"id": "c2-agent", "purpose": "agent", "name": None, "sessions": []},
        ],
    },
    {
        "id": "conv-1",
        "start": utc(2017, 1, 13, 17, 41),
        "participants": [
            {
                "id": "c1-cust",
                "purpose": "customer",
                "name": "Australia",
                "sessions": [
                    {"ani": "tel:+610209985555", "dnis": None, "direction": "inbound"},
                    {"ani": "tel:+999", "dnis": "tel:+1", "direction": "outbound"},
                ],
            },
        ],
    },
]


P_START, P_END = utc(2017, 1, 13, 17), utc(2017, 1, 13, 18)


def presence_example() -> dict[str, pa.Table]:
    return presence_tables(
        presence=[
            # u-bob appears first (16:30) although listed after alice.
            {
                "user_id": "u-alice",
                "start_time": utc(2017, 1, 13, 17, 5),
                "end_time": utc(2017, 1, 13, 17, 35),
                "system_presence": "AVAILABLE",
            },
            {
                "user_id": "u-alice",
                "start_time": utc(2017, 1, 13, 17, 35),
                "end_time": None,
                "system_presence": "BUSY",
                "organization_presence_id": "def-lunch",
            },
            {
                "user_id": "u-bob",
                "start_time": utc(2017, 1, 13, 16, 30),
                "end_time": utc(2017, 1, 13, 17, 30),
                "system_presence": "ON_QUEUE",
                "organization_presence_id": "def-unknown",
            },
        ],
        routing=[
            {
                "user_id": "u-alice",
                "start_time": utc(2017, 1, 13, 17, 5),
                "end_time": utc(2017, 1, 13, 17, 6),
                "routing_status": "IDLE",
            },
            {
                "user_id": "u-ghost",
                "start_time": utc(2017, 1, 13, 17, 50),
                "end_time": None,
                "routing_status": "OFF_QUEUE",
            },
        ],
        users=[{"user_id": "u-alice", "name": "Alice"}, {"user_id": "u-bob", "name": "Bob"}],
        definitions=[{"presence_definition_id": "def-lunch", "system_presence": "BUSY", "label": "Lunch"}],
    )


EVIL_CONVS = [
    {
        "id": f"evil-{n}",
        "start": utc(2017, 1, 13, 17, 41 + n),
        "participants": [
            {
                "id": f"e{n}-c",
                "purpose": "customer",
                "name": name,
                "sessions": [{"ani": name, "dnis": name, "direction": name}],
                "attributes": {"accountNumber": name},
            },
            {"id": f"e{n}-q", "purpose": "acd", "name": name},
        ],
    }
    for n, name in enumerate([EVIL_SCRIPT, EVIL_FORMULA, EVIL_PIPE])
]


# --------------------------------------------------------------------------- rendering helpers


@dataclass
class Rendered:
    """A report rendered in memory: the main page, the other files by name, the summary."""

    main: str
    files: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    main_name: str = ""


def render_report(
    report: str,
    tables: dict[str, pa.Table],
    *,
    start: datetime,
    end: datetime,
    tz: str | tzinfo,
    run_after: datetime | None = None,
    **params: Any,
) -> Rendered:
    """Render a built-in report from in-memory tables, as the operator would."""
    spec = get_report(report)
    standard = {
        "run_date": js_date_string(run_after or end, tz),
        "interval": interval_text(start, end, tz),
        "interval_start": start,
        "interval_end": end,
        "tz": tz,
    }
    out = Rendered("", main_name=spec.file_name)
    for item in render_files(
        arrow_sources(tables),
        make_renderer(),
        main_name=spec.file_name,
        template=spec.template,
        spec=spec,
        standard=standard,
        params=params,
    ):
        if item.main:
            out.main, out.summary = item.data.decode("utf-8"), dict(item.summary)
        else:
            out.files[item.name] = item.data.decode("utf-8")
    return out


class Page(HTMLParser):
    """Every <tr> of an HTML page as cell texts (th and td), with the row's attributes, ids and links."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.row_attrs: list[dict[str, str | None]] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.tags: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(attributes["id"] or "")
        if tag == "a" and attributes.get("href"):
            self.hrefs.append(attributes["href"] or "")
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.rows.append([])
            self.row_attrs.append(attributes)
            if self.tables:
                self.tables[-1].append(self.rows[-1])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def write_parquet(directory: Path, tables: dict[str, pa.Table], split: bool = False) -> dict[str, str]:
    """Write each table under ``directory/<name>/`` (in two files when ``split``); return name -> folder."""
    uris = {}
    for name, tbl in tables.items():
        target = directory / name
        target.mkdir(parents=True, exist_ok=True)
        if split and tbl.num_rows > 1:
            pq.write_table(tbl.slice(0, 1), target / "part-0.parquet")
            pq.write_table(tbl.slice(1), target / "part-1.parquet")
            (target / "_manifest.json").write_text("{}")
        else:
            pq.write_table(tbl, target / "part-0.parquet")
        uris[name] = str(target)
    return uris


def random_presence(agents: int, start: datetime, end: datetime, seed: int = 1) -> dict[str, pa.Table]:
    """A shuffled day of presence and routing records for ``agents`` agents in four divisions."""
    rng = random.Random(seed)
    presence, routing, users = [], [], []
    for n in range(agents):
        user_id = f"user-{n:04d}"
        users.append(
            {
                "user_id": user_id,
                "name": f"{rng.choice('ABCDEFGH')}gent {n:04d}",
                "division_id": f"div-{n % 4}",
            }
        )
        t = start - timedelta(minutes=rng.randint(0, 90))
        while t < end:
            length = timedelta(minutes=rng.randint(5, 120))
            presence.append(
                {
                    "user_id": user_id,
                    "start_time": t,
                    "end_time": t + length if t + length < end or rng.random() < 0.5 else None,
                    "system_presence": rng.choice(["AVAILABLE", "ON_QUEUE", "AWAY", "BREAK", "OFFLINE"]),
                }
            )
            r = t
            while r < t + length:
                step = timedelta(seconds=rng.randint(20, 900))
                routing.append(
                    {
                        "user_id": user_id,
                        "start_time": r,
                        "end_time": r + step,
                        "routing_status": rng.choice(["IDLE", "INTERACTING"]),
                    }
                )
                r += step
            t += length
    rng.shuffle(presence)
    rng.shuffle(routing)
    return presence_tables(presence, routing, users)
