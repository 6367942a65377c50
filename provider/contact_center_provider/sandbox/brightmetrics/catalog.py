"""The saved reports of the emulated company and their deterministic rows (no HTTP).

Report ids, titles and the Agent Detail filters are the vendor document's own
examples; columns follow its nextLink example (Search by CallerID) where it shows them.
Rows are a pure function of (seed, report, UTC day): the same request always returns
the same data.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

ColumnKind = Literal["datetime", "text", "number", "integer"]


@dataclass(frozen=True)
class Column:
    """A report column: its OData name, the label the UI (and CSV/xlsx headers) show, its kind."""

    name: str
    label: str
    kind: ColumnKind


@dataclass(frozen=True)
class Report:
    """A saved report.

    :param filters: its unlocked filters (name -> EDM type), as its ``$metadata`` lists them.
    :param locked: filters configured but locked on the report (not in ``$metadata``; refused).
    :param time_filter: the date filter that selects the rows' time range.
    :param time_column: the column holding each row's time.
    :param detail: a detail report (one row per call; paged over long ranges) or a summary
        (one row per day and group).
    :param group_column: the summary's grouping column.
    """

    id: str
    title: str
    columns: tuple[Column, ...]
    filters: tuple[tuple[str, str], ...]
    time_filter: str = "Call_Date_Time"
    time_column: str = "Call_Date_Time"
    detail: bool = True
    group_column: str | None = None
    locked: tuple[str, ...] = ()

    @property
    def compact_id(self) -> str:
        return self.id.replace("-", "")

    @property
    def entity_set(self) -> str:
        """The service document's ``name``: every non-word character of the title -> ``_``, then the id."""
        return re.sub(r"\W", "_", self.title) + "_" + self.compact_id

    @property
    def filter_types(self) -> dict[str, str]:
        return dict(self.filters)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


_DT = "Edm.DateTimeOffset"
_S = "Edm.String"
_D = "Edm.Double"

REPORTS: tuple[Report, ...] = (
    Report(
        id="03bd1235-eb2c-410f-a415-fefacd98df41",
        title="Service Summary",
        columns=(
            Column("Date", "Date", "datetime"),
            Column("Queue_Name", "Queue Name", "text"),
            Column("Calls_Offered", "Calls Offered", "integer"),
            Column("Calls_Answered", "Calls Answered", "integer"),
            Column("Calls_Abandoned", "Calls Abandoned", "integer"),
            Column("Service_Level_Pct", "Service Level (Pct)", "number"),
            Column("Time_Abandon_Total", "Time - Abandon - Total", "number"),
        ),
        filters=(("Call_Date_Time", _DT), ("Queue_Name", _S), ("Time_Abandon_Total", _D)),
        time_column="Date",
        detail=False,
        group_column="Queue_Name",
    ),
    Report(
        id="041cee41-ac5f-4455-a02d-022705afe417",
        title="Agent Activity Summary - All (Saved MSC Agents)",
        columns=(
            Column("Date", "Date", "datetime"),
            Column("Agent_Name", "Agent Name", "text"),
            Column("Logged_In_Time", "Logged-In Time", "number"),
            Column("Ready_Time", "Ready Time", "number"),
            Column("Calls_Handled", "Calls Handled", "integer"),
        ),
        filters=(("Call_Date_Time", _DT), ("Agent_Name", _S), ("Agent_Name_by_Skill", _S)),
        time_column="Date",
        detail=False,
        group_column="Agent_Name",
    ),
    Report(
        id="0c15c8a5-128b-488b-8758-ef15868c3b5b",
        title="Helpdesk Workgroup Service-Level Summary w/o Wait Time",
        columns=(
            Column("Date", "Date", "datetime"),
            Column("Workgroup", "Workgroup", "text"),
            Column("Calls_Offered", "Calls Offered", "integer"),
            Column("Calls_Answered", "Calls Answered", "integer"),
            Column("Service_Level_Pct", "Service Level (Pct)", "number"),
        ),
        filters=(("Call_Date_Time", _DT), ("Workgroup", _S)),
        time_column="Date",
        detail=False,
        group_column="Workgroup",
    ),
    Report(
        id="6f40b845-fb28-4547-b73b-e11ce29f481b",
        title="Agent Detail",
        columns=(
            Column("Call_Date_Time", "Call Date/Time", "datetime"),
            Column("Agent_Name", "Agent Name", "text"),
            Column("Media_Type", "Media Type", "text"),
            Column("Queue_Name", "Queue Name", "text"),
            Column("Time_Talk_Total", "Time - Talk - Total", "number"),
            Column("Time_Hold_Total", "Time - Hold - Total", "number"),
            Column("Calls_Handled", "Calls Handled", "integer"),
        ),
        filters=(
            ("Call_Date_Time", _DT),
            ("Media_Type", _S),
            ("Agent_Name", _S),
            ("Agent_Name_by_Queue_Membership", _S),
            ("Agent_Name_by_Skill", _S),
            ("Agent_Name_by_Group_Membership", _S),
            ("Time_Talk_Total", _D),
        ),
        locked=("Queue_Name",),
    ),
    Report(
        id="68c8e362-b2c2-6f6d-498b-af782b253239",
        title="Search by CallerID",
        columns=(
            Column("Call_Date_Time", "Call Date/Time", "datetime"),
            Column("Call_Type", "Call Type", "text"),
            Column("Action", "Action", "text"),
            Column("CallerID", "CallerID", "text"),
            Column("Workgroup_Call", "Workgroup Call", "text"),
            Column("Trunk", "Trunk", "text"),
            Column("Dialed_Number", "Dialed Number", "text"),
            Column("Party_Name", "Party Name", "text"),
            Column("Extension", "Extension", "text"),
            Column("Call_Duration", "Call Duration", "number"),
        ),
        filters=(("Call_Date_Time", _DT), ("Call_Type", _S), ("CallerID", _S), ("Call_Duration", _D)),
    ),
)

REPORTS_BY_ID = {r.id: r for r in REPORTS}

_POOLS: dict[str, tuple[str, ...]] = {
    "Agent_Name": ("Ava Brooks", "Liam Chen", "Noah Patel", "Emma Rossi", "Mia O'Neil", "Agent Spare 1"),
    "Queue_Name": ("Customer Service", "Sales", "Billing", "Tech Support"),
    "Media_Type": ("Voice", "Chat", "Email", "Callback"),
    "Call_Type": ("Inbound", "Outbound", "Internal"),
    "Action": ("Answered", "Transfer", "Abandoned", "Voicemail"),
    "Workgroup_Call": ("WG", "Non-WG"),
    "Trunk": ("PRI (4)", "SIP (1)", "SIP (2)"),
    "Party_Name": ("Front Counter Main", "Help Desk", "Reception", "Warehouse"),
    "Workgroup": ("Helpdesk", "Facilities", "HR Line"),
}
#: Numeric columns: (low, high, decimals).
_RANGES: dict[str, tuple[float, float, int]] = {
    "Time_Talk_Total": (5.0, 900.0, 4),
    "Time_Hold_Total": (0.0, 120.0, 4),
    "Call_Duration": (0.1, 25.0, 4),
    "Service_Level_Pct": (55.0, 99.5, 2),
    "Time_Abandon_Total": (0.0, 3600.0, 2),
    "Logged_In_Time": (14400.0, 30600.0, 1),
    "Ready_Time": (3600.0, 21600.0, 1),
}


def find_report(report_id: str) -> Report | None:
    """A report by id (dashed or not, any case)."""
    plain = report_id.strip().lower().replace("-", "")
    return next((r for r in REPORTS if r.compact_id == plain), None)


def _text(rng: random.Random, name: str) -> str:
    if name == "CallerID":
        return f"+1555{rng.randrange(10**7):07d}"
    if name == "Dialed_Number":
        return f"1555{rng.randrange(10**7):07d}"
    if name == "Extension":
        return str(3000 + rng.randrange(200))
    return rng.choice(_POOLS.get(name, ("n/a",)))


def _value(rng: random.Random, column: Column) -> Any:
    if column.kind == "text":
        return _text(rng, column.name)
    if column.kind == "integer":
        return rng.randrange(0, 60)
    low, high, decimals = _RANGES.get(column.name, (0.0, 100.0, 2))
    return round(rng.uniform(low, high), decimals)


def _days(start: datetime, end: datetime) -> Iterator[date]:
    day = start.astimezone(UTC).date()
    last = end.astimezone(UTC).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _day_rows(seed: int, report: Report, day: date, rows_per_day: int) -> list[dict[str, Any]]:
    rng = random.Random(f"{seed}:{report.id}:{day.isoformat()}")
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    if report.detail:
        offsets = sorted(rng.randrange(86400) for _ in range(rows_per_day))
        for offset in offsets:
            row: dict[str, Any] = {report.time_column: midnight + timedelta(seconds=offset)}
            for column in report.columns:
                if column.name != report.time_column:
                    row[column.name] = _value(rng, column)
            rows.append(row)
        return rows
    assert report.group_column is not None
    for group in _POOLS[report.group_column]:
        row = {report.time_column: midnight, report.group_column: group}
        for column in report.columns:
            if column.name not in row:
                row[column.name] = _value(rng, column)
        if "Calls_Answered" in row and "Calls_Offered" in row:
            row["Calls_Answered"] = min(row["Calls_Answered"], row["Calls_Offered"])
        rows.append(row)
    return rows


def generate_rows(
    seed: int, report: Report, start: datetime, end: datetime, rows_per_day: int
) -> list[dict[str, Any]]:
    """The report's rows whose time lies in ``[start, end]`` (both inclusive, like ge/le), in time order.

    A summary row stands for its whole UTC day and is included when the day overlaps the range.
    """
    rows: list[dict[str, Any]] = []
    for day in _days(start, end):
        for row in _day_rows(seed, report, day, rows_per_day):
            moment: datetime = row[report.time_column]
            if report.detail:
                keep = start <= moment <= end
            else:
                keep = moment <= end and moment + timedelta(days=1) > start
            if keep:
                rows.append(row)
    return rows
