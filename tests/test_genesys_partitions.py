"""Exactly once: each conversation lands in the partition that holds its conversationStart."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contact_center_provider.sandbox.genesys_cloud.data import iter_generated
from contact_center_provider.transforms import genesys_schemas as gs
from contact_center_provider.transforms.genesys_conversations import (
    FlattenResult,
    flatten_conversation_page,
    iter_flatten,
    participant_attributes_from_entities,
    partition_result,
    split_by_conversation,
)

DAY = datetime(2024, 5, 1, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def conversation(cid: str, start: datetime, end: datetime | None, agents: int = 1) -> dict[str, Any]:
    """A customer and ``agents`` agents, one session each, two segments and a metric per session."""

    def participant(n: int, purpose: str) -> dict[str, Any]:
        segments = [
            {
                "segmentStart": stamp(start),
                "segmentEnd": stamp(start + timedelta(seconds=30)),
                "segmentType": "alert",
            },
            {"segmentStart": stamp(start + timedelta(seconds=30)), "segmentType": "interact"},
        ]
        if end is not None:
            segments[1]["segmentEnd"] = stamp(end)
        return {
            "participantId": f"{cid}-p{n}",
            "purpose": purpose,
            "attributes": {"accountNumber": f"{cid}-{n}"},
            "sessions": [
                {
                    "sessionId": f"{cid}-s{n}",
                    "mediaType": "voice",
                    "segments": segments,
                    "metrics": [{"name": "nOffered", "value": 1, "emitDate": stamp(start)}],
                }
            ],
        }

    record = {
        "conversationId": cid,
        "conversationStart": stamp(start),
        "participants": [participant(0, "customer")] + [participant(n + 1, "agent") for n in range(agents)],
    }
    if end is not None:
        record["conversationEnd"] = stamp(end)
    return record


def page(*conversations: dict[str, Any]) -> FlattenResult:
    return flatten_conversation_page(json.dumps({"conversations": list(conversations)}).encode())


def ids(result: FlattenResult) -> list[str]:
    return list(result.tables["conversations"].column("conversation_id").to_pylist())


def assert_consistent(result: FlattenResult) -> None:
    """Schemas unchanged; every child row belongs to a kept conversation, and all its rows came along."""
    kept = set(ids(result))
    assert result.conversations == len(kept) == len(ids(result))
    for name, schema in gs.CONVERSATION_TABLES.items():
        table = result.tables[name]
        assert table.schema.equals(schema), name
        assert set(table.column("conversation_id").to_pylist()) <= kept, name


C_EARLY = conversation("c-early", at(12, 50), at(13, 5))  # in the 13:00 job, started the hour before
A_CROSS = conversation("a-cross", at(13, 58), at(14, 3), agents=2)  # 13:58 -> 14:03
B_LATE = conversation("b-late", at(14, 10), at(14, 20))
D_MIDNIGHT = conversation("d-midnight", at(23, 57, 46), at(0, 0, 22, day=1))  # the abandon report's case
E_OPEN = conversation("e-open", at(14, 40), None)  # still in progress when exported


def test_a_conversation_crossing_an_hour_lands_in_the_hour_it_started() -> None:
    # Jobs return every conversation whose lifetime overlaps their hour.
    job_13 = page(C_EARLY, A_CROSS)
    job_14 = page(A_CROSS, B_LATE, E_OPEN)
    # Each hourly run partitions its own landing with its own window.
    (run_13,) = partition_result(job_13, [(at(13), at(14))], set())
    (run_14,) = partition_result(job_14, [(at(14), at(15))], set())
    assert ids(run_13) == ["a-cross"] and ids(run_14) == ["b-late", "e-open"]
    assert (run_13.outside_windows, run_14.outside_windows) == (1, 1)
    assert run_13.duplicates == run_14.duplicates == 0
    for run in (run_13, run_14):
        assert_consistent(run)
    assert run_13.tables["participants"].num_rows == 3  # the customer and both agents of a-cross
    assert run_13.tables["segments"].num_rows == 6 and run_13.tables["session_metrics"].num_rows == 3
    assert run_13.tables["participant_attributes"].column("value").to_pylist() == [
        "a-cross-0",
        "a-cross-1",
        "a-cross-2",
    ]
    assert run_14.tables["conversations"].column("conversation_end").is_null().to_pylist() == [False, True]
    # Every child table matches what flattening a-cross alone gives.
    alone = page(A_CROSS)
    for name in gs.CONVERSATION_TABLES:
        assert run_13.tables[name].equals(alone.tables[name]), name


def test_a_conversation_crossing_midnight_stays_in_the_day_it_started() -> None:
    windows = [(at(22), at(23)), (at(23), at(0, day=1)), (at(0, day=1), at(1, day=1))]
    after_midnight = conversation("f-next-day", at(0, 0, 5, day=1), at(0, 2, day=1))
    parts = partition_result(page(D_MIDNIGHT, after_midnight), windows, set())
    assert [ids(p) for p in parts] == [[], ["d-midnight"], ["f-next-day"]]
    # The 00:00 run alone (its own landing holds the 23:57 call too) does not list it.
    (first_hour,) = partition_result(page(D_MIDNIGHT, after_midnight), windows[2:], set())
    assert ids(first_hour) == ["f-next-day"] and first_hour.outside_windows == 1


def test_duplicate_pages_and_overlapping_split_queries_keep_each_conversation_once() -> None:
    seen: set[str] = set()
    windows = [(at(0), at(0, day=1))]
    # A query split at 12:00 returns the same day's conversations in both pieces.
    (first,) = partition_result(page(C_EARLY, A_CROSS), windows, seen)
    (second,) = partition_result(page(C_EARLY, A_CROSS, B_LATE), windows, seen)
    (again,) = partition_result(page(C_EARLY, A_CROSS, B_LATE), windows, seen)
    assert ids(first) == ["c-early", "a-cross"] and ids(second) == ["b-late"] and ids(again) == []
    assert (first.duplicates, second.duplicates, again.duplicates) == (0, 2, 3)
    assert seen == {"c-early", "a-cross", "b-late"}
    assert all(t.num_rows == 0 for t in again.tables.values())
    assert_consistent(second)


def test_a_conversation_repeated_on_one_page_keeps_one_copy_of_its_rows() -> None:
    repeated = page(A_CROSS, B_LATE, A_CROSS)
    (part,) = partition_result(repeated, [(at(13), at(15))], set())
    assert ids(part) == ["a-cross", "b-late"] and part.duplicates == 1
    assert part.tables["participants"].num_rows == 3 + 2
    assert part.tables["participant_attributes"].num_rows == 3 + 2
    # The kept rows come with their positions, so a part can be partitioned again.
    hour_13, hour_14 = partition_result(part, [(at(13), at(14)), (at(14), at(15))], set())
    assert ids(hour_13) == ["a-cross"] and hour_13.tables["segments"].num_rows == 6
    assert ids(hour_14) == ["b-late"] and hour_14.tables["segments"].num_rows == 4


def test_page_counts_travel_with_the_first_part_only() -> None:
    raw = {"conversations": [C_EARLY, A_CROSS, B_LATE], "brandNew": 1}
    result = flatten_conversation_page(json.dumps(raw).encode())
    parts = partition_result(result, [(at(13), at(14)), (at(14), at(15))], set())
    assert [p.unknown_fields for p in parts] == [Counter({"page.brandNew": 1}), Counter()]
    assert [(p.outside_windows, p.duplicates) for p in parts] == [(1, 0), (0, 0)]
    assert sum(p.conversations for p in parts) + parts[0].outside_windows == result.conversations


def test_overlapping_windows_give_a_conversation_to_the_first_and_missing_starts_to_none() -> None:
    no_start = {"conversationId": "no-start", "participants": []}
    parts = partition_result(page(A_CROSS, no_start), [(at(13), at(15)), (at(13, 30), at(14))], set())
    assert [ids(p) for p in parts] == [["a-cross"], []] and parts[0].outside_windows == 1


def test_the_slow_path_and_tables_built_elsewhere_partition_alike() -> None:
    slow = json.loads(json.dumps({"conversations": [A_CROSS, B_LATE]}))
    slow["conversations"][0]["conversationStart"] = "2024-05-01T13:58:00.000999Z"  # microseconds: slow path
    result = flatten_conversation_page(json.dumps(slow).encode())
    assert set(result.parents) == set(gs.CONVERSATION_TABLES) - {"conversations"}
    hour_13, _ = partition_result(result, [(at(13), at(14)), (at(14), at(15))], set())
    assert hour_13.tables["participant_attributes"].num_rows == 3
    # Without row positions (a table assembled by hand) rows are selected by conversation id.
    result.parents.clear()
    hour_13, hour_14 = partition_result(result, [(at(13), at(14)), (at(14), at(15))], set())
    assert hour_13.tables["segments"].num_rows == 6 and hour_14.tables["segments"].num_rows == 4
    assert_consistent(hour_13)


def test_entity_attributes_follow_the_conversations() -> None:
    hour_13, hour_14 = partition_result(page(A_CROSS, B_LATE), [(at(13), at(14)), (at(14), at(15))], set())
    entities = [
        {"id": "b-late", "participants": [{"id": "b-late-p0", "attributes": {"accountNumber": "9"}}]},
        {"id": "a-cross", "participants": [{"id": "a-cross-p0", "attributes": {"accountNumber": "7"}}]},
        {"id": "elsewhere", "participants": [{"id": "x", "attributes": {"accountNumber": "0"}}]},
    ]
    table = participant_attributes_from_entities(entities)
    kept = [p.tables["conversations"].column("conversation_id") for p in (hour_13, hour_14)]
    first, second = split_by_conversation(table, kept)
    assert first.column("value").to_pylist() == ["7"] and second.column("value").to_pylist() == ["9"]
    assert first.schema.equals(gs.PARTICIPANT_ATTRIBUTES)


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ([], "at least one window"),
        ([(datetime(2024, 5, 1), datetime(2024, 5, 2))], "time-zone aware"),
        ([(at(14), at(13))], "must end after it starts"),
    ],
)
def test_bad_windows_are_refused(windows: list[tuple[datetime, datetime]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        partition_result(page(A_CROSS), windows, set())


def test_hourly_job_runs_across_midnight_hold_every_conversation_exactly_once() -> None:
    """Six hourly runs of generated job results (lifetime overlap, pages of 40)."""
    first, hours = at(21), 6
    kept: Counter[str] = Counter()
    placed: dict[str, int] = {}
    rows: Counter[str] = Counter()
    for hour in range(hours):
        start, end = first + timedelta(hours=hour), first + timedelta(hours=hour + 1)
        records = [item.record for item in iter_generated(42, start, end)]
        raw = [
            json.dumps({"conversations": records[i : i + 40]}).encode() for i in range(0, len(records), 40)
        ]
        seen: set[str] = set()  # one run: its own landing, its own window
        for result in iter_flatten(raw):
            (part,) = partition_result(result, [(start, end)], seen)
            assert_consistent(part)
            for cid in ids(part):
                kept[cid] += 1
                placed[cid] = hour
            for name, table in part.tables.items():
                rows[name] += table.num_rows
    truth = [
        item
        for item in iter_generated(42, first, first + timedelta(hours=hours))
        if item.start_ms >= first.timestamp() * 1000
    ]
    assert len(truth) > 50
    assert set(kept.values()) == {1} and set(kept) == {item.record["conversationId"] for item in truth}
    for item in truth:
        hour = int((item.start_ms - first.timestamp() * 1000) // 3_600_000)
        assert placed[item.record["conversationId"]] == hour
    crossing = [
        i for i in truth if i.record["conversationStart"] < "2024-05-02" < i.record["conversationEnd"]
    ]
    assert crossing and all(placed[i.record["conversationId"]] == 2 for i in crossing)
    naive = flatten_conversation_page(json.dumps({"conversations": [i.record for i in truth]}).encode())
    assert rows == Counter({name: table.num_rows for name, table in naive.tables.items()})


@pytest.mark.parametrize("raw", [b"{}", b'{"totalHits":0}', b'{"conversations":[],"cursor":"x"}'])
def test_an_empty_page_gives_empty_parts(raw: bytes) -> None:
    parts = partition_result(flatten_conversation_page(raw), [(at(13), at(14)), (at(14), at(15))], set())
    assert [p.conversations for p in parts] == [0, 0]
    for part in parts:
        assert_consistent(part)
        assert all(table.num_rows == 0 for table in part.tables.values())
