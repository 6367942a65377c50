"""The Genesys Cloud sandbox over real HTTP (and its data generator without HTTP)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from contact_center_provider.sandbox import SandboxServer
from contact_center_provider.sandbox.genesys_cloud.data import (
    TRICKY_NAMES,
    conversation_count,
    generate_conversations,
    iter_generated,
)
from contact_center_provider.sandbox.genesys_cloud.userdata import generate_user_details

SEED = 42
DAY = datetime(2024, 5, 1, tzinfo=UTC)
INTERVAL = "2024-05-01T00:00:00.000Z/2024-05-02T00:00:00.000Z"
CONV_JOBS = "/api/v2/analytics/conversations/details/jobs"
USER_JOBS = "/api/v2/analytics/users/details/jobs"
CONV_QUERY = "/api/v2/analytics/conversations/details/query"
ABANDON_FILTER = {
    "type": "and",
    "clauses": [
        {
            "type": "and",
            "predicates": [
                {"dimension": "disconnectType", "value": "peer"},
                {"dimension": "purpose", "value": "acd"},
            ],
        },
        {"type": "and", "predicates": [{"dimension": "mediaType", "value": "voice"}]},
    ],
}


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


def settings(sandbox: SandboxServer, **values: Any) -> None:
    response = requests.patch(
        f"{sandbox.url}/_sandbox/vendors/genesys_cloud/settings", json=values, timeout=5
    )
    assert response.status_code == 200, response.text


def token(gc: str, client_id: str = "client", secret: str = "secret") -> dict[str, str]:
    response = requests.post(
        f"{gc}/login/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def assert_error_body(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["messageParams"] is not None and body["details"] == [] and body["errors"] == []
    assert response.headers["ININ-Correlation-Id"] == body["contextId"]
    return body


def submit(gc: str, headers: dict[str, str], body: dict[str, Any], path: str = CONV_JOBS) -> str:
    response = requests.post(f"{gc}{path}", json=body, headers=headers, timeout=5)
    assert response.status_code == 202, response.text
    return str(response.json()["jobId"])


def poll(gc: str, headers: dict[str, str], job_id: str, path: str = CONV_JOBS) -> dict[str, Any]:
    response = requests.get(f"{gc}{path}/{job_id}", headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    return dict(response.json())


def all_results(
    gc: str,
    headers: dict[str, str],
    job_id: str,
    page_size: int,
    path: str = CONV_JOBS,
    key: str = "conversations",
) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    params: dict[str, Any] = {"pageSize": page_size}
    pages = 0
    while True:
        response = requests.get(f"{gc}{path}/{job_id}/results", params=params, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        assert body["dataAvailabilityDate"].endswith("Z")
        records.extend(body[key])
        if "cursor" not in body:
            return records, pages
        params["cursor"] = body["cursor"]


# -- OAuth -----------------------------------------------------------------------------------


def test_token_with_basic_auth_or_form_credentials(sandbox: SandboxServer, gc: str) -> None:
    basic = requests.post(
        f"{gc}/login/oauth/token", data={"grant_type": "client_credentials"}, auth=("id", "pw"), timeout=5
    ).json()
    assert basic["token_type"] == "bearer" and basic["expires_in"] == 86400 and basic["access_token"]
    form = requests.post(
        f"{gc}/login/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "id", "client_secret": "pw"},
        timeout=5,
    )
    assert form.status_code == 200 and form.json()["access_token"] != basic["access_token"]
    settings(sandbox, token_ttl_seconds=300)
    assert (
        token(gc)
        and requests.post(
            f"{gc}/login/oauth/token", data={"grant_type": "client_credentials"}, auth=("id", "pw"), timeout=5
        ).json()["expires_in"]
        == 300
    )


def test_token_rejections(sandbox: SandboxServer, gc: str) -> None:
    invalid = {
        "error": "invalid_client",
        "description": "authentication failed",
        "error_description": "authentication failed",
    }
    wrong = requests.post(
        f"{gc}/login/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("id", "wrong-secret"),
        timeout=5,
    )
    assert (wrong.status_code, wrong.json()) == (401, invalid)
    no_grant = requests.post(f"{gc}/login/oauth/token", auth=("id", "pw"), timeout=5)
    assert no_grant.status_code == 400 and no_grant.json()["error"] == "unsupported_grant_type"
    settings(sandbox, required_client_id="good-id", required_client_secret="good-secret")
    other = requests.post(
        f"{gc}/login/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("good-id", "other"),
        timeout=5,
    )
    assert other.status_code == 401
    assert token(gc, "good-id", "good-secret")


def test_api_requires_a_live_bearer_token(sandbox: SandboxServer, gc: str) -> None:
    missing = requests.get(f"{gc}/api/v2/organizations/me", timeout=5)
    assert_error_body(missing, 401, "authentication.required")
    bogus = requests.get(f"{gc}/api/v2/organizations/me", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert_error_body(bogus, 401, "bad.credentials")


def test_tokens_expire_mid_export(sandbox: SandboxServer, gc: str) -> None:
    headers = token(gc)
    job_id = submit(gc, headers, {"interval": INTERVAL})
    expired = requests.post(f"{sandbox.url}/_sandbox/vendors/genesys_cloud/expire-tokens", timeout=5).json()
    assert expired == {"expired": 1}
    assert_error_body(
        requests.get(f"{gc}{CONV_JOBS}/{job_id}", headers=headers, timeout=5), 401, "bad.credentials"
    )
    fresh = token(gc)
    assert poll(gc, fresh, job_id)["state"] == "QUEUED"
    settings(sandbox, expire_tokens_now=True)
    assert requests.get(f"{gc}{CONV_JOBS}/{job_id}", headers=fresh, timeout=5).status_code == 401
    assert poll(gc, token(gc), job_id)["state"] == "PENDING"


def test_rate_limit_per_token_with_retry_after(sandbox: SandboxServer, gc: str) -> None:
    settings(sandbox, rate_limit_per_minute=3)
    headers = token(gc)
    statuses = [requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    body = assert_error_body(statuses[-1], 429, "too.many.requests.retry.after")
    retry_after = int(statuses[-1].headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["message"] == f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"
    # The budget is per token: another token is unaffected.
    assert requests.get(f"{gc}/api/v2/organizations/me", headers=token(gc), timeout=5).status_code == 200


def test_request_over_size_limit_is_413(gc: str) -> None:
    response = requests.post(
        f"{gc}{CONV_JOBS}",
        data=b"{" + b" " * 512_001 + b"}",
        headers={**token(gc), "Content-Type": "application/json"},
        timeout=10,
    )
    body = assert_error_body(response, 413, "request.entity.too.large")
    assert "512000" in body["message"]


# -- details jobs ----------------------------------------------------------------------------


def test_job_life_cycle_and_cursor_paging(sandbox: SandboxServer, gc: str) -> None:
    headers = token(gc)
    job_id = submit(gc, headers, {"interval": INTERVAL})
    not_ready = requests.get(f"{gc}{CONV_JOBS}/{job_id}/results", headers=headers, timeout=5)
    assert_error_body(not_ready, 400, "bad.request")
    states = [poll(gc, headers, job_id) for _ in range(3)]
    assert [s["state"] for s in states] == ["QUEUED", "PENDING", "FULFILLED"]
    assert "completionDate" not in states[0] and states[2]["completionDate"].endswith("Z")
    assert states[0]["submissionDate"] < states[0]["expirationDate"]

    records, pages = all_results(gc, headers, job_id, page_size=100)
    expected = conversation_count(SEED, DAY, DAY + timedelta(days=1))
    assert len(records) == expected and pages == -(-expected // 100)
    assert len({r["conversationId"] for r in records}) == expected
    assert [r["conversationStart"] for r in records] == sorted(r["conversationStart"] for r in records)
    assert any(p.get("attributes", {}).get("accountNumber") for r in records for p in r["participants"])
    item = requests.get(f"{sandbox.url}/_sandbox/counters", timeout=5).json()["jobs"]["genesys_cloud"][
        "items"
    ][job_id]
    assert item["polls"] == 3 and item["result_pages"] == pages and item["state"] == "FULFILLED"

    assert requests.delete(f"{gc}{CONV_JOBS}/{job_id}", headers=headers, timeout=5).status_code == 204
    assert poll(gc, headers, job_id)["state"] == "CANCELLED"


@pytest.mark.parametrize("outcome", ["FAILED", "CANCELLED", "EXPIRED"])
def test_job_outcomes(sandbox: SandboxServer, gc: str, outcome: str) -> None:
    settings(sandbox, job_outcome=outcome, job_polls_to_complete=0, job_error_message="query exploded")
    headers = token(gc)
    job_id = submit(gc, headers, {"interval": INTERVAL})
    status = poll(gc, headers, job_id)
    assert status["state"] == outcome
    assert (status.get("errorMessage") == "query exploded") is (outcome == "FAILED")
    results = requests.get(f"{gc}{CONV_JOBS}/{job_id}/results", headers=headers, timeout=5)
    assert results.status_code == (404 if outcome == "EXPIRED" else 400)


def test_time_based_progression_and_fulfilled_job_expiry(sandbox: SandboxServer, gc: str) -> None:
    settings(sandbox, job_seconds_to_complete=0, job_expiration_seconds=0)
    headers = token(gc)
    job_id = submit(gc, headers, {"interval": INTERVAL})
    # Completes on the first poll, and with a zero retention it is expired right after.
    assert poll(gc, headers, job_id)["state"] in ("FULFILLED", "EXPIRED")
    assert poll(gc, headers, job_id)["state"] == "EXPIRED"
    response = requests.get(f"{gc}{CONV_JOBS}/{job_id}/results", headers=headers, timeout=5)
    assert_error_body(response, 404, "not.found")


def test_deleted_job_can_answer_404(sandbox: SandboxServer, gc: str) -> None:
    settings(sandbox, deleted_job_status="not_found")
    headers = token(gc)
    job_id = submit(gc, headers, {"interval": INTERVAL})
    assert requests.delete(f"{gc}{CONV_JOBS}/{job_id}", headers=headers, timeout=5).status_code == 204
    assert_error_body(requests.get(f"{gc}{CONV_JOBS}/{job_id}", headers=headers, timeout=5), 404, "not.found")


def test_unknown_job_and_bad_requests(sandbox: SandboxServer, gc: str) -> None:
    headers = token(gc)
    assert_error_body(requests.get(f"{gc}{CONV_JOBS}/nope", headers=headers, timeout=5), 404, "not.found")
    assert_error_body(requests.delete(f"{gc}{CONV_JOBS}/nope", headers=headers, timeout=5), 404, "not.found")
    for bad in ({}, {"interval": "yesterday"}, {"interval": "2024-05-02T00:00:00Z/2024-05-01T00:00:00Z"}):
        response = requests.post(f"{gc}{CONV_JOBS}", json=bad, headers=headers, timeout=5)
        assert "interval" in assert_error_body(response, 400, "bad.request")["message"]
    settings(sandbox, job_polls_to_complete=0, max_results_page_size=50)
    job_id = submit(gc, headers, {"interval": INTERVAL})
    poll(gc, headers, job_id)
    too_big = requests.get(
        f"{gc}{CONV_JOBS}/{job_id}/results", params={"pageSize": 51}, headers=headers, timeout=5
    )
    assert_error_body(too_big, 400, "bad.request")
    bad_cursor = requests.get(
        f"{gc}{CONV_JOBS}/{job_id}/results", params={"cursor": "garbage"}, headers=headers, timeout=5
    )
    assert_error_body(bad_cursor, 400, "bad.request")


def test_max_concurrent_jobs(sandbox: SandboxServer, gc: str) -> None:
    settings(sandbox, max_concurrent_jobs=1)
    headers = token(gc)
    submit(gc, headers, {"interval": INTERVAL})
    response = requests.post(f"{gc}{CONV_JOBS}", json={"interval": INTERVAL}, headers=headers, timeout=5)
    assert_error_body(response, 429, "too.many.requests.retry.after")
    assert response.headers["Retry-After"] == "5"


def test_job_uses_lifetime_overlap_and_start_of_day_option(sandbox: SandboxServer, gc: str) -> None:
    settings(sandbox, job_polls_to_complete=0)
    headers = token(gc)
    start, end = DAY + timedelta(hours=12), DAY + timedelta(hours=13)
    interval = "2024-05-01T12:00:00.000Z/2024-05-01T13:00:00.000Z"
    overlap = list(iter_generated(SEED, start, end))
    assert any(item.start_ms < start.timestamp() * 1000 for item in overlap), (
        "need a conversation started earlier"
    )
    job_id = submit(gc, headers, {"interval": interval})
    poll(gc, headers, job_id)
    records, _ = all_results(gc, headers, job_id, page_size=1000)
    assert [r["conversationId"] for r in records] == [item.record["conversationId"] for item in overlap]

    midnight = "2024-05-01T00:00:00.000Z/2024-05-01T01:00:00.000Z"
    plain = submit(gc, headers, {"interval": midnight})
    start_of_day = submit(gc, headers, {"interval": midnight, "startOfDayIntervalMatching": True})
    poll(gc, headers, plain), poll(gc, headers, start_of_day)
    with_previous_day, _ = all_results(gc, headers, plain, page_size=1000)
    same_day_only, _ = all_results(gc, headers, start_of_day, page_size=1000)
    assert all(r["conversationStart"] >= "2024-05-01" for r in same_day_only)
    assert len(with_previous_day) >= len(same_day_only)


def test_job_filters_and_limit(sandbox: SandboxServer, gc: str) -> None:
    settings(sandbox, job_polls_to_complete=0)
    headers = token(gc)
    job_id = submit(gc, headers, {"interval": INTERVAL, "segmentFilters": [ABANDON_FILTER], "order": "desc"})
    poll(gc, headers, job_id)
    abandons, _ = all_results(gc, headers, job_id, page_size=100)
    assert abandons and len(abandons) < 60
    assert [r["conversationStart"] for r in abandons] == sorted(
        (r["conversationStart"] for r in abandons), reverse=True
    )
    for record in abandons:
        acd = [p for p in record["participants"] if p["purpose"] == "acd"]
        assert any(
            seg.get("disconnectType") == "peer" for p in acd for s in p["sessions"] for seg in s["segments"]
        )
        assert not any(p["purpose"] == "agent" for p in record["participants"])
    limited = submit(gc, headers, {"interval": INTERVAL, "limit": 7})
    poll(gc, headers, limited)
    assert len(all_results(gc, headers, limited, page_size=5)[0]) == 7


def test_availability(sandbox: SandboxServer, gc: str) -> None:
    settings(sandbox, availability_lag_seconds=400 * 86400)
    for path in (CONV_JOBS, USER_JOBS):
        body = requests.get(f"{gc}{path}/availability", headers=token(gc), timeout=5).json()
        stamp = body["dataAvailabilityDate"]
        assert len(stamp) == 24 and stamp.endswith("Z") and stamp[19] == "."
        assert datetime.fromisoformat(stamp.replace("Z", "+00:00")) < datetime.now(UTC) - timedelta(days=399)


def test_user_details_job(sandbox: SandboxServer, gc: str) -> None:
    settings(sandbox, job_polls_to_complete=0)
    headers = token(gc)
    job_id = submit(gc, headers, {"interval": INTERVAL}, path=USER_JOBS)
    assert poll(gc, headers, job_id, path=USER_JOBS)["state"] == "FULFILLED"
    details, pages = all_results(gc, headers, job_id, page_size=10, path=USER_JOBS, key="userDetails")
    assert (
        len(details) == len(list(generate_user_details(SEED, DAY, DAY + timedelta(days=1)))) >= 25
        and pages >= 3
    )
    presences = {r["systemPresence"] for d in details for r in d["primaryPresence"]}
    assert {"OFFLINE", "ON_QUEUE", "AVAILABLE"} <= presences
    assert {r["routingStatus"] for d in details for r in d["routingStatus"]} >= {
        "OFF_QUEUE",
        "IDLE",
        "INTERACTING",
    }
    one_user = submit(
        gc,
        headers,
        {
            "interval": INTERVAL,
            "userFilters": [
                {"type": "or", "predicates": [{"dimension": "userId", "value": details[0]["userId"]}]}
            ],
        },
        path=USER_JOBS,
    )
    poll(gc, headers, one_user, path=USER_JOBS)
    only, _ = all_results(gc, headers, one_user, page_size=10, path=USER_JOBS, key="userDetails")
    assert [d["userId"] for d in only] == [details[0]["userId"]]
    # Conversation job ids are not user job ids.
    assert_error_body(requests.get(f"{gc}{CONV_JOBS}/{job_id}", headers=headers, timeout=5), 404, "not.found")


# -- synchronous queries ---------------------------------------------------------------------


def test_query_paging_until_a_page_without_conversations(gc: str) -> None:
    headers = token(gc)
    seen: list[str] = []
    page = 1
    while True:
        body = requests.post(
            f"{gc}{CONV_QUERY}",
            json={"interval": INTERVAL, "paging": {"pageSize": 100, "pageNumber": page}},
            headers=headers,
            timeout=10,
        ).json()
        if "conversations" not in body:
            break
        assert body["totalHits"] >= len(seen)
        assert all("attributes" not in p for c in body["conversations"] for p in c["participants"])
        seen.extend(c["conversationId"] for c in body["conversations"])
        page += 1
    # Start-day matching: only conversations that started on 2024-05-01.
    expected = [
        i.record["conversationId"]
        for i in iter_generated(SEED, DAY, DAY + timedelta(days=1), start_day_matching=True)
    ]
    assert seen == expected and page == len(expected) // 100 + 2
    default = requests.post(
        f"{gc}{CONV_QUERY}", json={"interval": INTERVAL}, headers=headers, timeout=5
    ).json()
    assert len(default["conversations"]) == 25 and default["totalHits"] == len(expected)


def test_query_limits(gc: str) -> None:
    headers = token(gc)
    eight_days = "2024-05-01T00:00:00.000Z/2024-05-09T00:00:00.000Z"
    response = requests.post(f"{gc}{CONV_QUERY}", json={"interval": eight_days}, headers=headers, timeout=5)
    body = assert_error_body(response, 400, "bad.request")
    assert (
        body["message"]
        == "You must specify a search interval as part of your query that does not exceed 7 days"
    )
    filtered = {"interval": eight_days, "segmentFilters": [ABANDON_FILTER], "paging": {"pageSize": 5}}
    assert requests.post(f"{gc}{CONV_QUERY}", json=filtered, headers=headers, timeout=10).status_code == 200
    filtered["interval"] = "2024-05-01T00:00:00.000Z/2024-06-02T00:00:00.000Z"
    response = requests.post(f"{gc}{CONV_QUERY}", json=filtered, headers=headers, timeout=5)
    assert "31 days" in assert_error_body(response, 400, "bad.request")["message"]
    deep = {"interval": INTERVAL, "paging": {"pageSize": 100, "pageNumber": 1001}}
    response = requests.post(f"{gc}{CONV_QUERY}", json=deep, headers=headers, timeout=5)
    assert (
        assert_error_body(response, 400, "bad.request")["message"]
        == "Pagination may not exceed 100000 results."
    )
    big_page = {"interval": INTERVAL, "paging": {"pageSize": 101}}
    assert requests.post(f"{gc}{CONV_QUERY}", json=big_page, headers=headers, timeout=5).status_code == 400
    assert_error_body(
        requests.post(f"{gc}{CONV_QUERY}", data="{not json", headers=headers, timeout=5), 400, "bad.request"
    )


def test_query_filters(gc: str) -> None:
    headers = token(gc)

    def query(**extra: Any) -> list[dict[str, Any]]:
        body = {"interval": INTERVAL, "paging": {"pageSize": 100}, **extra}
        response = requests.post(f"{gc}{CONV_QUERY}", json=body, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return list(response.json().get("conversations", []))

    abandons = query(segmentFilters=[ABANDON_FILTER])
    assert 5 <= len(abandons) <= 60
    digital = query(
        segmentFilters=[
            {
                "type": "or",
                "predicates": [
                    {"dimension": "mediaType", "value": "email"},
                    {"dimension": "mediaType", "value": "chat"},
                ],
            }
        ]
    )
    assert digital and all(
        {s["mediaType"] for p in c["participants"] for s in p["sessions"]} & {"email", "chat"}
        for c in digital
    )
    outbound = query(
        conversationFilters=[
            {"type": "and", "predicates": [{"dimension": "originatingDirection", "value": "outbound"}]}
        ]
    )
    assert outbound and all(c["originatingDirection"] == "outbound" for c in outbound)
    long_talk_filter = [
        {"type": "and", "predicates": [{"type": "metric", "metric": "tTalk", "range": {"gte": 600_000}}]}
    ]
    assert query(segmentFilters=long_talk_filter)

    def hits(**extra: Any) -> int:
        body = {"interval": INTERVAL, "paging": {"pageSize": 1}, **extra}
        return int(
            requests.post(f"{gc}{CONV_QUERY}", json=body, headers=headers, timeout=10).json()["totalHits"]
        )

    assert 0 < hits(segmentFilters=long_talk_filter) < hits()
    bad = requests.post(
        f"{gc}{CONV_QUERY}",
        json={
            "interval": INTERVAL,
            "segmentFilters": [{"type": "xor", "predicates": [{"dimension": "purpose", "value": "acd"}]}],
        },
        headers=headers,
        timeout=5,
    )
    assert_error_body(bad, 400, "bad.request")


def test_users_details_query(gc: str) -> None:
    headers = token(gc)
    body = {
        "interval": INTERVAL,
        "presenceFilters": [{"type": "or", "predicates": [{"dimension": "systemPresence", "value": "MEAL"}]}],
        "paging": {"pageSize": 100},
    }
    response = requests.post(
        f"{gc}/api/v2/analytics/users/details/query", json=body, headers=headers, timeout=5
    )
    details = response.json()["userDetails"]
    assert details and response.json()["totalHits"] == len(details)
    assert all(any(r["systemPresence"] == "MEAL" for r in d["primaryPresence"]) for d in details)


# -- entities --------------------------------------------------------------------------------


def test_users_paging_and_ids(gc: str) -> None:
    headers = token(gc)
    first = requests.get(f"{gc}/api/v2/users", params={"pageSize": 10}, headers=headers, timeout=5).json()
    assert first["pageNumber"] == 1 and first["pageSize"] == 10 and len(first["entities"]) == 10
    assert first["nextUri"] == "/api/v2/users?pageSize=10&pageNumber=2" and first["total"] >= 25
    last = requests.get(
        f"{gc}/api/v2/users",
        params={"pageSize": 10, "pageNumber": first["pageCount"]},
        headers=headers,
        timeout=5,
    ).json()
    assert "nextUri" not in last and last["selfUri"] == last["lastUri"]
    ids = [u["id"] for u in first["entities"][:4]]
    picked = requests.get(
        f"{gc}/api/v2/users",
        params=[("id", i) for i in ids] + [("id", "unknown")],
        headers=headers,
        timeout=5,
    ).json()
    assert sorted(u["id"] for u in picked["entities"]) == sorted(ids) and picked["total"] == 4
    too_many = requests.get(
        f"{gc}/api/v2/users", params=[("id", str(i)) for i in range(101)], headers=headers, timeout=5
    )
    assert_error_body(too_many, 400, "bad.request")


def test_entities(gc: str) -> None:
    headers = token(gc)
    queues = requests.get(f"{gc}/api/v2/routing/queues", headers=headers, timeout=5).json()
    assert {"Product Sales", "Help Desk", "Billing"} <= {q["name"] for q in queues["entities"]}
    definitions = requests.get(f"{gc}/api/v2/presence/definitions", headers=headers, timeout=5).json()
    assert set(definitions) == {"total", "entities", "selfUri"} and definitions["total"] == 10
    legacy = requests.get(f"{gc}/api/v2/presencedefinitions", headers=headers, timeout=5).json()
    assert legacy["total"] == 10 and "pageCount" in legacy
    assert requests.get(f"{gc}/api/v2/routing/wrapupcodes", headers=headers, timeout=5).json()["total"] >= 5
    org = requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5).json()
    assert org["name"] == "Genesys Sandbox Org"
    assert (
        requests.get(f"{gc}/api/v2/tokens/me", headers=headers, timeout=5).json()["organization"]["id"]
        == org["id"]
    )
    assert_error_body(requests.get(f"{gc}/api/v2/nothing/here", headers=headers, timeout=5), 404, "not.found")


def test_conversation_entity_matches_analytics(gc: str) -> None:
    headers = token(gc)
    record = next(
        r
        for r in generate_conversations(SEED, DAY, DAY + timedelta(days=1))
        if r["participants"][0].get("participantName") == TRICKY_NAMES[0]
    )
    conversation = requests.get(
        f"{gc}/api/v2/conversations/{record['conversationId']}", headers=headers, timeout=5
    ).json()
    assert [p["id"] for p in conversation["participants"]] == [
        p["participantId"] for p in record["participants"]
    ]
    customer = conversation["participants"][0]
    assert customer["name"] == "<script>alert(1)</script>" and customer["purpose"] == "customer"
    assert customer["attributes"] == record["participants"][0]["attributes"]
    assert customer["ani"].startswith("tel:+1")
    future = record["conversationId"].replace(record["conversationId"].split("-")[4][:5], "fffff", 1)
    assert_error_body(
        requests.get(f"{gc}/api/v2/conversations/{future}", headers=headers, timeout=5), 404, "not.found"
    )
    assert_error_body(
        requests.get(f"{gc}/api/v2/conversations/not-a-conversation", headers=headers, timeout=5),
        404,
        "not.found",
    )


# -- data generator --------------------------------------------------------------------------


def test_generator_is_deterministic_and_seeded() -> None:
    end = DAY + timedelta(days=2)
    first = list(generate_conversations(SEED, DAY, end))
    assert first == list(generate_conversations(SEED, DAY, end))
    other = list(generate_conversations(SEED + 1, DAY, end))
    assert [r["conversationId"] for r in first] != [r["conversationId"] for r in other]
    assert conversation_count(SEED, DAY, end) == len(first)
    assert len(list(generate_conversations(SEED, DAY, DAY + timedelta(days=1), per_day=1000))) >= 1000


def test_generator_mix_is_realistic() -> None:
    records = list(generate_conversations(SEED, DAY, DAY + timedelta(days=3)))
    names = {p.get("participantName") for r in records for p in r["participants"]}
    assert set(TRICKY_NAMES) <= names
    voice = [r for r in records if r["participants"][0]["sessions"][0]["mediaType"] == "voice"]
    assert len(voice) > len(records) / 2
    abandoned = [r for r in voice if not any(p["purpose"] in ("agent",) for p in r["participants"])]
    assert 0.04 < len(abandoned) / len(voice) < 0.18
    assert any(r.get("conferenceStart") for r in records)
    assert any(sum(p["purpose"] == "agent" for p in r["participants"]) == 2 for r in records)
    stamps = [
        seg["segmentStart"]
        for r in records
        for p in r["participants"]
        for s in p["sessions"]
        for seg in s["segments"]
    ]
    assert all(len(s) == 24 and s.endswith("Z") for s in stamps)


def test_same_seed_servers_answer_identically(gc: str) -> None:
    with SandboxServer(port=0, seed=SEED) as twin:
        twin_gc = twin.vendor_url("genesys_cloud")
        body = {"interval": INTERVAL, "paging": {"pageSize": 30, "pageNumber": 2}}
        ours = requests.post(f"{gc}{CONV_QUERY}", json=body, headers=token(gc), timeout=5).json()
        theirs = requests.post(f"{twin_gc}{CONV_QUERY}", json=body, headers=token(twin_gc), timeout=5).json()
        assert ours == theirs
        users = requests.get(f"{gc}/api/v2/users", headers=token(gc), timeout=5).json()["entities"]
        assert (
            users
            == requests.get(f"{twin_gc}/api/v2/users", headers=token(twin_gc), timeout=5).json()["entities"]
        )


def test_basic_header_parsing_is_strict(gc: str) -> None:
    garbage = requests.post(
        f"{gc}/login/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        timeout=5,
    )
    assert garbage.status_code == 401 and garbage.json()["error"] == "invalid_client"


# -- predicates: the operator field ----------------------------------------------------------


def test_predicates_carry_their_operator_in_operator(sandbox: SandboxServer, gc: str) -> None:
    headers = token(gc)

    def query(*predicates: dict[str, Any]) -> requests.Response:
        body = {
            "interval": INTERVAL,
            "paging": {"pageSize": 100},
            "segmentFilters": [{"type": "and", "predicates": list(predicates)}],
        }
        return requests.post(f"{gc}{CONV_QUERY}", json=body, headers=headers, timeout=10)

    with_code = query({"type": "dimension", "dimension": "wrapUpCode", "operator": "exists"})
    assert with_code.status_code == 200, with_code.text
    coded = with_code.json()["conversations"]
    assert coded and all(
        any(seg.get("wrapUpCode") for p in c["participants"] for s in p["sessions"] for seg in s["segments"])
        for c in coded
    )
    # notExists on a segment filter: some segment lacks a wrap-up code, which every conversation has.
    assert query({"dimension": "wrapUpCode", "operator": "notExists"}).json()["totalHits"] > len(coded)

    wrong_field = query({"dimension": "purpose", "op_name": "matches", "value": "acd"})
    message = assert_error_body(wrong_field, 400, "bad.request")["message"]
    assert "'op_name'" in message and "segmentFilters[0].predicates[0]" in message
    bad_operator = query({"dimension": "purpose", "operator": "equals", "value": "acd"})
    assert "'equals'" in assert_error_body(bad_operator, 400, "bad.request")["message"]
    no_value = query({"dimension": "purpose", "operator": "matches"})
    assert "needs a value" in assert_error_body(no_value, 400, "bad.request")["message"]

    # A malformed filter is refused when the job is submitted, not when its results are read.
    bad_job = requests.post(
        f"{gc}{CONV_JOBS}",
        json={"interval": INTERVAL, "segmentFilters": [{"type": "and", "predicates": [{"op_name": "x"}]}]},
        headers=headers,
        timeout=5,
    )
    assert_error_body(bad_job, 400, "bad.request")
    user_filter = {"type": "or", "predicates": [{"dimension": "userId", "value": "u", "metric": "tTalk"}]}
    bad_user_job = requests.post(
        f"{gc}{USER_JOBS}",
        json={"interval": INTERVAL, "userFilters": [user_filter]},
        headers=headers,
        timeout=5,
    )
    assert "'metric'" in assert_error_body(bad_user_job, 400, "bad.request")["message"]

    settings(sandbox, strict_predicates=False)  # a lenient server ignores the unknown field
    assert query({"dimension": "purpose", "op_name": "exists", "value": "acd"}).status_code == 200


# -- headers on every response ---------------------------------------------------------------


def test_every_response_carries_a_correlation_id_and_rate_limit_headers(
    sandbox: SandboxServer, gc: str
) -> None:
    settings(sandbox, rate_limit_per_minute=4)
    login = requests.post(
        f"{gc}/login/oauth/token", data={"grant_type": "client_credentials"}, auth=("id", "pw"), timeout=5
    )
    assert login.headers["ININ-Correlation-Id"]
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    responses = [
        requests.get(f"{gc}/api/v2/organizations/me", headers=headers, timeout=5),
        requests.get(f"{gc}{CONV_JOBS}/no-such-job", headers=headers, timeout=5),
        requests.post(f"{gc}{CONV_QUERY}", json={"interval": INTERVAL}, headers=headers, timeout=5),
        requests.get(f"{gc}/api/v2/users", headers=headers, timeout=5),
        requests.get(f"{gc}/api/v2/users", headers=headers, timeout=5),
    ]
    assert [r.status_code for r in responses] == [200, 404, 200, 200, 429]
    ids = [r.headers["ININ-Correlation-Id"] for r in responses]
    assert len(set(ids)) == len(ids) and all(len(i) == 36 for i in ids)
    assert ids[1] == responses[1].json()["contextId"]
    assert [r.headers["inin-ratelimit-count"] for r in responses] == ["1", "2", "3", "4", "4"]
    assert {r.headers["inin-ratelimit-allowed"] for r in responses} == {"4"}
    assert all(1 <= int(r.headers["inin-ratelimit-reset"]) <= 60 for r in responses)

    anonymous = requests.get(f"{gc}/api/v2/organizations/me", timeout=5)
    assert anonymous.status_code == 401 and anonymous.headers["ININ-Correlation-Id"]
    assert "inin-ratelimit-count" not in anonymous.headers  # no token, no budget to report
    settings(sandbox, ratelimit_headers=False)
    quiet = requests.get(f"{gc}/api/v2/organizations/me", headers=token(gc), timeout=5)
    assert quiet.headers["ININ-Correlation-Id"] and "inin-ratelimit-count" not in quiet.headers


# -- users -----------------------------------------------------------------------------------


def test_get_user_and_expand_presence_and_routing_status(sandbox: SandboxServer, gc: str) -> None:
    at = "2024-05-01T12:00:00.000Z"
    settings(sandbox, now=at)
    headers = token(gc)
    details = {
        d["userId"]: d for d in generate_user_details(SEED, DAY, DAY + timedelta(days=1))
    }  # the timelines the presence report reads
    listing = requests.get(
        f"{gc}/api/v2/users", params={"expand": "presence,routingStatus"}, headers=headers, timeout=5
    ).json()
    assert listing["selfUri"].endswith("expand=presence%2CroutingStatus")
    for user in listing["entities"]:
        presence = next(
            r for r in details[user["id"]]["primaryPresence"] if r["startTime"] <= at < r["endTime"]
        )
        status = next(r for r in details[user["id"]]["routingStatus"] if r["startTime"] <= at < r["endTime"])
        assert user["presence"]["presenceDefinition"]["id"] == presence["organizationPresenceId"]
        assert user["presence"]["source"] == "PURECLOUD" and user["presence"]["primary"] is True
        assert user["routingStatus"] == {
            "userId": user["id"],
            "status": status["routingStatus"],
            "startTime": status["startTime"],
        }
    assert {u["routingStatus"]["status"] for u in listing["entities"]} >= {"OFF_QUEUE", "INTERACTING"}

    one = listing["entities"][3]
    plain = requests.get(f"{gc}/api/v2/users/{one['id']}", headers=headers, timeout=5).json()
    assert plain["name"] == one["name"] and "presence" not in plain and "routingStatus" not in plain
    both = requests.get(
        f"{gc}/api/v2/users/{one['id']}",
        params=[("expand", "presence"), ("expand", "routingStatus")],
        headers=headers,
        timeout=5,
    ).json()
    assert both["presence"] == one["presence"] and both["routingStatus"] == one["routingStatus"]
    assert_error_body(requests.get(f"{gc}/api/v2/users/nobody", headers=headers, timeout=5), 404, "not.found")


# -- realistic gaps in the data --------------------------------------------------------------


def test_generated_data_has_the_gaps_real_data_has() -> None:
    records = list(generate_conversations(SEED, DAY, DAY + timedelta(days=2)))
    outside = [p for r in records for p in r["participants"] if p["purpose"] in ("customer", "external")]
    customers = [p for p in outside if p.get("attributes")]
    nameless = [p for p in customers if "participantName" not in p]
    assert 0.02 < len(nameless) / len(customers) < 0.1
    # Without a name the platform shows the caller's number as the remote party.
    remotes = [s["remote"] for p in nameless for s in p["sessions"] if "remote" in s]
    assert remotes and all(r.startswith("tel:+") for r in remotes)
    assert 0.05 < sum("accountNumber" not in p["attributes"] for p in customers) / len(customers) < 0.16
    voice = [
        p["sessions"][0]
        for p in customers
        if p["sessions"][0]["mediaType"] == "voice" and p["purpose"] == "customer"
    ]
    assert any("ani" not in s for s in voice) and any("dnis" not in s for s in voice)
    assert sum("ani" in s for s in voice) > 0.9 * len(voice)
    sessions = [s for r in records for p in r["participants"] for s in p["sessions"]]
    assert all(s["provider"] for s in sessions)
    assert {s["provider"] for s in sessions if s["mediaType"] == "voice"} == {"Edge"}
    flows = [s["flow"] for s in sessions if "flow" in s]
    assert flows and all(f["entryReason"].startswith("tel:+1800") and f["exitReason"] for f in flows)
    voice_conversations = [r for r in records if "mediaStatsMinConversationMos" in r]
    assert all(50 < r["mediaStatsMinConversationRFactor"] < 95 for r in voice_conversations)
    # Hostile names are never blanked: the reports must escape them.
    assert set(TRICKY_NAMES) <= {p.get("participantName") for p in customers}
