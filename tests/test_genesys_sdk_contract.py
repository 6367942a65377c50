"""The official Genesys SDK must deserialize every response of the Genesys Cloud sandbox.

The SDK validates enums on deserialization by replacing unknown values with
``"outdated_sdk_version"``; every test walks the model's ``to_dict()`` and fails on
that marker, so a wrong enum value anywhere in the emulator's output is caught.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import PureCloudPlatformClientV2 as sdk
import pytest
import requests

from contact_center_provider.sandbox import SandboxServer

INTERVAL = "2024-05-01T00:00:00.000Z/2024-05-02T00:00:00.000Z"
OUTDATED = "outdated_sdk_version"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, seed=42) as server:
        requests.patch(
            f"{server.url}/_sandbox/vendors/genesys_cloud/settings",
            json={"job_polls_to_complete": 0},
            timeout=5,
        ).raise_for_status()
        yield server


@pytest.fixture(scope="module")
def client(sandbox: SandboxServer) -> sdk.ApiClient:
    api_client = sdk.ApiClient(host=sandbox.vendor_url("genesys_cloud"))
    # The SDK's own client-credentials login posts to {host}/oauth/token, which the sandbox serves.
    api_client.get_client_credentials_token("sdk-client", "sdk-secret")
    assert api_client.access_token
    return api_client


def build(cls: Any, **attributes: Any) -> Any:
    """SDK models take no constructor arguments; set properties one by one (validated setters)."""
    instance = cls()
    for name, value in attributes.items():
        setattr(instance, name, value)
    return instance


def walk(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    else:
        yield value


def assert_clean(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.to_dict()
    assert OUTDATED not in list(walk(data)), "the SDK rejected an enum value from the sandbox"
    return data


def test_conversation_details_job_round_trip(client: sdk.ApiClient) -> None:
    analytics = sdk.AnalyticsApi(client)
    availability = analytics.get_analytics_conversations_details_jobs_availability()
    assert availability.data_availability_date is not None
    submitted = analytics.post_analytics_conversations_details_jobs(
        build(sdk.AsyncConversationQuery, interval=INTERVAL, order="asc", order_by="conversationStart")
    )
    assert submitted.job_id
    status = analytics.get_analytics_conversations_details_job(submitted.job_id)
    assert status.state == "FULFILLED" and status.submission_date is not None and status.completion_date
    conversations = []
    cursor = None
    while True:
        kwargs = {"page_size": 100, **({"cursor": cursor} if cursor else {})}
        page = analytics.get_analytics_conversations_details_job_results(submitted.job_id, **kwargs)
        assert_clean(page)
        conversations.extend(page.conversations or [])
        cursor = page.cursor
        if not cursor:
            break
    assert len(conversations) >= 240
    first = conversations[0]
    assert first.conversation_id and first.conversation_start is not None
    purposes = {p.purpose for c in conversations for p in c.participants}
    assert {"customer", "acd", "agent", "ivr", "external"} <= purposes
    customer = next(p for p in first.participants if p.purpose in ("customer", "external") and p.attributes)
    assert customer.attributes["accountNumber"].isdigit()
    media = {s.media_type for c in conversations for p in c.participants for s in p.sessions}
    assert {"voice", "callback", "chat", "email", "message"} <= media
    segment_types = {
        g.segment_type for c in conversations for p in c.participants for s in p.sessions for g in s.segments
    }
    assert {"interact", "ivr", "alert", "wrapup", "hold", "dialing"} <= segment_types
    analytics.delete_analytics_conversations_details_job(submitted.job_id)
    assert analytics.get_analytics_conversations_details_job(submitted.job_id).state == "CANCELLED"


def test_conversation_details_query(client: sdk.ApiClient) -> None:
    analytics = sdk.AnalyticsApi(client)
    response = analytics.post_analytics_conversations_details_query(
        build(
            sdk.ConversationQuery,
            interval=INTERVAL,
            paging=build(sdk.PagingSpec, page_size=50, page_number=1),
        )
    )
    data = assert_clean(response)
    assert response.total_hits >= 240 and len(response.conversations) == 50
    assert "attributes" not in str([p.keys() for c in data["conversations"] for p in c["participants"]])


def test_user_details_job_and_query(client: sdk.ApiClient) -> None:
    analytics = sdk.AnalyticsApi(client)
    assert analytics.get_analytics_users_details_jobs_availability().data_availability_date is not None
    submitted = analytics.post_analytics_users_details_jobs(
        build(sdk.AsyncUserDetailsQuery, interval=INTERVAL)
    )
    assert analytics.get_analytics_users_details_job(submitted.job_id).state == "FULFILLED"
    page = analytics.get_analytics_users_details_job_results(submitted.job_id, page_size=10)
    assert_clean(page)
    assert len(page.user_details) == 10 and page.cursor
    detail = page.user_details[0]
    assert detail.user_id and detail.primary_presence and detail.routing_status
    assert {r.system_presence for d in page.user_details for r in d.primary_presence} >= {
        "OFFLINE",
        "ON_QUEUE",
    }
    analytics.delete_analytics_users_details_job(submitted.job_id)

    query = analytics.post_analytics_users_details_query(
        build(
            sdk.UserDetailsQuery, interval=INTERVAL, paging=build(sdk.PagingSpec, page_size=5, page_number=2)
        )
    )
    assert_clean(query)
    assert len(query.user_details) == 5 and query.total_hits > 5


def test_conversation_entity(client: sdk.ApiClient) -> None:
    analytics = sdk.AnalyticsApi(client)
    query = analytics.post_analytics_conversations_details_query(
        build(sdk.ConversationQuery, interval=INTERVAL)
    )
    detail = query.conversations[0]
    conversation = sdk.ConversationsApi(client).get_conversation(detail.conversation_id)
    assert_clean(conversation)
    assert conversation.id == detail.conversation_id
    assert [p.id for p in conversation.participants] == [p.participant_id for p in detail.participants]
    customer = next(
        p for p in conversation.participants if p.purpose in ("customer", "external") and p.attributes
    )
    assert customer.attributes["accountNumber"].isdigit() and customer.name


def test_directory_entities(client: sdk.ApiClient) -> None:
    users_page = sdk.UsersApi(client).get_users(page_size=10, page_number=1)
    assert_clean(users_page)
    assert users_page.total >= 25 and len(users_page.entities) == 10 and users_page.next_uri
    ids = [u.id for u in users_page.entities[:3]]
    by_id = sdk.UsersApi(client).get_users(id=ids)
    assert sorted(u.id for u in by_id.entities) == sorted(ids) and by_id.total == 3

    queues = sdk.RoutingApi(client).get_routing_queues(page_size=100)
    assert_clean(queues)
    assert {"Product Sales", "Help Desk", "Billing"} <= {q.name for q in queues.entities}
    wrapups = sdk.RoutingApi(client).get_routing_wrapupcodes()
    assert_clean(wrapups)
    assert wrapups.total == len(wrapups.entities) > 3

    definitions = sdk.PresenceApi(client).get_presence_definitions()
    assert_clean(definitions)
    assert {d.system_presence for d in definitions.entities} >= {"Available", "OnQueue", "Offline"}
    with pytest.warns(DeprecationWarning, match="get_presencedefinitions"):
        legacy = sdk.PresenceApi(client).get_presencedefinitions(page_size=25)
    assert_clean(legacy)
    assert legacy.total == definitions.total

    org = sdk.OrganizationApi(client).get_organizations_me()
    assert_clean(org)
    assert org.name == "Genesys Sandbox Org"
    token = sdk.TokensApi(client).get_tokens_me()
    assert_clean(token)
    assert token.organization.id == org.id and token.o_auth_client.id == "sdk-client"


def test_sdk_raises_api_exception_with_error_body(client: sdk.ApiClient) -> None:
    with pytest.raises(sdk.rest.ApiException) as caught:
        sdk.AnalyticsApi(client).get_analytics_conversations_details_job("no-such-job")
    assert caught.value.status == 404
    assert '"code": "not.found"' in caught.value.body or '"code":"not.found"' in caught.value.body
