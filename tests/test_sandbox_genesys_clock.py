"""The Genesys Cloud sandbox's data clock: open conversations, late closing, ground truth (real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from contact_center_provider.sandbox import SandboxServer
from contact_center_provider.sandbox.genesys_cloud.data import Generated, iter_generated, without_attributes
from contact_center_provider.sandbox.genesys_cloud.timefmt import format_ms

SEED = 42
DAY = datetime(2024, 5, 1, tzinfo=UTC)
CONV_JOBS = "/api/v2/analytics/conversations/details/jobs"
CONV_QUERY = "/api/v2/analytics/conversations/details/query"
USER_QUERY = "/api/v2/analytics/users/details/query"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, seed=SEED) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(sandbox: SandboxServer) -> None:
    requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5).raise_for_status()


@pytest.fixture
def gc(sandbox: SandboxServer) -> str:
    return sandbox.vendor_url("genesys_cloud")


def settings(sandbox: SandboxServer, **values: Any) -> requests.Response:
    return requests.patch(f"{sandbox.url}/_sandbox/vendors/genesys_cloud/settings", json=values, timeout=5)


def token(gc: str) -> dict[str, str]:
    response = requests.post(
        f"{gc}/login/oauth/token", data={"grant_type": "client_credentials"}, auth=("c", "s"), timeout=5
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def interval(start: datetime, end: datetime) -> str:
    return f"{format_ms(int(start.timestamp() * 1000))}/{format_ms(int(end.timestamp() * 1000))}"


def job_records(gc: str, headers: dict[str, str], body: dict[str, Any]) -> list[dict[str, Any]]:
    job_id = requests.post(f"{gc}{CONV_JOBS}", json=body, headers=headers, timeout=5).json()["jobId"]
    assert (
        requests.get(f"{gc}{CONV_JOBS}/{job_id}", headers=headers, timeout=5).json()["state"] == "FULFILLED"
    )
    records: list[dict[str, Any]] = []
    params: dict[str, Any] = {"pageSize": 1000}
    while True:
        page = requests.get(f"{gc}{CONV_JOBS}/{job_id}/results", params=params, headers=headers, timeout=10)
        records.extend(page.json()["conversations"])
        if "cursor" not in page.json():
            return records
        params["cursor"] = page.json()["cursor"]


def long_call() -> tuple[Generated, int]:
    """The hour's last voice call with one agent and over 10 minutes, and a moment in its talk."""
    calls = []
    for item in iter_generated(SEED, DAY + timedelta(hours=10), DAY + timedelta(hours=11)):
        agents = [p for p in item.record["participants"] if p["purpose"] == "agent"]
        voice = item.record["participants"][0]["sessions"][0]["mediaType"] == "voice"
        long_enough = item.end_ms - item.start_ms > 600_000
        if voice and len(agents) == 1 and long_enough and "conferenceStart" not in item.record:
            calls.append((item, agents[0]))
    item, agent = calls[-1]
    talk = next(s for s in agent["sessions"][0]["segments"] if s["segmentType"] == "interact")
    return item, int(datetime.fromisoformat(talk["segmentStart"]).timestamp() * 1000) + 5_000


def segments(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [seg for p in record["participants"] for s in p["sessions"] for seg in s["segments"]]


def test_now_must_be_an_instant(sandbox: SandboxServer) -> None:
    response = settings(sandbox, now="yesterday")
    assert response.status_code == 400 and "now must be an ISO-8601 instant" in response.text
    assert settings(sandbox, now="2024-05-01T10:00:00Z").status_code == 200


def test_a_conversation_in_progress_is_served_open_and_closes_later(sandbox: SandboxServer, gc: str) -> None:
    item, during = long_call()
    conversation_id = item.record["conversationId"]
    settings(sandbox, now=format_ms(during), availability_lag_seconds=0, job_polls_to_complete=0)
    headers = token(gc)
    hour = interval(DAY + timedelta(hours=10), DAY + timedelta(hours=11))

    served = {r["conversationId"]: r for r in job_records(gc, headers, {"interval": hour})}
    open_record = served[conversation_id]
    assert "conversationEnd" not in open_record and open_record["conversationStart"] < format_ms(during)
    open_segments = [s for s in segments(open_record) if "segmentEnd" not in s]
    assert [s["segmentType"] for s in open_segments] == ["interact"] * len(open_segments)
    assert all("disconnectType" not in s for s in open_segments)
    assert all(s["segmentStart"] < format_ms(during) for s in segments(open_record))
    assert all(
        m["emitDate"] <= format_ms(during)
        for p in open_record["participants"]
        for s in p["sessions"]
        for m in s.get("metrics", [])
    )
    assert not any(s["segmentType"] == "wrapup" for s in segments(open_record))
    # Nothing that starts after "now" exists yet; everything that ended is final.
    assert all(r["conversationStart"] < format_ms(during) for r in served.values())
    finished = [r for r in served.values() if "conversationEnd" in r]
    assert all(r["conversationEnd"] <= format_ms(during) for r in finished)

    entity = requests.get(f"{gc}/api/v2/conversations/{conversation_id}", headers=headers, timeout=5).json()
    assert "endTime" not in entity
    agent = next(p for p in entity["participants"] if p["purpose"] == "agent")
    assert "endTime" not in agent and agent["calls"][0]["state"] == "connected"
    ivr = next(p for p in entity["participants"] if p["purpose"] == "ivr")
    assert ivr["endTime"] and ivr["calls"][0]["state"] == "disconnected"

    query_body = {"interval": hour, "paging": {"pageSize": 100}}
    queried = requests.post(f"{gc}{CONV_QUERY}", json=query_body, headers=headers, timeout=10).json()
    assert "conversationEnd" not in next(
        c for c in queried["conversations"] if c["conversationId"] == conversation_id
    )
    ended = [c for c in queried["conversations"] if "conversationEnd" in c]  # the day started at 00:00
    assert ended and all(c["conversationEnd"] <= format_ms(during) for c in ended)

    # The clock moves on: the same conversation is now served final, by every route.
    settings(sandbox, now=format_ms(item.end_ms + 1000))
    final = {r["conversationId"]: r for r in job_records(gc, headers, {"interval": hour})}[conversation_id]
    assert final == item.record
    queried = requests.post(f"{gc}{CONV_QUERY}", json=query_body, headers=headers, timeout=10).json()
    assert next(
        c for c in queried["conversations"] if c["conversationId"] == conversation_id
    ) == without_attributes(item.record)
    entity = requests.get(f"{gc}/api/v2/conversations/{conversation_id}", headers=headers, timeout=5).json()
    assert entity["endTime"] == item.record["conversationEnd"]
    assert all(c["state"] == "disconnected" for p in entity["participants"] for c in p["calls"])


def test_jobs_see_the_data_lake_as_of_their_availability_date(sandbox: SandboxServer, gc: str) -> None:
    item, during = long_call()
    # "now" is well past the call, but the lake lags: the job sees it as it was at ``during``.
    now = item.end_ms + 3_600_000
    settings(sandbox, now=format_ms(now), availability_lag_seconds=(now - during) // 1000)
    settings(sandbox, job_polls_to_complete=0)
    headers = token(gc)
    availability = requests.get(f"{gc}{CONV_JOBS}/availability", headers=headers, timeout=5).json()
    assert availability == {"dataAvailabilityDate": format_ms(now - (now - during) // 1000 * 1000)}
    hour = interval(DAY + timedelta(hours=10), DAY + timedelta(hours=11))
    lake = {r["conversationId"]: r for r in job_records(gc, headers, {"interval": hour})}
    assert "conversationEnd" not in lake[item.record["conversationId"]]
    entity = requests.get(
        f"{gc}/api/v2/conversations/{item.record['conversationId']}", headers=headers, timeout=5
    ).json()
    assert entity["endTime"] == item.record["conversationEnd"]  # the live API is current


def test_user_details_in_progress_have_no_end_time(sandbox: SandboxServer, gc: str) -> None:
    at = "2024-05-01T12:00:00.000Z"
    settings(sandbox, now=at)
    body = {"interval": "2024-05-01T00:00:00.000Z/2024-05-02T00:00:00.000Z", "paging": {"pageSize": 100}}
    details = requests.post(f"{gc}{USER_QUERY}", json=body, headers=token(gc), timeout=5).json()[
        "userDetails"
    ]
    for detail in details:
        for kind in ("primaryPresence", "routingStatus"):
            records = detail[kind]
            assert all(r["startTime"] < at for r in records)
            assert [r for r in records if "endTime" not in r] == records[-1:]
            assert all(r["endTime"] <= at for r in records[:-1])


def test_ground_truth_lists_conversations_that_started_in_the_interval(sandbox: SandboxServer) -> None:
    start, end = DAY + timedelta(hours=23), DAY + timedelta(days=1, hours=1)
    now = DAY + timedelta(days=1, minutes=30)
    settings(sandbox, now=format_ms(int(now.timestamp() * 1000)))
    url = f"{sandbox.url}/_sandbox/vendors/genesys_cloud/ground-truth"
    truth = requests.post(url, json={"interval": interval(start, end)}, timeout=10).json()
    expected = [
        item
        for item in iter_generated(SEED, start, now, start_day_matching=True)
        if start.timestamp() * 1000 <= item.start_ms < now.timestamp() * 1000
    ]
    assert truth["total"] == len(expected) == len(truth["conversations"]) > 10
    assert truth["now"] == "2024-05-02T00:30:00.000Z"
    for entry, item in zip(truth["conversations"], expected, strict=True):
        record = item.record
        assert entry["conversationId"] == record["conversationId"]
        assert entry["conversationEnd"] == record["conversationEnd"]  # final, even while open
        assert entry["openAtNow"] is (item.end_ms > now.timestamp() * 1000)
        assert entry["segments"] == len(segments(record)) and "record" not in entry
    assert any(e["openAtNow"] for e in truth["conversations"])
    # Crossing midnight: a call that started before it is not in the next day's truth.
    crossing = [
        e for e in truth["conversations"] if e["conversationStart"] < "2024-05-02" < e["conversationEnd"]
    ]
    after = requests.post(
        url, json={"interval": interval(DAY + timedelta(days=1), end), "records": True}, timeout=10
    ).json()
    assert crossing and not {e["conversationId"] for e in crossing} & {
        e["conversationId"] for e in after["conversations"]
    }
    assert all(e["record"]["conversationId"] == e["conversationId"] for e in after["conversations"])

    abandons = requests.post(
        url,
        json={
            "interval": interval(start, end),
            "segmentFilters": [
                {
                    "type": "and",
                    "predicates": [
                        {"dimension": "disconnectType", "operator": "matches", "value": "peer"},
                        {"dimension": "purpose", "operator": "matches", "value": "acd"},
                    ],
                }
            ],
        },
        timeout=10,
    ).json()
    assert 0 < abandons["total"] < truth["total"]
    bad = requests.post(url, json={"interval": "tomorrow"}, timeout=5)
    assert bad.status_code == 400 and "interval" in bad.json()["error"]
