"""The official Genesys SDK must deserialize every response of the Genesys Cloud sandbox.

The SDK validates enums on deserialization by replacing unknown values with
``"outdated_sdk_version"``; every test walks the model's ``to_dict()`` and fails on
that marker, so a wrong enum value anywhere in the emulator's output is caught. The SDK
silently drops fields its models do not have, so :func:`assert_known` also walks the raw
JSON of the last response against the model's attribute maps: the sandbox sends no field
the platform's models lack.
"""

from __future__ import annotations

import json
import re
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


_PRIMITIVES = {"str", "int", "float", "bool", "datetime", "date", "object"}


def unknown_fields(raw: Any, type_name: str, path: str = "") -> list[str]:
    """Paths of keys in ``raw`` that the SDK model ``type_name`` (recursively) does not declare."""
    if raw is None or type_name in _PRIMITIVES:
        return []
    if match := re.fullmatch(r"list\[(.+)\]", type_name):
        return [u for i, item in enumerate(raw) for u in unknown_fields(item, match[1], f"{path}[{i}]")]
    if match := re.fullmatch(r"dict\(str, (.+)\)", type_name):
        return [u for k, v in raw.items() for u in unknown_fields(v, match[1], f"{path}.{k}")]
    model = getattr(sdk, type_name)()
    wire = {name: model.swagger_types[attr] for attr, name in model.attribute_map.items()}
    found = []
    for key, value in raw.items():
        if key not in wire:
            found.append(f"{type_name} {path}.{key}")
        else:
            found.extend(unknown_fields(value, wire[key], f"{path}.{key}"))
    return found


def assert_known(client: sdk.ApiClient, type_name: str) -> dict[str, Any]:
    """The raw JSON of the client's last response, checked field by field against ``type_name``."""
    raw: dict[str, Any] = json.loads(client.last_response.data)
    assert unknown_fields(raw, type_name) == []
    return raw


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
        assert_known(client, "AnalyticsConversationAsyncQueryResponse")
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
    assert_known(client, "AnalyticsConversationQueryResponse")
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
    assert_known(client, "AnalyticsUserDetailsAsyncQueryResponse")
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
    assert_known(client, "Conversation")
    assert conversation.id == detail.conversation_id
    assert [p.id for p in conversation.participants] == [p.participant_id for p in detail.participants]
    customer = next(
        p for p in conversation.participants if p.purpose in ("customer", "external") and p.attributes
    )
    assert customer.attributes.get("accountNumber", "0").isdigit()


def test_directory_entities(client: sdk.ApiClient) -> None:
    users_page = sdk.UsersApi(client).get_users(page_size=10, page_number=1)
    assert_clean(users_page)
    assert_known(client, "UserEntityListing")
    assert users_page.total >= 25 and len(users_page.entities) == 10 and users_page.next_uri
    ids = [u.id for u in users_page.entities[:3]]
    by_id = sdk.UsersApi(client).get_users(id=ids)
    assert sorted(u.id for u in by_id.entities) == sorted(ids) and by_id.total == 3

    queues = sdk.RoutingApi(client).get_routing_queues(page_size=100)
    assert_clean(queues)
    assert_known(client, "QueueEntityListing")
    assert {"Product Sales", "Help Desk", "Billing"} <= {q.name for q in queues.entities}
    wrapups = sdk.RoutingApi(client).get_routing_wrapupcodes()
    assert_clean(wrapups)
    assert_known(client, "WrapupCodeEntityListing")
    assert wrapups.total == len(wrapups.entities) > 3

    definitions = sdk.PresenceApi(client).get_presence_definitions()
    assert_clean(definitions)
    assert_known(client, "OrganizationPresenceDefinitionEntityListing")
    assert {d.system_presence for d in definitions.entities} >= {"Available", "OnQueue", "Offline"}
    with pytest.warns(DeprecationWarning, match="get_presencedefinitions"):
        legacy = sdk.PresenceApi(client).get_presencedefinitions(page_size=25)
    assert_clean(legacy)
    assert legacy.total == definitions.total

    org = sdk.OrganizationApi(client).get_organizations_me()
    assert_clean(org)
    assert_known(client, "Organization")
    assert org.name == "Genesys Sandbox Org"
    token = sdk.TokensApi(client).get_tokens_me()
    assert_clean(token)
    raw = assert_known(client, "TokenInfo")
    assert token.organization.id == org.id and token.o_auth_client.id == "sdk-client"
    # Organisation objects are the SDK's NamedEntity: exactly its fields, no selfUri.
    named = set(sdk.NamedEntity().attribute_map.values())
    assert named == {"id", "name"}
    for entity in (raw["organization"], raw["homeOrganization"], raw["OAuthClient"]["organization"]):
        assert set(entity) == named and entity == {"id": org.id, "name": org.name}


def test_sdk_raises_api_exception_with_error_body(client: sdk.ApiClient) -> None:
    with pytest.raises(sdk.rest.ApiException) as caught:
        sdk.AnalyticsApi(client).get_analytics_conversations_details_job("no-such-job")
    assert caught.value.status == 404
    assert '"code": "not.found"' in caught.value.body or '"code":"not.found"' in caught.value.body


# -- issue 9: the sandbox closer to the vendor ---------------------------------------------------


def test_every_sdk_response_carries_correlation_and_rate_limit_headers(client: sdk.ApiClient) -> None:
    counts = []
    for _ in range(2):
        sdk.OrganizationApi(client).get_organizations_me()
        headers = client.last_response.getheaders()
        assert re.fullmatch(r"[0-9a-f-]{36}", headers["ININ-Correlation-Id"])
        assert headers["inin-ratelimit-allowed"] == "300" and 1 <= int(headers["inin-ratelimit-reset"]) <= 60
        counts.append(int(headers["inin-ratelimit-count"]))
    assert counts[1] == counts[0] + 1
    with pytest.raises(sdk.rest.ApiException) as caught:
        sdk.ConversationsApi(client).get_conversation("not-a-conversation")
    assert caught.value.headers["ININ-Correlation-Id"] in caught.value.body
    assert caught.value.headers["inin-ratelimit-count"]


def test_predicates_built_with_sdk_models_use_operator(client: sdk.ApiClient) -> None:
    analytics = sdk.AnalyticsApi(client)
    exists = build(
        sdk.SegmentDetailQueryPredicate, type="dimension", dimension="wrapUpCode", operator="exists"
    )
    assert "operator" in client.sanitize_for_serialization(exists)
    query = build(
        sdk.ConversationQuery,
        interval=INTERVAL,
        segment_filters=[build(sdk.SegmentDetailQueryFilter, type="and", predicates=[exists])],
        paging=build(sdk.PagingSpec, page_size=100, page_number=1),
    )
    response = analytics.post_analytics_conversations_details_query(query)
    assert response.conversations and all(
        any(g.wrap_up_code for p in c.participants for s in p.sessions for g in s.segments)
        for c in response.conversations
    )
    # A client that names the operator field wrongly gets the platform's 400, not silent matches.
    body = client.sanitize_for_serialization(query)
    body["segmentFilters"][0]["predicates"][0]["op_name"] = body["segmentFilters"][0]["predicates"][0].pop(
        "operator"
    )
    with pytest.raises(sdk.rest.ApiException) as caught:
        analytics.post_analytics_conversations_details_query(body)
    assert caught.value.status == 400 and "op_name" in caught.value.body


def test_user_with_presence_and_routing_status(client: sdk.ApiClient) -> None:
    users = sdk.UsersApi(client)
    listing = users.get_users(page_size=25, expand=["presence", "routingStatus"])
    assert_clean(listing)
    assert_known(client, "UserEntityListing")
    assert all(u.presence.presence_definition.id and u.routing_status.status for u in listing.entities)
    definitions = {d.id for d in sdk.PresenceApi(client).get_presence_definitions().entities}
    assert {u.presence.presence_definition.id for u in listing.entities} <= definitions
    first = listing.entities[0]
    user = users.get_user(first.id, expand=["presence", "routingStatus"])
    assert_clean(user)
    assert_known(client, "User")
    assert user.id == first.id and user.name == first.name
    assert user.routing_status.user_id == first.id and user.routing_status.start_time is not None
    assert user.presence.source == "PURECLOUD" and user.presence.modified_date is not None
    assert users.get_user(first.id).presence is None


def test_conversation_participants_carry_their_communications(client: sdk.ApiClient) -> None:
    analytics = sdk.AnalyticsApi(client)
    details = analytics.post_analytics_conversations_details_query(
        build(sdk.ConversationQuery, interval=INTERVAL, paging=build(sdk.PagingSpec, page_size=100))
    ).conversations
    wanted = {
        "voice": "calls",
        "chat": "chats",
        "callback": "callbacks",
        "email": "emails",
        "message": "messages",
    }
    seen = set()
    for detail in details:
        media = detail.participants[0].sessions[0].media_type
        if media in seen:
            continue
        seen.add(media)
        conversation = sdk.ConversationsApi(client).get_conversation(detail.conversation_id)
        assert_clean(conversation)
        assert_known(client, "Conversation")
        for participant, analytics_participant in zip(
            conversation.participants, detail.participants, strict=True
        ):
            communications = getattr(participant, wanted[media])
            assert [c.id for c in communications] == [s.session_id for s in analytics_participant.sessions]
            for communication, session in zip(communications, analytics_participant.sessions, strict=True):
                assert communication.state == "disconnected" and communication.direction == session.direction
                assert len(communication.segments) == len(session.segments)
                assert communication.disconnected_time == session.segments[-1].segment_end
        assert all(
            getattr(p, other) is None
            for p in conversation.participants
            for other in set(wanted.values()) - {wanted[media]}
        )
    assert seen == set(wanted)


def test_open_conversations_and_missing_values_deserialize(
    sandbox: SandboxServer, client: sdk.ApiClient
) -> None:
    settings_url = f"{sandbox.url}/_sandbox/vendors/genesys_cloud/settings"
    requests.patch(settings_url, json={"now": "2024-05-01T14:00:00Z"}, timeout=5).raise_for_status()
    try:
        analytics = sdk.AnalyticsApi(client)
        query = build(
            sdk.ConversationQuery,
            interval="2024-05-01T13:00:00.000Z/2024-05-01T14:00:00.000Z",
            paging=build(sdk.PagingSpec, page_size=100),
        )
        response = analytics.post_analytics_conversations_details_query(query)
        assert_clean(response)
        in_progress = [c for c in response.conversations if c.conversation_end is None]
        assert in_progress
        entity = sdk.ConversationsApi(client).get_conversation(in_progress[0].conversation_id)
        assert_clean(entity)
        assert_known(client, "Conversation")
        assert entity.end_time is None
        assert any(
            c.state != "disconnected"
            for p in entity.participants
            for c in (p.calls or p.chats or p.emails or p.messages or p.callbacks or [])
        )
    finally:
        requests.patch(settings_url, json={"now": None}, timeout=5).raise_for_status()
    # A whole day: customers without a name, sessions without ANI, no account number.
    whole_day = analytics.post_analytics_conversations_details_query(
        build(
            sdk.ConversationQuery,
            interval=INTERVAL,
            paging=build(sdk.PagingSpec, page_size=100, page_number=3),
        )
    )
    customers = [p for c in whole_day.conversations for p in c.participants if p.purpose == "customer"]
    assert any(p.participant_name is None for p in customers)
    assert any(s.ani is None for p in customers for s in p.sessions if s.media_type == "voice")
