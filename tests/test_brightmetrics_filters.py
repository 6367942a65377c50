"""The ``$filter`` builder: every documented rule refused by name; what it builds, the sandbox accepts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import pytest
import requests

from contact_center_provider.hooks.brightmetrics import export_request
from contact_center_provider.hooks.brightmetrics_wire import parse_metadata
from contact_center_provider.transforms.odata_filters import (
    Condition,
    FilterRule,
    FilterRuleError,
    build_filter,
    build_query,
    check_timezone,
    conditions_from,
    format_spec,
    interval_conditions,
    odata_identifier,
)

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
#: The filters of the document's $metadata example.
PROPS = {
    "Call_Date_Time": "Edm.DateTimeOffset",
    "Media_Type": "Edm.String",
    "Agent_Name": "Edm.String",
    "Agent_Name_by_Queue_Membership": "Edm.String",
    "Agent_Name_by_Skill": "Edm.String",
    "Agent_Name_by_Group_Membership": "Edm.String",
    "Time_Talk_Total": "Edm.Double",
}
START, END = datetime(2020, 5, 1, tzinfo=UTC), datetime(2020, 6, 1, tzinfo=UTC)


def rule_of(conditions: list[Any], properties: dict[str, str] | None = PROPS) -> FilterRule:
    with pytest.raises(FilterRuleError) as caught:
        build_filter(conditions_from(conditions), properties=properties)
    assert caught.value.rule.value in str(caught.value)  # the message states the rule
    return caught.value.rule


#: One case per documented rule: (conditions, metadata or None, rule broken).
VIOLATIONS: dict[str, tuple[list[Any], dict[str, str] | None, FilterRule]] = {
    "operator-not-supported": ([["Media_Type", "contains", "V"]], PROPS, FilterRule.OPERATOR),
    "eq-on-a-number": ([["Time_Talk_Total", "eq", 10]], PROPS, FilterRule.TEXT_OPERATOR),
    "eq-on-a-date": ([["Call_Date_Time", "eq", START]], PROPS, FilterRule.TEXT_OPERATOR),
    "in-with-numbers-no-metadata": ([["Time_Talk_Total", "in", [1, 2]]], None, FilterRule.TEXT_OPERATOR),
    "gt-on-text": ([["Media_Type", "gt", "Voice"]], PROPS, FilterRule.RANGE_OPERATOR),
    "lt-on-text-no-metadata": ([["Queue_Name", "lt", "Sales"]], None, FilterRule.RANGE_OPERATOR),
    "property-twice": (
        [["Media_Type", "eq", "Voice"], ["Media_Type", "ne", "Chat"]],
        PROPS,
        FilterRule.REPEATED_PROPERTY,
    ),
    "ge-twice": (
        [["Time_Talk_Total", "ge", 1], ["Time_Talk_Total", "ge", 2]],
        PROPS,
        FilterRule.REPEATED_PROPERTY,
    ),
    "ge-lt-pair": (
        [["Call_Date_Time", "ge", START], ["Call_Date_Time", "lt", END]],
        PROPS,
        FilterRule.REPEATED_PROPERTY,
    ),
    "triple-underscores": ([["Time___Talk___Total", "gt", 10]], None, FilterRule.IDENTIFIER),
    "agent-name-and-proxy": (
        [["Agent_Name", "eq", "Ava Brooks"], ["Agent_Name_by_Skill", "eq", "Tier 2"]],
        PROPS,
        FilterRule.PROXY_FILTER,
    ),
    "two-proxies-no-metadata": (
        [["Agent_Name_by_Skill", "eq", "Tier 2"], ["Agent_Name_by_Queue_Membership", "eq", "Sales"]],
        None,
        FilterRule.PROXY_FILTER,
    ),
    "not-a-filter-of-the-report": ([["Queue_Name", "eq", "Sales"]], PROPS, FilterRule.UNKNOWN_FILTER),
    "naive-date": ([["Call_Date_Time", "ge", datetime(2020, 5, 1)]], PROPS, FilterRule.VALUE),
    "text-for-a-number": ([["Time_Talk_Total", "gt", "10"]], PROPS, FilterRule.VALUE),
    "empty-in-list": ([["Media_Type", "in", []]], PROPS, FilterRule.VALUE),
}


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_each_documented_violation_is_refused_with_its_rule(case: str) -> None:
    conditions, props, rule = VIOLATIONS[case]
    assert rule_of(conditions, props) is rule


def test_every_rule_has_a_case() -> None:
    covered = {rule for _, _, rule in VIOLATIONS.values()}
    assert covered | {FilterRule.FORMAT, FilterRule.TIMEZONE} == set(FilterRule)


def test_format_and_timezone_rules() -> None:
    with pytest.raises(FilterRuleError) as bad_format:
        format_spec("parquet")
    assert bad_format.value.rule is FilterRule.FORMAT
    with pytest.raises(FilterRuleError) as iana:
        check_timezone("America/New_York")
    assert iana.value.rule is FilterRule.TIMEZONE and "Windows" in str(iana.value)
    assert check_timezone("Eastern Standard Time") == "Eastern Standard Time"
    assert format_spec("CSV; Formatted").param == "csv;formatted"
    assert format_spec("json").param is None


def test_identifiers_follow_the_documented_collapse() -> None:
    assert odata_identifier("Time - Call - Total") == "Time_Call_Total"
    assert odata_identifier("Call Date/Time") == "Call_Date_Time"
    built = build_filter([Condition("Time - Talk - Total", "gt", 10)], properties=PROPS)
    assert built == "Time_Talk_Total gt 10"


def test_the_document_examples_build_as_shown() -> None:
    conditions = [
        *interval_conditions(
            "Call_Date_Time", datetime(2020, 5, 1, tzinfo=UTC), datetime(2020, 6, 1, tzinfo=UTC)
        ),
        Condition("Queue_Name", "in", ["Customer Service", "Sales"]),
    ]
    assert build_filter(conditions) == (
        "Call_Date_Time ge 2020-05-01T00:00:00Z and Call_Date_Time le 2020-05-31T23:59:59Z "
        "and Queue_Name in ('Customer Service', 'Sales')"
    )
    assert (
        build_filter(conditions_from({"Agent_Name": {"ne": "Agent Spare 1"}}))
        == "Agent_Name ne 'Agent Spare 1'"
    )
    assert build_filter(conditions_from({"Time_Call_Total": {"gt": 10}})) == "Time_Call_Total gt 10"
    assert build_filter([Condition("Agent_Name", "eq", "Mia O'Neil")]) == "Agent_Name eq 'Mia O''Neil'"
    # Templated dates arrive as text; a date (no time) means midnight UTC.
    assert build_filter(
        [Condition("Call_Date_Time", "ge", "2020-05-01T00:00:00+00:00")], properties=PROPS
    ) == ("Call_Date_Time ge 2020-05-01T00:00:00Z")
    assert (
        build_filter([Condition("Call_Date_Time", "le", date(2020, 5, 2))])
        == "Call_Date_Time le 2020-05-02T00:00:00Z"
    )


def test_query_string_escapes_spaces_as_percent_20() -> None:
    fmt = format_spec("csv;formatted")
    query = build_query(filter_text="Media_Type eq 'Voice'", fmt=fmt, timezone="Eastern Standard Time")
    assert (
        query
        == "$filter=Media_Type%20eq%20'Voice'&$format=csv%3Bformatted&timezone=Eastern%20Standard%20Time"
    )
    assert "+" not in query


def test_interval_goes_into_the_date_filter_and_clashes_with_a_user_date_filter() -> None:
    request = export_request(AGENT_DETAIL, START, END, {"format": "csv"})
    assert (
        request.filter_text
        == "Call_Date_Time ge 2020-05-01T00:00:00Z and Call_Date_Time le 2020-05-31T23:59:59Z"
    )
    assert request.path.startswith(f"{AGENT_DETAIL}?$filter=Call_Date_Time%20ge%20")
    with pytest.raises(FilterRuleError) as twice:
        export_request(AGENT_DETAIL, START, END, {"filters": [["Call_Date_Time", "ge", START]]})
    assert twice.value.rule is FilterRule.REPEATED_PROPERTY
    saved_range = export_request(AGENT_DETAIL, START, END, {"interval_filter": None})
    assert saved_range.filter_text == "" and saved_range.query == ""
    with pytest.raises(ValueError, match="not known"):
        export_request(AGENT_DETAIL, START, END, {"fromat": "csv"})
    with pytest.raises(ValueError, match="not a report id"):
        export_request("Agent Detail", START, END, {})


# -- two readings of the document agree ------------------------------------------------------------


def _sandbox_answer(sandbox: Any, text: str) -> int:
    escaped = quote(text, safe="'(),:")
    url = f"{sandbox.url}/brightmetrics/OData.ashx/{AGENT_DETAIL}?$filter={escaped}"
    return requests.get(url, auth=("user@example.com", "*passpassword"), timeout=10).status_code


def test_what_the_builder_builds_the_sandbox_accepts(sandbox: Any) -> None:
    xml = requests.get(
        f"{sandbox.url}/brightmetrics/OData.ashx/{AGENT_DETAIL}/$metadata",
        auth=("user@example.com", "*passpassword"),
        timeout=10,
    ).content
    props = parse_metadata(AGENT_DETAIL, xml).filters
    assert props == PROPS
    text = build_filter(
        [
            *interval_conditions("Call_Date_Time", START, datetime(2020, 5, 2, tzinfo=UTC)),
            Condition("Media_Type", "in", ["Voice", "Chat"]),
            Condition("Agent_Name_by_Skill", "ne", "Tier 2"),
            Condition("Time - Talk - Total", "gt", 1.5),
        ],
        properties=props,
    )
    assert _sandbox_answer(sandbox, text) == 200


@pytest.mark.parametrize("case", [c for c in sorted(VIOLATIONS) if c not in ("naive-date", "empty-in-list")])
def test_what_the_builder_refuses_the_sandbox_refuses_too(sandbox: Any, case: str) -> None:
    conditions, _, _ = VIOLATIONS[case]

    def literal(value: Any) -> str:
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(value, list):
            return "(" + ", ".join(literal(v) for v in value) + ")"
        return f"'{value}'" if isinstance(value, str) else str(value)

    raw = " and ".join(f"{p} {op} {literal(v)}" for p, op, v in conditions)
    assert _sandbox_answer(sandbox, raw) == 400
