"""The three Open Data Exporter reports: formatting, builders, templates, escaping, operator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reports_fixtures import (
    ODE_EXAMPLE,
    ODE_EXAMPLE_TEXT,
    conversation_tables,
    presence_tables,
    utc,
)

from contact_center_provider.exceptions import IntervalError
from contact_center_provider.transforms import genesys_schemas as gs
from contact_center_provider.transforms.reports import (
    REPORTS,
    UnknownReportError,
    default_template_dir,
    get_report,
    make_environment,
    render,
)
from contact_center_provider.transforms.reports.abandons import AbandonRow, abandon_rows, render_abandons
from contact_center_provider.transforms.reports.call_detail import call_detail_context
from contact_center_provider.transforms.reports.formatting import (
    flat_text_field,
    humanize_duration,
    interval_text,
    js_date_string,
    neutralize_cell,
)
from contact_center_provider.transforms.reports.presence import presence_context

DENVER = "America/Denver"
ODE_RUN = utc(2017, 1, 13, 17, 56, 45)
ODE_START, ODE_END = utc(2017, 1, 13, 17, 40), utc(2017, 1, 13, 17, 50)
EVIL_SCRIPT = "<script>alert(1)</script>"
EVIL_FORMULA = '=HYPERLINK("http://x")'
EVIL_PIPE = "Pipe|Name\nsecond line"


# --------------------------------------------------------------------------- helpers


class _Tables(HTMLParser):
    """Collects every <tr> of an HTML page as a list of cell texts (th and td)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(attributes["id"] or "")
        if tag == "a" and attributes.get("href"):
            self.hrefs.append(attributes["href"] or "")
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    parser.close()
    return parser


def render_call_detail(convs: list[dict[str, Any]]) -> str:
    t = conversation_tables(convs)
    context = call_detail_context(
        t["conversations"],
        t["participants"],
        t["sessions"],
        t["participant_attributes"],
        run_date=ODE_RUN,
        interval=interval_text(ODE_START, ODE_END, DENVER),
        tz=DENVER,
    )
    return render("call_detail.html.j2", context)


def render_presence(tables: dict[str, pa.Table], start: datetime, end: datetime) -> str:
    context = presence_context(
        tables["presence"],
        tables["routing_status"],
        tables["users"],
        tables["presence_definitions"],
        interval_start=start,
        interval_end=end,
        tz=DENVER,
        job_name="Presence job",
        run_date=ODE_RUN,
    )
    return render("presence.html.j2", context)


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("moment", "tz", "expected"),
    [
        (ODE_RUN, DENVER, "Fri Jan 13 2017 10:56:45 GMT-0700"),
        (ODE_RUN, "UTC", "Fri Jan 13 2017 17:56:45 GMT+0000"),
        (ODE_RUN, UTC, "Fri Jan 13 2017 17:56:45 GMT+0000"),
        (utc(2017, 7, 13, 17, 56, 45), DENVER, "Thu Jul 13 2017 11:56:45 GMT-0600"),  # DST
        (utc(2017, 1, 1, 0, 5, 0), "Asia/Kolkata", "Sun Jan 01 2017 05:35:00 GMT+0530"),
        (utc(2017, 1, 1, 0, 5, 0), "America/St_Johns", "Sat Dec 31 2016 20:35:00 GMT-0330"),
        (utc(2017, 1, 1, 0, 5, 0), "Asia/Kathmandu", "Sun Jan 01 2017 05:50:00 GMT+0545"),
        (datetime(2017, 1, 13, 17, 56, 45), DENVER, "Fri Jan 13 2017 10:56:45 GMT-0700"),  # naive = UTC
    ],
)
def test_js_date_string(moment: datetime, tz: Any, expected: str) -> None:
    assert js_date_string(moment, tz) == expected


def test_interval_text() -> None:
    assert interval_text(ODE_START, ODE_END, DENVER) == (
        "2017-01-13T10:40:00.000-0700/2017-01-13T10:50:00.000-0700"
    )
    assert interval_text(ODE_START, ODE_END + timedelta(milliseconds=7), "UTC") == (
        "2017-01-13T17:40:00.000+0000/2017-01-13T17:50:00.007+0000"
    )
    assert interval_text(ODE_START, ODE_END, "Asia/Kolkata") == (
        "2017-01-13T23:10:00.000+0530/2017-01-13T23:20:00.000+0530"
    )


SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (0, "a few seconds"),
        (44_499, "a few seconds"),  # rounds to 44 s: the last "few seconds"
        (44_500, "a minute"),  # rounds to 45 s
        (89_999, "a minute"),  # 1.49998 min rounds to 1
        (90_000, "2 minutes"),
        (44 * MINUTE + 29_999, "44 minutes"),
        (44 * MINUTE + 30_000, "an hour"),  # 44.5 min rounds to 45
        (90 * MINUTE - 1, "an hour"),
        (90 * MINUTE, "2 hours"),
        (21 * HOUR + 30 * MINUTE - 1, "21 hours"),
        (21 * HOUR + 30 * MINUTE, "a day"),  # 21.5 h rounds to 22
        (36 * HOUR - 1, "a day"),
        (36 * HOUR, "2 days"),
        (25 * DAY + 12 * HOUR - 1, "25 days"),
        (25 * DAY + 12 * HOUR, "a month"),  # 25.5 d rounds to 26
        (45 * DAY, "a month"),  # 1.478 months
        (46 * DAY, "2 months"),  # 1.511 months
        (319 * DAY, "10 months"),  # 10.48 months
        (320 * DAY, "a year"),  # 10.51 months rounds to 11
        (547 * DAY, "a year"),  # 1.4976 years
        (548 * DAY, "2 years"),  # 1.5004 years
        (10 * 365 * DAY, "10 years"),
        (-90 * MINUTE, "2 hours"),  # no suffix: the sign is ignored
    ],
)
def test_humanize_duration_matches_moment_thresholds(ms: int, expected: str) -> None:
    assert humanize_duration(ms) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("tel:+1555", "tel:+1555"),
        ("", ""),
    ],
)
def test_neutralize_cell(value: str, expected: str) -> None:
    assert neutralize_cell(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("a|b", "a\u00a6b"),
        ("a\r\nb\tc", "a b c"),
        ("a\u2028b\x85c", "a b c"),
        ("\n=cmd", " =cmd"),  # a leading space is not a formula
        ("=cmd|x", "'=cmd\u00a6x"),
        ("\t-1", " -1"),
        (42, "42"),
    ],
)
def test_flat_text_field(value: Any, expected: str) -> None:
    assert flat_text_field(value) == expected


# --------------------------------------------------------------------------- environment


def test_html_j2_autoescapes_and_txt_j2_does_not(tmp_path: Path) -> None:
    for name in ("x.html.j2", "x.txt.j2", "x.html", "x.xml.j2"):
        (tmp_path / name).write_text("{{ v }}")
    env = make_environment([tmp_path])
    assert env.get_template("x.html.j2").render(v="<b>&") == "&lt;b&gt;&amp;"
    assert env.get_template("x.html").render(v="<b>") == "&lt;b&gt;"
    assert env.get_template("x.xml.j2").render(v="<b>") == "&lt;b&gt;"
    assert env.get_template("x.txt.j2").render(v="<b>&") == "<b>&"


def test_environment_is_strict_and_keeps_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "t.txt.j2").write_text("{{ missing }}\n")
    (tmp_path / "n.txt.j2").write_text("{{ v }}\n")
    env = make_environment([tmp_path])
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("t.txt.j2").render()
    assert env.get_template("n.txt.j2").render(v="x") == "x\n"


def test_user_search_path_overrides_builtin(tmp_path: Path) -> None:
    (tmp_path / "abandons.txt.j2").write_text("{% for r in rows %}{{ r.conversation_id }};{% endfor %}\n")
    out = render(
        "abandons.txt.j2",
        {"rows": [{"conversation_id": "c1"}]},
        [tmp_path, default_template_dir()],
    )
    assert out == "c1;"  # trim_blocks eats the newline after a block tag
    assert (default_template_dir() / "presence.html.j2").is_file()


def test_registry_knows_three_reports_and_lists_them_on_error() -> None:
    assert set(REPORTS) == {"abandons", "call_detail", "presence"}
    for spec in REPORTS.values():
        assert (default_template_dir() / spec.template).is_file()
    with pytest.raises(UnknownReportError, match=r"abandons.*call_detail.*presence"):
        get_report("abandon")


def test_registry_rejects_unknown_params_and_missing_tables() -> None:
    spec = get_report("abandons")
    tables = spec.complete_tables(conversation_tables(ODE_EXAMPLE))
    with pytest.raises(TypeError, match="compnay"):
        spec.builder(tables, run_date="r", interval="i", compnay="x")
    with pytest.raises(TypeError, match="company"):
        spec.builder(tables, run_date="r", interval="i")
    with pytest.raises(ValueError, match="sessions"):
        spec.complete_tables(
            {"conversations": tables["conversations"], "participants": tables["participants"]}
        )
    filled = get_report("presence").complete_tables(
        {"presence": gs.PRESENCE.empty_table(), "routing_status": gs.ROUTING_STATUS.empty_table()}
    )
    assert filled["users"].schema == gs.USERS


# --------------------------------------------------------------------------- abandons


def test_abandon_file_matches_reference_byte_for_byte() -> None:
    t = conversation_tables(ODE_EXAMPLE)
    rows = abandon_rows(t["conversations"], t["participants"], t["sessions"])
    out = render_abandons(
        rows,
        run_date=js_date_string(ODE_RUN, DENVER),
        company="Genesys",
        interval=interval_text(ODE_START, ODE_END, DENVER),
    )
    assert out.encode("utf-8") == ODE_EXAMPLE_TEXT.encode("utf-8")


def test_abandon_file_via_registry_builder_is_identical() -> None:
    spec = get_report("abandons")
    context = spec.builder(
        conversation_tables(ODE_EXAMPLE),
        run_date=js_date_string(ODE_RUN, DENVER),
        interval=interval_text(ODE_START, ODE_END, DENVER),
        interval_start=ODE_START,
        interval_end=ODE_END,
        tz=DENVER,
        company="Genesys",
    )
    assert render(spec.template, context) == ODE_EXAMPLE_TEXT


def test_abandon_file_with_zero_rows_is_the_seven_header_lines() -> None:
    t = conversation_tables([])
    rows = abandon_rows(t["conversations"], t["participants"], t["sessions"])
    out = render_abandons(
        rows,
        run_date=ODE_RUN,
        tz=DENVER,
        company="Genesys",
        interval=interval_text(ODE_START, ODE_END, DENVER),
    )
    assert out == "".join(ODE_EXAMPLE_TEXT.splitlines(keepends=True)[:7])
    assert out.count("\n") == 7 and out.endswith("ANI\n")


def test_abandon_rows_order_and_missing_values() -> None:
    same = utc(2017, 1, 13, 17, 45)
    t = conversation_tables(
        [
            {"id": "late", "start": utc(2017, 1, 13, 17, 49), "participants": []},
            {"id": "b", "start": same, "participants": [{"id": "x", "purpose": "customer", "sessions": []}]},
            {"id": "a", "start": same, "participants": [{"id": "y", "purpose": "acd", "name": "Q"}]},
            {"id": "nostart", "start": None, "participants": []},
        ]
    )
    rows = abandon_rows(t["conversations"], t["participants"], t["sessions"])
    assert [r.conversation_id for r in rows] == ["a", "b", "late", "nostart"]
    assert rows[0] == AbandonRow("a", "Q", None, None)
    out = render_abandons(rows, run_date="R", company="C", interval="I")
    assert out.splitlines()[7:] == ["a|Q||", "b|||", "late|||", "nostart|||"]


# --------------------------------------------------------------------------- call detail


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


def test_call_detail_several_conversations() -> None:
    html = render_call_detail(CALL_DETAIL_CONVS)
    assert "<title>Call Data Report</title>" in html
    assert "<h1>Call Data Report</h1>" in html
    assert "Run date: Fri Jan 13 2017 10:56:45 GMT-0700" in html
    assert "Interval: 2017-01-13T10:40:00.000-0700/2017-01-13T10:50:00.000-0700 (PT1H)" in html
    assert "Conversations: 2" in html
    assert "<h2>Call Data</h2>" in html
    rows = parse(html).rows
    assert rows == [
        ["Purpose", "Name", "ANI", "DNIS", "Direction", "Account"],
        ["Conversation conv-1"],
        ["customer", "Australia", "tel:+610209985555", "unknown", "inbound", ""],
        ["Conversation conv-2"],
        ["customer", "Spencer TN", "tel:+19319465555", "tel:+18005550100", "inbound", "A-42"],
        ["agent", "No Name", "unknown", "unknown", "unknown", ""],
    ]
    assert 'colspan="6"' in html


def test_call_detail_one_conversation() -> None:
    html = render_call_detail(CALL_DETAIL_CONVS[1:])
    assert "Conversations: 1" in html
    assert parse(html).rows[1:] == [
        ["Conversation conv-1"],
        ["customer", "Australia", "tel:+610209985555", "unknown", "inbound", ""],
    ]


def test_call_detail_zero_conversations() -> None:
    html = render_call_detail([])
    assert "Conversations: 0" in html
    rows = parse(html).rows
    assert rows[0] == ["Purpose", "Name", "ANI", "DNIS", "Direction", "Account"]
    assert rows[1:] == [["No conversations in this interval."]]


def test_call_detail_without_attributes_table() -> None:
    t = conversation_tables(CALL_DETAIL_CONVS)
    context = call_detail_context(
        t["conversations"], t["participants"], t["sessions"], None, run_date="R", interval="I"
    )
    assert [r["account"] for c in context["conversations"] for r in c["rows"]] == ["", "", ""]


# --------------------------------------------------------------------------- presence

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


def test_presence_context_several_users() -> None:
    t = presence_example()
    ctx = presence_context(
        t["presence"],
        t["routing_status"],
        t["users"],
        t["presence_definitions"],
        interval_start=P_START,
        interval_end=P_END,
        tz=DENVER,
        job_name="Presence job",
        run_date=ODE_RUN,
    )
    assert ctx["interval"] == "2017-01-13T10:00:00.000-0700/2017-01-13T11:00:00.000-0700"
    assert [(u["user_id"], u["name"]) for u in ctx["users"]] == [
        ("u-bob", "Bob"),
        ("u-alice", "Alice"),
        ("u-ghost", "u-ghost"),
    ]
    alice = ctx["users"][1]
    assert [(e["kind"], e["label"], e["duration"]) for e in alice["events"]] == [
        ("presence", "AVAILABLE", "30 minutes"),
        ("routing", "IDLE", "a minute"),
        ("presence", "Lunch", "25 minutes"),  # open-ended: ends at the interval end
    ]
    assert alice["events"][2]["end_iso"] == "2017-01-13T11:00:00.000-0700" and alice["events"][2]["open"]
    assert [(t["label"], t["ms"]) for t in alice["presence_totals"]] == [
        ("AVAILABLE", 30 * MINUTE),
        ("Lunch", 25 * MINUTE),
    ]
    bob = ctx["users"][0]
    # An unresolved definition id falls back to the system presence; the row keeps its full
    # length, the total only the part inside the interval.
    assert bob["events"][0]["label"] == "ON_QUEUE" and bob["events"][0]["duration"] == "an hour"
    assert bob["presence_totals"][0]["ms"] == 30 * MINUTE and bob["presence_totals"][0]["percent"] == "50.0"
    # Timeline geometry: 130 units of labels, then 845 units for the hour.
    rect = bob["timeline"]["lanes"][0]["rects"][0]
    assert (rect["x"], rect["width"]) == (130, 422.5)
    assert "ON_QUEUE" in rect["title"]
    assert [tick["label"] for tick in bob["timeline"]["ticks"]] == [
        "10:00",
        "10:10",
        "10:20",
        "10:30",
        "10:40",
        "10:50",
        "11:00",
    ]


def test_presence_html_several_users() -> None:
    html = render_presence(presence_example(), P_START, P_END)
    assert (
        "<h1>Presence job <small>2017-01-13T10:00:00.000-0700/2017-01-13T11:00:00.000-0700</small></h1>"
        in html
    )
    page = parse(html)
    # The selector links resolve to the user sections, in first-appearance order.
    user_links = [h for h in page.hrefs if h.startswith("#user-")]
    assert user_links == ["#user-1", "#user-2", "#user-3"]
    assert all(link[1:] in page.ids for link in user_links)
    assert html.index(">Bob</a>") < html.index(">Alice</a>") < html.index(">u-ghost</a>")
    assert ["", "", "", "", "IDLE", "2017-01-13 10:05:00", "2017-01-13 10:06:00", "a minute"] in page.rows
    assert html.count("<svg") == 3
    assert "<script" not in html.lower() and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


def test_presence_html_one_and_zero_users() -> None:
    t = presence_example()
    one = presence_tables(t["presence"].slice(2, 1).to_pylist(), [], t["users"].to_pylist())
    html = render_presence(one, P_START, P_END)
    assert html.count("<svg") == 1 and "Users: 1" in html and ">Bob</a>" in html
    empty = render_presence(presence_tables([], []), P_START, P_END)
    assert "Users: 0" in empty and "No presence or routing status records" in empty
    assert "<svg" not in empty


def test_presence_rejects_an_empty_interval() -> None:
    t = presence_tables([], [])
    with pytest.raises(ValueError, match="not after"):
        presence_context(
            t["presence"],
            t["routing_status"],
            None,
            None,
            interval_start=P_END,
            interval_end=P_END,
            tz="UTC",
            job_name="j",
            run_date="r",
        )


# --------------------------------------------------------------------------- injection

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


def test_injection_is_inert_in_the_abandon_file() -> None:
    t = conversation_tables(EVIL_CONVS)
    spec = get_report("abandons")
    out = render(
        spec.template,
        spec.builder(t, run_date="R", interval="I", company="Evil\nCorp|=1", job_name="J\r\nob"),
    )
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == 7 + 3 + 1
    assert lines[2] == "Company: Evil Corp\u00a6=1" and lines[4] == "Job: J ob"
    rows = [line.split("|") for line in lines[7:-1]]
    assert all(len(fields) == 4 for fields in rows)
    assert all(not field.startswith(("=", "+", "-", "@")) for fields in rows for field in fields)
    assert rows[0][1:] == [EVIL_SCRIPT] * 3  # plain text file: nothing to escape
    assert rows[1][1:] == ["'" + EVIL_FORMULA] * 3
    assert rows[2][1:] == ["Pipe\u00a6Name second line"] * 3


def test_injection_is_inert_in_call_detail_html() -> None:
    html = render_call_detail(EVIL_CONVS)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = parse(html)
    assert "script" not in page.tags
    cells = [row for row in page.rows if row and row[0] == "customer"]
    assert [row[1] for row in cells] == [EVIL_SCRIPT, EVIL_FORMULA, EVIL_PIPE]
    assert all(
        len(row) == 6 for row in page.rows[1:] if row[0] != "" and not row[0].startswith("Conversation")
    )


def test_injection_is_inert_in_presence_html() -> None:
    t = presence_tables(
        presence=[
            {
                "user_id": f"u{n}",
                "start_time": utc(2017, 1, 13, 17, n),
                "end_time": None,
                "system_presence": name,
                "organization_presence_id": f"d{n}",
            }
            for n, name in enumerate([EVIL_SCRIPT, EVIL_FORMULA, EVIL_PIPE])
        ],
        routing=[{"user_id": "u0", "start_time": P_START, "end_time": None, "routing_status": EVIL_SCRIPT}],
        users=[
            {"user_id": "u0", "name": EVIL_SCRIPT},
            {"user_id": "u1", "name": '"><img src=x onerror=alert(1)>'},
        ],
        definitions=[{"presence_definition_id": "d2", "system_presence": "BUSY", "label": EVIL_SCRIPT}],
    )
    html = render_presence(t, P_START, P_END)
    page = parse(html)
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "script" not in page.tags and "img" not in page.tags
    assert (
        f"{EVIL_SCRIPT}: 10:00:00 - 11:00:00 (open) (an hour)".replace("<", "&lt;").replace(">", "&gt;")
        in html
    )


# --------------------------------------------------------------------------- operator (no DB needed)


def _write_parquet(directory: Path, tables: dict[str, pa.Table], split: bool = False) -> dict[str, str]:
    uris = {}
    for name, tbl in tables.items():
        target = directory / name
        target.mkdir(parents=True)
        if split and tbl.num_rows > 1:
            pq.write_table(tbl.slice(0, 1), target / "part-0.parquet")
            pq.write_table(tbl.slice(1), target / "part-1.parquet")
            (target / "_manifest.json").write_text("{}")
        else:
            pq.write_table(tbl, target / "part-0.parquet")
        uris[name] = str(target)
    return uris


def _context(start: datetime | None = ODE_START, end: datetime | None = ODE_END) -> dict[str, Any]:
    return {
        "dag_run": SimpleNamespace(run_after=ODE_RUN),
        "data_interval_start": start,
        "data_interval_end": end,
    }


def test_operator_renders_the_abandon_file_from_parquet(tmp_path: Path) -> None:
    from contact_center_provider.operators.render import RenderReportOperator

    tables = conversation_tables(ODE_EXAMPLE)
    inputs = _write_parquet(
        tmp_path / "tables", {k: tables[k] for k in ("conversations", "participants", "sessions")}, split=True
    )
    out = tmp_path / "reports" / "abandons" / "2017-01-13T17" / "abandons.txt"
    op = RenderReportOperator(
        task_id="render_abandons",
        report="abandons",
        inputs=inputs,
        output_uri=str(out),
        report_params={"company": "Genesys"},
        time_zone=DENVER,
    )
    result = op.execute(_context())
    assert out.read_bytes() == ODE_EXAMPLE_TEXT.encode()
    assert result == {"uri": str(out), "bytes": len(ODE_EXAMPLE_TEXT.encode()), "report": "abandons"}
    assert json.loads(json.dumps(result)) == result
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no temp files left


def test_operator_custom_template_and_builder(tmp_path: Path) -> None:
    from contact_center_provider.operators.render import RenderReportOperator

    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "count.html.j2").write_text("<p>{{ n }} users in {{ interval }} for {{ who }}</p>\n")
    tables = presence_example()
    inputs = _write_parquet(tmp_path / "tables", {"presence": tables["presence"]})
    out = tmp_path / "count.html"
    op = RenderReportOperator(
        task_id="custom",
        template="count.html.j2",
        builder="reports_builders_for_tests:count_users",
        inputs=inputs,
        output_uri=f"file://{out}",
        report_params={"who": "<Ops>"},
        interval_start="2017-01-13T17:00:00+00:00",
        interval_end="2017-01-13T18:00:00+00:00",
        template_searchpath=[str(tmp_path / "tpl")],
    )
    result = op.execute(_context(None, None))
    assert out.read_text() == (
        "<p>2 users in 2017-01-13T17:00:00.000+0000/2017-01-13T18:00:00.000+0000 for &lt;Ops&gt;</p>\n"
    )
    assert result["report"] == "count.html.j2"


def test_operator_errors_are_explicit(tmp_path: Path) -> None:
    from contact_center_provider.operators.render import BUILTIN_REPORTS, RenderReportOperator

    assert set(BUILTIN_REPORTS) == set(REPORTS)
    with pytest.raises(ValueError, match="unknown report 'abandon'"):
        RenderReportOperator(task_id="x", report="abandon", inputs={}, output_uri="x")
    with pytest.raises(ValueError, match="template= and builder="):
        RenderReportOperator(task_id="x", template="t.html.j2", inputs={}, output_uri="x")
    op = RenderReportOperator(
        task_id="no_interval", report="presence", inputs={"presence": str(tmp_path / "none")}, output_uri="x"
    )
    with pytest.raises(IntervalError, match="no data interval"):
        op.execute(_context(None, None))
    with pytest.raises(FileNotFoundError, match=r"no \.parquet"):
        op.execute(_context())
