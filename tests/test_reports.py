"""The three Open Data Exporter reports: formatting, builders, templates, escaping, operator, time zones."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pyarrow as pa
import pytest
from reports_fixtures import (
    CALL_DETAIL_CONVS,
    EVIL_CONVS,
    EVIL_FORMULA,
    EVIL_PIPE,
    EVIL_SCRIPT,
    ODE_EXAMPLE,
    ODE_EXAMPLE_TEXT,
    P_END,
    P_START,
    conversation_tables,
    parse,
    presence_example,
    presence_tables,
    random_presence,
    render_report,
    utc,
    write_parquet,
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
from contact_center_provider.transforms.reports.formatting import (
    flat_text_field,
    humanize_duration,
    interval_text,
    js_date_string,
    neutralize_cell,
)

DENVER = "America/Denver"
DUBLIN = "Europe/Dublin"
ODE_RUN = utc(2017, 1, 13, 17, 56, 45)
ODE_START, ODE_END = utc(2017, 1, 13, 17, 40), utc(2017, 1, 13, 17, 50)
CALL_COLUMNS = ["Purpose", "Name", "ANI", "DNIS", "Direction", "Account"]
EVENT_HEADER = ["Start Time", "End Time", "Duration"]


def call_detail(convs: list[dict[str, Any]], **params: Any) -> Any:
    return render_report(
        "call_detail",
        conversation_tables(convs),
        start=ODE_START,
        end=ODE_END,
        tz=DENVER,
        run_after=ODE_RUN,
        **params,
    )


def presence(
    tables: dict[str, pa.Table], start: datetime = P_START, end: datetime = P_END, **params: Any
) -> Any:
    return render_report(
        "presence",
        tables,
        start=start,
        end=end,
        tz=params.pop("tz", DENVER),
        run_after=ODE_RUN,
        **{"job_name": "Presence job", **params},
    )


def agent_pages(rendered: Any) -> dict[str, str]:
    """Agent page HTML by agent name (the page's h1 without the user id)."""
    out = {}
    for html in rendered.files.values():
        if "All agents</a>" in html:
            out[html.split("<h1>", 1)[1].split(" <small>", 1)[0].split("</h1>", 1)[0]] = html
    return out


def index_rows(html: str) -> list[list[str]]:
    return parse(html).tables[0][1:]


def event_tables(html: str) -> tuple[list[list[str]], list[list[str]]]:
    """The presence and routing events tables of an agent page, without their header rows."""
    tables = [t for t in parse(html).tables if t and t[0][1:4] == EVENT_HEADER]
    return tables[0][1:], tables[1][1:]


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


def test_call_detail_several_conversations() -> None:
    out = call_detail(CALL_DETAIL_CONVS)
    html = out.main
    assert "<title>Call Data Report</title>" in html and "<h1>Call Data Report</h1>" in html
    assert "Run date: Fri Jan 13 2017 10:56:45 GMT-0700" in html
    assert "Interval: 2017-01-13T10:40:00.000-0700/2017-01-13T10:50:00.000-0700 (PT1H)" in html
    assert "Conversations: 2" in html and "<h2>Call Data</h2>" in html
    rows = parse(html).tables[-1]
    assert rows[0] == CALL_COLUMNS
    assert [r[0].split(" Start ")[0] if len(r) == 1 else r for r in rows[1:]] == [
        "Conversation conv-1",
        ["customer", "Australia", "tel:+610209985555", "unknown", "inbound", ""],
        "Conversation conv-2",
        ["customer", "Spencer TN", "tel:+19319465555", "tel:+18005550100", "inbound", "A-42"],
        ["agent", "No Name", "unknown", "unknown", "unknown", ""],
    ]
    assert 'colspan="6"' in html and out.files == {} and out.summary["pages"] == 1


def test_call_detail_facts_and_totals() -> None:
    base = utc(2017, 1, 13, 17, 41)
    convs = [
        {  # answered after 45 s in queue, handled for 5 minutes
            "id": "answered",
            "start": base,
            "end": base + timedelta(minutes=7, seconds=3),
            "participants": [
                {"id": "a-c", "purpose": "customer", "name": "Ann", "sessions": [{"ani": "tel:+1"}]},
                {
                    "id": "a-q",
                    "purpose": "acd",
                    "name": "Sales",
                    "sessions": [{"metrics": {"tAcd": 45_000, "nOffered": 1}}],
                },
                {
                    "id": "a-a",
                    "purpose": "agent",
                    "name": "Bo",
                    "sessions": [{"metrics": {"tAnswered": 9_000, "tHandle": 300_000}}],
                },
            ],
        },
        {  # abandoned after 20 s, two queues: the last one is shown
            "id": "abandoned",
            "start": base + timedelta(minutes=1),
            "end": base + timedelta(minutes=1, seconds=20),
            "participants": [
                {"id": "b-q1", "purpose": "acd", "name": "Sales", "sessions": [{"metrics": {"tAcd": 5_000}}]},
                {
                    "id": "b-q2",
                    "purpose": "acd",
                    "name": "Help Desk",
                    "sessions": [{"metrics": {"tAcd": 15_000, "tAbandon": 15_000}}],
                },
            ],
        },
        {"id": "open", "start": base + timedelta(minutes=2), "participants": []},  # still going: no end
    ]
    out = call_detail(convs)
    page = parse(out.main)
    assert dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", out.main)) == {
        "Conversations": "3",
        "Answered": "1",
        "Abandoned": "1",
        "Average handle time": "0:05:00",
        "Average wait": "0:00:32",  # (45 s + 20 s) / 2 conversations that waited
    }
    headers = [r[0] for r in page.tables[-1][1:] if len(r) == 1]
    assert headers == [
        "Conversation answered Start 2017-01-13 10:41:00 Duration 0:07:03 Queue Sales Wait 0:00:45 Answered",
        "Conversation abandoned Start 2017-01-13 10:42:00 Duration 0:00:20 Queue Help Desk Wait 0:00:20 Abandoned",
        "Conversation open Start 2017-01-13 10:43:00 Duration open Queue none Wait none",
    ]
    assert out.summary == {"conversations": 3, "answered": 1, "abandoned": 1, "pages": 1}


def test_call_detail_pages_per_hour_with_totals_first() -> None:
    # Five conversations over two local hours, two per page: hour 10 -> 2 pages, hour 11 -> 1 page.
    starts = [utc(2017, 1, 13, 17, m) for m in (5, 20, 59)] + [utc(2017, 1, 13, 18, m) for m in (0, 30)]
    convs = [
        {"id": f"c{n}", "start": s, "participants": [{"id": f"p{n}", "purpose": "customer"}]}
        for n, s in enumerate(starts)
    ]
    out = call_detail(list(reversed(convs)), page_size=2)
    main = parse(out.main)
    assert "Conversations: 5" in out.main and "<h2>Call Data</h2>" not in out.main
    assert main.tables[-1][1:] == [
        ["1", "2017-01-13 10:00:00 - 11:00:00 (1/2)", "2", "0", "0", "2017-01-13 10:05:00"],
        ["2", "2017-01-13 10:00:00 - 11:00:00 (2/2)", "1", "0", "0", "2017-01-13 10:59:00"],
        ["3", "2017-01-13 11:00:00 - 12:00:00", "2", "0", "0", "2017-01-13 11:00:00"],
    ]
    links = list(dict.fromkeys(h for h in main.hrefs if h.startswith("call_detail_files/")))
    assert links == sorted(out.files) and len(links) == 3
    ids = [
        [r[0].split()[1] for r in parse(out.files[link]).tables[-1][1:] if len(r) == 1]
        for link in dict.fromkeys(links)
    ]
    assert ids == [["c0", "c1"], ["c2"], ["c3", "c4"]]
    assert all('href="../call_detail.html"' in html for html in out.files.values())
    assert out.summary["pages"] == 4


def test_call_detail_one_and_zero_conversations() -> None:
    one = call_detail(CALL_DETAIL_CONVS[1:])
    assert "Conversations: 1" in one.main
    assert parse(one.main).tables[-1][2:] == [
        ["customer", "Australia", "tel:+610209985555", "unknown", "inbound", ""]
    ]
    empty = call_detail([])
    assert "Conversations: 0" in empty.main
    assert parse(empty.main).tables[-1][1:] == [["No conversations in this interval."]]


def test_call_detail_without_optional_tables() -> None:
    tables = conversation_tables(CALL_DETAIL_CONVS)
    for name in ("participant_attributes", "session_metrics"):
        del tables[name]
    out = render_report("call_detail", tables, start=ODE_START, end=ODE_END, tz="UTC")
    rows = [r for r in parse(out.main).tables[-1][1:] if len(r) == 6]
    assert [r[5] for r in rows] == ["", "", ""]
    with pytest.raises(ValueError, match="page_size"):
        call_detail(CALL_DETAIL_CONVS, page_size=0)
    with pytest.raises(ValueError, match="unknown metric roles"):
        call_detail(CALL_DETAIL_CONVS, metrics={"waiting": "tAcd"})


# --------------------------------------------------------------------------- presence


def test_presence_index_sorted_by_name_with_totals() -> None:
    out = presence(presence_example())
    assert (
        "<h1>Presence job <small>2017-01-13T10:00:00.000-0700/2017-01-13T11:00:00.000-0700</small></h1>"
        in out.main
    )
    page = parse(out.main)
    header = page.tables[0][0]
    assert header == [
        "Agent",
        "AVAILABLE Presence",
        "ON QUEUE Presence",
        "BUSY Presence",
        "OFF QUEUE Routing status",
        "IDLE Routing status",
    ]
    assert index_rows(out.main) == [
        ["Alice", "0:30:00", "", "0:25:00", "", "0:01:00"],
        ["Bob", "", "0:30:00", "", "", ""],
        ["u-ghost", "", "", "", "0:10:00", ""],
    ]
    # CSS sort keys: per column the rank by time (longest first); no key without time.
    assert [a.get("style") for a in page.row_attrs[1:]] == ["--c0:1;--c2:1;--c4:1", "--c1:1", "--c3:1"]
    for key in ("c0", "c1", "c2", "c3", "c4"):
        assert f"table.agents:has(#by-{key}:target) tbody tr {{ order: var(--{key}, 999999); }}" in out.main
    links = [h for h in page.hrefs if h.startswith("presence_files/")]
    assert sorted(links) == sorted(out.files) and len(links) == 3
    assert out.summary == {"agents": 3, "records": 5, "spans": 5}


def test_presence_agent_pages_events_side_by_side() -> None:
    pages = agent_pages(presence(presence_example()))
    assert set(pages) == {"Alice", "Bob", "u-ghost"}
    alice_presence, alice_routing = event_tables(pages["Alice"])
    assert alice_presence == [
        ["AVAILABLE", "2017-01-13 10:05:00", "2017-01-13 10:35:00", "0:30:00", "30 minutes"],
        ["Lunch", "2017-01-13 10:35:00", "2017-01-13 11:00:00 (open)", "0:25:00", "25 minutes"],
    ]
    assert alice_routing == [["IDLE", "2017-01-13 10:05:00", "2017-01-13 10:06:00", "0:01:00", "a minute"]]
    bob_presence, bob_routing = event_tables(pages["Bob"])
    # An unresolved definition id falls back to the system presence; the row keeps its full
    # length, the total only the part inside the interval.
    assert bob_presence == [["ON_QUEUE", "2017-01-13 09:30:00", "2017-01-13 10:30:00", "1:00:00", "an hour"]]
    assert bob_routing == [["None"]]
    totals = [t for t in parse(pages["Bob"]).tables if t[0][1:] == ["h:mm:ss", "Total", "%"]]
    assert totals[0][1:] == [["ON_QUEUE", "0:30:00", "30 minutes", "50.0"]] and totals[1][1:] == [["None"]]
    # Timeline geometry: 130 units of labels, then 845 units for the hour.
    assert (
        '<rect x="130" y="8" width="422.5" height="26" fill="#1e88e5"><title>ON_QUEUE: 09:30:00 - 10:30:00 (1:00:00)</title></rect>'
        in pages["Bob"]
    )
    ticks = [
        line.split(">")[1].split("<")[0]
        for line in pages["Bob"].splitlines()
        if 'text-anchor="middle"' in line
    ]
    assert ticks == ["10:00", "10:10", "10:20", "10:30", "10:40", "10:50", "11:00"]
    assert 'href="../presence.html"' in pages["Bob"]


def test_presence_exact_durations_beside_humanised_ones() -> None:
    # The example: 45:46 read "an hour" next to 43:57 reading "44 minutes".
    t0 = utc(2017, 1, 13, 17)
    tables = presence_tables(
        presence=[
            {
                "user_id": "u",
                "start_time": t0,
                "end_time": t0 + timedelta(minutes=45, seconds=46),
                "system_presence": "AWAY",
            },
            {
                "user_id": "u",
                "start_time": t0 + timedelta(minutes=45, seconds=46),
                "end_time": t0 + timedelta(minutes=89, seconds=43),
                "system_presence": "BREAK",
            },
        ],
        routing=[],
    )
    rows, _ = event_tables(agent_pages(presence(tables, end=t0 + timedelta(hours=2)))["u"])
    assert [(r[0], r[3], r[4]) for r in rows] == [
        ("AWAY", "0:45:46", "an hour"),
        ("BREAK", "0:43:57", "44 minutes"),
    ]


def test_consecutive_records_merge_into_spans() -> None:
    t0 = utc(2017, 1, 13, 17)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    routing = [
        ("INTERACTING", 20, 30),  # out of order on purpose
        ("IDLE", 0, 5),
        ("IDLE", 5, 10),
        ("INTERACTING", 10, 20),
        ("IDLE", 35, 40),  # after a gap: a new span
        ("IDLE", 40, 50),
    ]
    tables = presence_tables(
        presence=[],
        routing=[
            {"user_id": "u", "start_time": at(a), "end_time": at(b), "routing_status": s}
            for s, a, b in routing
        ],
    )
    out = presence(tables, tz="UTC")
    page = agent_pages(out)["u"]
    _, rows = event_tables(page)
    assert [(r[0], r[1][-8:], r[2][-8:], r[3]) for r in rows] == [
        ("IDLE \u00d72", "17:00:00", "17:10:00", "0:10:00"),
        ("INTERACTING \u00d72", "17:10:00", "17:30:00", "0:20:00"),
        ("IDLE \u00d72", "17:35:00", "17:50:00", "0:15:00"),
    ]
    assert page.count("<rect x=") == 3 and out.summary == {"agents": 1, "records": 6, "spans": 3}
    assert index_rows(out.main) == [["u", "0:25:00", "0:20:00"]]  # IDLE, INTERACTING


def test_presence_one_and_zero_users() -> None:
    t = presence_example()
    one = presence(presence_tables(t["presence"].slice(2, 1).to_pylist(), [], t["users"].to_pylist()))
    assert "Agents: 1" in one.main and index_rows(one.main) == [["Bob", "0:30:00"]] and len(one.files) == 1
    empty = presence(presence_tables([], []))
    assert "Agents: 0" in empty.main and "No presence or routing status records" in empty.main
    assert empty.files == {} and "<svg" not in empty.main


def test_presence_rejects_an_empty_interval_and_an_unknown_group() -> None:
    with pytest.raises(ValueError, match="not after"):
        presence(presence_tables([], []), start=P_END, end=P_END)
    with pytest.raises(ValueError, match="group_by='team_id' is not a column of the users table"):
        presence(presence_example(), group_by="team_id")


def test_presence_grouped_by_division() -> None:
    start, end = utc(2024, 5, 1), utc(2024, 5, 2)
    tables = random_presence(12, start, end)
    out = render_report("presence", tables, start=start, end=end, tz="UTC", group_by="division_id")
    main = parse(out.main)
    assert main.tables[0][1:] == [[f"div-{n}", "3"] for n in range(4)]
    assert out.summary["groups"] == 4 and out.summary["agents"] == 12
    for n, link in enumerate(h for h in main.hrefs if h.startswith("presence_files/group-")):
        group = out.files[link]
        assert f"Group: div-{n}" in group and 'href="../presence.html">All groups' in group
        names = [r[0] for r in index_rows(group)]
        assert names == sorted(names, key=str.casefold) and len(names) == 3
        assert [r[1] for r in index_rows(group)] == [f"div-{n}"] * 3
        for href in parse(group).hrefs:
            if href.startswith("../presence_files/"):
                assert href.removeprefix("../") in out.files


def test_spilled_grouping_renders_the_same_bytes() -> None:
    # Far more rows than max_rows: records go through the spill buckets; the output must not change.
    start, end = utc(2024, 5, 1), utc(2024, 5, 2)
    tables = random_presence(25, start, end, seed=3)
    assert tables["routing_status"].num_rows > 20 * 200
    in_memory = render_report("presence", tables, start=start, end=end, tz=DENVER)
    spilled = render_report("presence", tables, start=start, end=end, tz=DENVER, max_rows=200)
    assert spilled.main == in_memory.main and spilled.files == in_memory.files
    assert in_memory.summary["agents"] == 25


def test_presence_on_the_dublin_spring_dst_day() -> None:
    # 29 March 2026: Dublin goes from GMT to IST at 01:00 UTC; the local day lasts 23 hours.
    start, end = utc(2026, 3, 29, 0), utc(2026, 3, 29, 23)
    tables = presence_tables(
        presence=[
            {
                "user_id": "u",
                "start_time": utc(2026, 3, 28, 20),
                "end_time": utc(2026, 3, 29, 0, 30),
                "system_presence": "OFFLINE",
            },
            {
                "user_id": "u",
                "start_time": utc(2026, 3, 29, 0, 30),
                "end_time": utc(2026, 3, 29, 1, 30),
                "system_presence": "AVAILABLE",
            },
            {
                "user_id": "u",
                "start_time": utc(2026, 3, 29, 1, 30),
                "end_time": None,
                "system_presence": "OFFLINE",
            },
        ],
        routing=[],
    )
    out = presence(tables, start=start, end=end, tz=DUBLIN)
    assert "2026-03-29T00:00:00.000+0000/2026-03-30T00:00:00.000+0100" in out.main
    assert "Interval length 23:00:00" in out.main and "Times in Europe/Dublin" in out.main
    assert index_rows(out.main) == [["u", "1:00:00", "22:00:00"]]  # totals add up to the 23-hour day
    page = agent_pages(out)["u"]
    rows, _ = event_tables(page)
    assert [r[:3] for r in rows] == [
        ["OFFLINE", "2026-03-28 20:00:00 +0000", "2026-03-29 00:30:00 +0000"],
        ["AVAILABLE", "2026-03-29 00:30:00 +0000", "2026-03-29 02:30:00 +0100"],
        ["OFFLINE", "2026-03-29 02:30:00 +0100", "2026-03-30 00:00:00 +0100 (open)"],
    ]
    assert rows[1][3] == "1:00:00"  # the wall clock says 2 hours; the agent was available for one
    ticks = [line.split(">")[1].split("<")[0] for line in page.splitlines() if 'text-anchor="middle"' in line]
    assert ticks == ["00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "00:00"]


# --------------------------------------------------------------------------- injection


def test_injection_is_inert_in_the_abandon_file() -> None:
    t = conversation_tables(EVIL_CONVS)
    spec = get_report("abandons")
    out = render(
        spec.template,
        spec.builder(t, run_date="R", interval="I", company="Evil\nCorp|=1", job_name="J\r\nob"),  # type: ignore[misc]
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
    for out in (call_detail(EVIL_CONVS), call_detail(EVIL_CONVS, page_size=1)):
        for html in (out.main, *out.files.values()):
            assert "<script" not in html.lower() and "script" not in parse(html).tags
        pages = [out.main] if not out.files else list(out.files.values())
        cells = [row for html in pages for row in parse(html).rows if row and row[0] == "customer"]
        assert [row[1] for row in cells] == [EVIL_SCRIPT, EVIL_FORMULA, " ".join(EVIL_PIPE.split())]
        assert all(len(row) == 6 for row in cells)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in call_detail(EVIL_CONVS).main


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
            {"user_id": "u0", "name": EVIL_SCRIPT, "division_id": '"><b>'},
            {"user_id": "u1", "name": '"><img src=x onerror=alert(1)>'},
        ],
        definitions=[{"presence_definition_id": "d2", "system_presence": "BUSY", "label": EVIL_SCRIPT}],
    )
    for out in (presence(t), presence(t, group_by="division_id")):
        for html in (out.main, *out.files.values()):
            page = parse(html)
            # One script: the index's own filter box, which reads no data from the page's text into HTML.
            assert html.lower().count("<script") <= 1 and "<img" not in html.lower() and "<b>" not in html
            assert "img" not in page.tags and "b" not in page.tags
    pages = agent_pages(presence(t))
    tooltip = f"{EVIL_SCRIPT}: 10:00:00 - 11:00:00 (open) (1:00:00)".replace("<", "&lt;").replace(">", "&gt;")
    assert tooltip in pages[EVIL_SCRIPT.replace("<", "&lt;").replace(">", "&gt;")]


# --------------------------------------------------------------------------- operator (no DB needed)


def _context(
    start: datetime | None = ODE_START, end: datetime | None = ODE_END, run_after: datetime = ODE_RUN
) -> Any:
    return {
        "dag_run": SimpleNamespace(run_after=run_after),
        "data_interval_start": start,
        "data_interval_end": end,
    }


def _linked_files_exist(main: Path) -> list[Path]:
    """Every secondary file the main page links to (checked to exist)."""
    linked = [main.parent / h for h in parse(main.read_text()).hrefs if "_files/" in h]
    assert linked and all(p.is_file() for p in linked), main
    return linked


def test_operator_renders_the_abandon_file_from_parquet(tmp_path: Path) -> None:
    from contact_center_provider.operators.render import RenderReportOperator

    tables = conversation_tables(ODE_EXAMPLE)
    inputs = write_parquet(
        tmp_path / "tables", {k: tables[k] for k in ("conversations", "participants", "sessions")}, split=True
    )
    out = tmp_path / "reports" / "abandons.txt"
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
    size = len(ODE_EXAMPLE_TEXT.encode())
    assert result == {"report": "abandons", "uri": str(out), "files": 1, "bytes": size, "removed": 0}
    assert json.loads(json.dumps(result)) == result
    assert [p.name for p in out.parent.iterdir()] == ["abandons.txt"]  # no temp files left


def test_operator_publishes_presence_under_its_partition(tmp_path: Path) -> None:
    from contact_center_provider.operators.render import RenderReportOperator

    inputs = write_parquet(tmp_path / "tables", presence_example())
    op = RenderReportOperator(
        task_id="render_presence",
        report="presence",
        inputs=inputs,
        output_base_uri=(tmp_path / "out").as_uri(),
        report_params={"job_name": "Presence"},
        time_zone=DENVER,
    )
    result = op.execute(_context(P_START, P_END))
    folder = tmp_path / "out/reports/presence/interval_start=20170113T170000Z/interval_end=20170113T180000Z"
    main = folder / "presence.html"
    assert result == {
        "report": "presence",
        "uri": (tmp_path / "out").as_uri()
        + "/reports/presence/interval_start=20170113T170000Z/interval_end=20170113T180000Z/presence.html",
        "files": 4,
        "bytes": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        "removed": 0,
        "agents": 3,
        "records": 5,
        "spans": 5,
    }
    assert len(_linked_files_exist(main)) == 3 and sorted(p.name for p in folder.iterdir()) == [
        "presence.html",
        "presence_files",
    ]


def test_operator_rerender_is_identical_and_a_changed_one_leaves_no_stale_file(tmp_path: Path) -> None:
    from contact_center_provider.operators.render import RenderReportOperator

    def render_once(tables: dict[str, pa.Table], tag: str) -> dict[str, Any]:
        inputs = write_parquet(tmp_path / tag, tables)
        op = RenderReportOperator(
            task_id="p", report="presence", inputs=inputs, output_base_uri=str(tmp_path / "out")
        )
        return op.execute(_context(P_START, P_END))

    def tree() -> dict[str, bytes]:
        return {
            str(p.relative_to(tmp_path / "out")): p.read_bytes()
            for p in sorted((tmp_path / "out").rglob("*"))
            if p.is_file()
        }

    render_once(presence_example(), "a")
    first = tree()
    render_once(presence_example(), "b")
    assert tree() == first
    changed = presence_example()
    changed["users"] = presence_tables([], [], [{"user_id": "u-alice", "name": "Alice Smith"}])["users"]
    result = render_once(changed, "c")
    second = tree()
    main = Path(result["uri"])
    assert "Alice Smith" in main.read_text() and result["removed"] == 2  # Alice's and Bob's old pages
    assert len(second) == 4 and len(_linked_files_exist(main)) == 3


def test_operator_failed_rerender_leaves_the_previous_report_readable(tmp_path: Path) -> None:
    from contact_center_provider.operators.render import RenderReportOperator

    inputs = write_parquet(tmp_path / "tables", presence_example())
    good = RenderReportOperator(
        task_id="p", report="presence", inputs=inputs, output_base_uri=str(tmp_path / "out")
    )
    main = Path(good.execute(_context(P_START, P_END))["uri"])
    before = main.read_bytes()
    # A template of the user's that breaks on the second agent: the first new page is written, then the render fails.
    (tmp_path / "tpl").mkdir()
    builtin = (default_template_dir() / "presence_agent.html.j2").read_text()
    (tmp_path / "tpl" / "presence_agent.html.j2").write_text(
        '{% if agent.name == "Bob" %}{{ no_such_value }}{% endif %}changed ' + builtin
    )
    bad = RenderReportOperator(
        task_id="p",
        report="presence",
        inputs=inputs,
        output_base_uri=str(tmp_path / "out"),
        template_searchpath=[str(tmp_path / "tpl")],
    )
    with pytest.raises(jinja2.UndefinedError):
        bad.execute(_context(P_START, P_END))
    assert main.read_bytes() == before
    assert all("changed" not in p.read_text()[:20] for p in _linked_files_exist(main))


def test_operator_custom_template_and_builder(tmp_path: Path) -> None:
    from contact_center_provider.operators.render import RenderReportOperator

    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "count.html.j2").write_text("<p>{{ n }} users in {{ interval }} for {{ who }}</p>\n")
    inputs = write_parquet(tmp_path / "tables", {"presence": presence_example()["presence"]})
    op = RenderReportOperator(
        task_id="custom",
        template="count.html.j2",
        builder="reports_builders_for_tests:count_users",
        inputs=inputs,
        output_base_uri=f"file://{tmp_path}/out",
        report_params={"who": "<Ops>"},
        interval_start="2017-01-13T17:00:00+00:00",
        interval_end="2017-01-13T18:00:00+00:00",
        template_searchpath=[str(tmp_path / "tpl")],
    )
    result = op.execute(_context(None, None))
    out = (
        tmp_path
        / "out/reports/count/interval_start=20170113T170000Z/interval_end=20170113T180000Z/count.html"
    )
    assert out.read_text() == (
        "<p>2 users in 2017-01-13T17:00:00.000+0000/2017-01-13T18:00:00.000+0000 for &lt;Ops&gt;</p>\n"
    )
    assert result["report"] == "count.html.j2" and result["uri"].endswith("/count.html")


def test_operator_errors_are_explicit(tmp_path: Path) -> None:
    from contact_center_provider.operators.render import BUILTIN_REPORTS, RenderReportOperator

    assert set(BUILTIN_REPORTS) == set(REPORTS)
    with pytest.raises(ValueError, match="unknown report 'abandon'"):
        RenderReportOperator(task_id="x", report="abandon", inputs={}, output_uri="x")
    with pytest.raises(ValueError, match="template= and builder="):
        RenderReportOperator(task_id="x", template="t.html.j2", inputs={}, output_uri="x")
    with pytest.raises(ValueError, match="exactly one of output_base_uri"):
        RenderReportOperator(task_id="x", report="presence", inputs={})
    with pytest.raises(ValueError, match="exactly one of output_base_uri"):
        RenderReportOperator(task_id="x", report="presence", inputs={}, output_uri="a", output_base_uri="b")
    op = RenderReportOperator(
        task_id="no_interval", report="presence", inputs={"presence": str(tmp_path / "none")}, output_uri="x"
    )
    with pytest.raises(IntervalError, match="no data interval"):
        op.execute(_context(None, None))
    with pytest.raises(FileNotFoundError, match=r"input 'presence': no \.parquet"):
        op.execute(_context())
    with pytest.raises(
        ValueError, match=r"needs input tables \['presence', 'routing_status'\]; missing \['routing_status'\]"
    ):
        RenderReportOperator(
            task_id="x",
            report="presence",
            inputs=write_parquet(tmp_path / "t", {"presence": presence_example()["presence"]}),
            output_uri=str(tmp_path / "p.html"),
        ).execute(_context())


def test_operator_takes_the_zone_from_the_task_sdk_timetable() -> None:
    from airflow.sdk import DAG, CronDataIntervalTimetable

    from contact_center_provider.operators.render import RenderReportOperator

    with DAG(
        "tz_probe",
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone=DUBLIN),
        start_date=datetime(2026, 1, 1),
    ):
        implicit = RenderReportOperator(task_id="a", report="presence", inputs={}, output_uri="x")
        explicit = RenderReportOperator(
            task_id="b", report="presence", inputs={}, output_uri="x", time_zone=DENVER
        )
    with DAG("tz_none", schedule=None, start_date=datetime(2026, 1, 1)):
        plain = RenderReportOperator(task_id="c", report="presence", inputs={}, output_uri="x")
    assert (implicit._tz(), explicit._tz(), plain._tz()) == (DUBLIN, DENVER, "UTC")


def test_operator_writes_and_cleans_up_on_s3(s3_bucket: str, s3_server: str, tmp_path: Path) -> None:
    import boto3

    from contact_center_provider.operators.render import RenderReportOperator

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    base = f"s3://{s3_bucket}/cc"
    for tag, tables in (("a", presence_example()), ("b", presence_tables([], [], []))):
        keys_in = write_parquet(tmp_path / tag, tables)
        for name, folder in keys_in.items():
            s3.upload_file(f"{folder}/part-0.parquet", s3_bucket, f"in/{tag}/{name}/part-0.parquet")
        op = RenderReportOperator(
            task_id="p",
            report="presence",
            inputs={name: f"s3://{s3_bucket}/in/{tag}/{name}" for name in tables},
            output_base_uri=base,
            conn_id="cc_test_s3",
        )
        result = op.execute(_context(P_START, P_END))
        keys = sorted(
            o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="cc/").get("Contents", [])
        )
        prefix = "cc/reports/presence/interval_start=20170113T170000Z/interval_end=20170113T180000Z/"
        assert result["uri"] == f"s3://{s3_bucket}/{prefix}presence.html"
        if tag == "a":
            assert len(keys) == 4 and f"{prefix}presence.html" in keys and result["agents"] == 3
        else:  # no agents any more: the three agent pages go once the new index is published
            assert keys == [f"{prefix}presence.html"] and result["removed"] == 3
            body = s3.get_object(Bucket=s3_bucket, Key=keys[0])["Body"].read().decode()
            assert "Agents: 0" in body


# --------------------------------------------------------------------------- a Dublin DAG in real Airflow


@pytest.mark.usefixtures("airflow_db")
def test_a_dublin_dag_renders_in_dublin_time_without_time_zone(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent / "dags"))
    import reports_dublin

    # The Dublin day of the spring DST change: 00:00 GMT to 00:00 IST, 23 hours.
    start, end = utc(2026, 3, 29, 0), utc(2026, 3, 29, 23)
    tables = presence_tables(
        presence=[
            {
                "user_id": "u1",
                "start_time": start - timedelta(hours=2),
                "end_time": None,
                "system_presence": "OFFLINE",
            },
        ],
        routing=[{"user_id": "u1", "start_time": start, "end_time": end, "routing_status": "OFF_QUEUE"}],
        users=[{"user_id": "u1", "name": "Aoife"}],
    )
    convs = [
        {
            "id": f"c{h}",
            "start": utc(2026, 3, 29, h, 30),
            "end": utc(2026, 3, 29, h, 40),
            "participants": [{"id": f"p{h}", "purpose": "customer", "sessions": [{"ani": "tel:+353"}]}],
        }
        for h in (0, 1, 2)
    ]
    folder = tmp_path / "tables"
    write_parquet(folder, {**tables, **conversation_tables(convs)})
    dag_run = reports_dublin.dag.test(
        logical_date=end,
        run_after=end + timedelta(minutes=5),
        run_conf={"tables": str(folder), "base": (tmp_path / "out").as_uri()},
    )
    assert {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()} == {
        "presence": "success",
        "call_detail": "success",
        "abandons": "success",
    }
    partition = "interval_start=20260329T000000Z/interval_end=20260329T230000Z"
    reports = tmp_path / "out" / "reports"
    interval = "2026-03-29T00:00:00.000+0000/2026-03-30T00:00:00.000+0100"
    run_date = "Mon Mar 30 2026 00:05:00 GMT+0100"

    abandons = (reports / "abandons" / partition / "abandons.txt").read_text().splitlines()
    assert abandons[1:4] == [f"Run date: {run_date}", "Company: Dublin Co", f"Interval: {interval}"]
    assert [line.split("|")[0] for line in abandons[7:]] == ["c0", "c1", "c2"]

    index = (reports / "presence" / partition / "presence.html").read_text()
    assert interval in index and "Interval length 23:00:00" in index and "Times in Europe/Dublin" in index
    assert index_rows(index) == [["Aoife", "23:00:00", "23:00:00"]]
    (page,) = _linked_files_exist(reports / "presence" / partition / "presence.html")
    rows, _ = event_tables(page.read_text())
    assert rows == [
        ["OFFLINE", "2026-03-28 22:00:00 +0000", "2026-03-30 00:00:00 +0100 (open)", "25:00:00", "a day"]
    ]

    main = (reports / "call_detail" / partition / "call_detail.html").read_text()
    assert f"Run date: {run_date}" in main and f"Interval: {interval} (PT1H)" in main
    # Pages per local hour: 00:30 GMT, then 02:30 and 03:30 IST (01:00-02:00 does not exist that
    # day: the first hour ends at 02:00 IST).
    assert [r[1] for r in parse(main).tables[-1][1:]] == [
        "2026-03-29 00:00:00 +0000 - 02:00:00 +0100",
        "2026-03-29 02:00:00 +0100 - 03:00:00 +0100",
        "2026-03-29 03:00:00 +0100 - 04:00:00 +0100",
    ]
