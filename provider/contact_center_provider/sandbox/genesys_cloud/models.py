"""In-memory Genesys Cloud: tokens, details jobs, queries and entities (no HTTP).

Every public method takes parsed Python values and returns JSON-ready dicts or raises
:class:`~.errors.GenesysApiError`; ``routes.py`` only moves them on and off the wire.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from ..vendors import VendorContext
from .auth import Token, TokenStore
from .data import find_generated, iter_generated, without_attributes
from .directory import directory, organization, public
from .entities import USER_EXPANDS, conversation_entity, user_expands
from .errors import GenesysApiError
from .filters import check_filters, conversation_matches, user_detail_matches
from .jobs import Job, JobKind, JobStore
from .progress import as_of
from .settings import GenesysSettings
from .timefmt import format_ms, format_ts, parse_interval, to_ms
from .userdata import generate_user_details

QUERY_DEFAULT_PAGE_SIZE = 25
QUERY_MAX_RESULTS = 100_000
ENTITY_DEFAULT_PAGE_SIZE = 25
ENTITY_MAX_PAGE_SIZE = 500
MAX_USER_IDS = 100
_RESULT_KEY: dict[JobKind, str] = {"conversations": "conversations", "users": "userDetails"}


def _int_param(value: Any, name: str, default: int, minimum: int = 1) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise GenesysApiError(400, f"{name} must be an integer, got {value!r}", "bad.request") from exc
    if number < minimum:
        raise GenesysApiError(400, f"{name} must be >= {minimum}", "bad.request")
    return number


def _list_field(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name) or []
    if not isinstance(value, list):
        raise GenesysApiError(400, f"{name} must be a list", "bad.request")
    return value


def paged_listing(
    items: Sequence[dict[str, Any]],
    path: str,
    page_size: int,
    page_number: int,
    extra: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The ``*EntityListing`` shape: entities plus relative ``selfUri/firstUri/lastUri/nextUri``."""
    total = len(items)
    page_count = max(1, math.ceil(total / page_size)) if total else 0
    extra = list(extra)

    def uri(number: int) -> str:
        return f"{path}?{urlencode([('pageSize', page_size), ('pageNumber', number), *extra])}"

    listing: dict[str, Any] = {
        "entities": list(items[(page_number - 1) * page_size : page_number * page_size]),
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": page_count,
        "firstUri": uri(1),
        "selfUri": uri(page_number),
        "lastUri": uri(max(1, page_count)),
    }
    if page_number < page_count:
        listing["nextUri"] = uri(page_number + 1)
    if page_number > 1:
        listing["previousUri"] = uri(page_number - 1)
    return listing


class GenesysCloudModel:
    """One organization's emulated platform.

    :param ctx: framework context (seed and live settings).
    :param clock: wall clock in epoch seconds; injectable for unit tests.
    """

    def __init__(self, ctx: VendorContext, clock: Callable[[], float] = time.time) -> None:
        self._ctx = ctx
        self._clock = clock
        self.tokens = TokenStore(lambda: self.settings, clock)
        self.jobs = JobStore(lambda: self.settings, clock)

    @property
    def settings(self) -> GenesysSettings:
        settings: GenesysSettings = self._ctx.settings
        return settings

    @property
    def seed(self) -> int:
        return self._ctx.seed

    # -- auth -------------------------------------------------------------------------------

    def issue_token(self, client_id: str, client_secret: str) -> dict[str, Any]:
        """Token endpoint answer; raises :class:`~.auth.InvalidClient` for rejected credentials."""
        token = self.tokens.issue(client_id, client_secret)
        return {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": int(token.expires_at - token.issued_at),
        }

    def authenticate(self, authorization: str | None) -> Token:
        return self.tokens.authenticate(authorization)

    def check_body_size(self, size: int) -> None:
        limit = self.settings.max_request_bytes
        if size > limit:
            raise GenesysApiError(
                413,
                f"The request is over the size limit. Maximum bytes: {limit}",
                "request.entity.too.large",
                message_params={"maxBytes": str(limit)},
            )

    def expire_tokens(self) -> dict[str, Any]:
        return {"expired": self.tokens.expire_all()}

    def rate_limit_headers(self, token: Token) -> dict[str, str]:
        """The ``inin-ratelimit-*`` headers of a response to ``token`` (empty when switched off)."""
        return self.tokens.usage_headers(token)

    # -- the data clock ---------------------------------------------------------------------

    def now_ms(self) -> int:
        """The data clock: ``settings.now`` when set, else the wall clock (epoch ms)."""
        pinned = self.settings.now_ms
        return int(self._clock() * 1000) if pinned is None else pinned

    # -- details jobs -----------------------------------------------------------------------

    def availability_ms(self) -> int:
        return self.now_ms() - self.settings.availability_lag_seconds * 1000

    def availability(self) -> dict[str, str]:
        """``DataAvailabilityResponse``."""
        return {"dataAvailabilityDate": format_ms(self.availability_ms())}

    def submit_job(self, kind: JobKind, body: Any) -> dict[str, str]:
        """Validate the async query and create a job -> ``{"jobId"}``."""
        if not isinstance(body, dict):
            raise GenesysApiError(400, "The request body must be a JSON object", "bad.request")
        start, end = parse_interval(body.get("interval"))
        self._check_order(body)
        check_filters(body, self.settings.strict_predicates)
        job = self.jobs.submit(kind, body["interval"], start, end, body)
        job.query = {**body, "_available_ms": self.availability_ms()}
        return {"jobId": job.id}

    def job_status(self, kind: JobKind, job_id: str) -> dict[str, Any]:
        return self.jobs.poll(kind, job_id).status_json()

    def cancel_job(self, kind: JobKind, job_id: str) -> None:
        self.jobs.cancel(kind, job_id)

    def job_results(self, kind: JobKind, job_id: str, cursor: str | None, page_size: Any) -> dict[str, Any]:
        """One results page: ``{conversations|userDetails, cursor?, dataAvailabilityDate}``."""
        size = None if page_size in (None, "") else _int_param(page_size, "pageSize", 1)
        page, next_cursor = self.jobs.results_page(kind, job_id, cursor, size, self._build_results)
        body: dict[str, Any] = {_RESULT_KEY[kind]: page}
        if next_cursor:
            body["cursor"] = next_cursor
        body["dataAvailabilityDate"] = format_ms(self.availability_ms())
        return body

    def _build_results(self, job: Job) -> list[dict[str, Any]]:
        query = job.query
        available_ms = int(query.get("_available_ms", to_ms(job.end)))
        if job.kind == "users":
            records = self._user_details(job.start, job.end, query, available_ms)
        else:
            # The data lake as of dataAvailabilityDate: what was in progress then is served open.
            records = self._conversations(
                job.start, job.end, query, available_ms, bool(query.get("startOfDayIntervalMatching"))
            )
        limit = query.get("limit")
        if isinstance(limit, int) and limit > 0:
            records = records[:limit]
        return records

    # -- sync queries -----------------------------------------------------------------------

    @staticmethod
    def _check_order(body: dict[str, Any]) -> None:
        if body.get("order", "asc") not in ("asc", "desc", "unordered"):
            raise GenesysApiError(400, f"Invalid order: {body.get('order')}", "bad.request")
        if body.get("orderBy", "conversationStart") not in (
            "conversationStart",
            "conversationEnd",
            "segmentStart",
            "segmentEnd",
        ):
            raise GenesysApiError(400, f"Invalid orderBy: {body.get('orderBy')}", "bad.request")

    @staticmethod
    def _order(records: list[dict[str, Any]], body: dict[str, Any]) -> list[dict[str, Any]]:
        key = (
            "conversationEnd"
            if body.get("orderBy") in ("conversationEnd", "segmentEnd")
            else "conversationStart"
        )
        ordered = sorted(records, key=lambda r: r.get(key, ""))
        return ordered[::-1] if body.get("order") == "desc" else ordered

    def _conversations(
        self, start: datetime, end: datetime, body: dict[str, Any], at_ms: int, start_day_matching: bool
    ) -> list[dict[str, Any]]:
        """Records matching ``body``'s filters, as seen at ``at_ms``, in ``body``'s order."""
        records = []
        for item in iter_generated(
            self.seed,
            start,
            end,
            per_day=self.settings.conversations_per_day,
            start_day_matching=start_day_matching,
        ):
            record = as_of(item, at_ms)
            if record is not None and self._conversation_filter(record, body):
                records.append(record)
        return self._order(records, body)

    @staticmethod
    def _conversation_filter(record: dict[str, Any], body: dict[str, Any]) -> bool:
        conversation_filters = _list_field(body, "conversationFilters")
        segment_filters = _list_field(body, "segmentFilters")
        if not conversation_filters and not segment_filters:
            return True
        return conversation_matches(record, conversation_filters, segment_filters)

    def _paging(self, body: dict[str, Any]) -> tuple[int, int]:
        paging = body.get("paging") or {}
        if not isinstance(paging, dict):
            raise GenesysApiError(400, "paging must be an object", "bad.request")
        size = _int_param(paging.get("pageSize"), "pageSize", QUERY_DEFAULT_PAGE_SIZE)
        number = _int_param(paging.get("pageNumber"), "pageNumber", 1)
        if size > self.settings.query_max_page_size:
            raise GenesysApiError(400, f"Max page size is {self.settings.query_max_page_size}", "bad.request")
        if size * number > QUERY_MAX_RESULTS:
            raise GenesysApiError(400, "Pagination may not exceed 100000 results.", "bad.request")
        return size, number

    def query_conversations(self, body: Any) -> dict[str, Any]:
        """``POST /analytics/conversations/details/query`` (start-day matching, no attributes)."""
        if not isinstance(body, dict):
            raise GenesysApiError(400, "The request body must be a JSON object", "bad.request")
        start, end = parse_interval(body.get("interval"))
        self._check_order(body)
        check_filters(body, self.settings.strict_predicates)
        has_filters = bool(_list_field(body, "conversationFilters") or _list_field(body, "segmentFilters"))
        max_days = 31 if has_filters else 7
        if end - start > timedelta(days=max_days):
            raise GenesysApiError(
                400,
                f"You must specify a search interval as part of your query that does not exceed {max_days} days",
                "bad.request",
            )
        size, number = self._paging(body)
        records = self._conversations(start, end, body, self.now_ms(), start_day_matching=True)
        page = records[(number - 1) * size : number * size]
        response: dict[str, Any] = {}
        if page:
            response["conversations"] = [without_attributes(r) for r in page]
        response["totalHits"] = len(records)
        return response

    def _user_details(
        self, start: datetime, end: datetime, body: dict[str, Any], at_ms: int
    ) -> list[dict[str, Any]]:
        user_filters = _list_field(body, "userFilters")
        presence_filters = _list_field(body, "presenceFilters")
        routing_filters = _list_field(body, "routingStatusFilters")
        details = list(generate_user_details(self.seed, start, end, as_of_ms=at_ms))
        if user_filters or presence_filters or routing_filters:
            details = [
                d for d in details if user_detail_matches(d, user_filters, presence_filters, routing_filters)
            ]
        if body.get("order") == "desc":
            details.reverse()
        return details

    def query_users(self, body: Any) -> dict[str, Any]:
        """``POST /analytics/users/details/query``."""
        if not isinstance(body, dict):
            raise GenesysApiError(400, "The request body must be a JSON object", "bad.request")
        start, end = parse_interval(body.get("interval"))
        check_filters(body, self.settings.strict_predicates)
        if end - start > timedelta(days=31):
            raise GenesysApiError(
                400,
                "You must specify a search interval as part of your query that does not exceed 31 days",
                "bad.request",
            )
        size, number = self._paging(body)
        details = self._user_details(start, end, body, self.now_ms())
        page = details[(number - 1) * size : number * size]
        response: dict[str, Any] = {}
        if page:
            response["userDetails"] = page
        response["totalHits"] = len(details)
        return response

    # -- entities ---------------------------------------------------------------------------

    def _entity_paging(self, page_size: Any, page_number: Any) -> tuple[int, int]:
        size = _int_param(page_size, "pageSize", ENTITY_DEFAULT_PAGE_SIZE)
        if size > ENTITY_MAX_PAGE_SIZE:
            raise GenesysApiError(400, f"Max page size is {ENTITY_MAX_PAGE_SIZE}", "bad.request")
        return size, _int_param(page_number, "pageNumber", 1)

    def _expanded(self, user: dict[str, Any], expand: Sequence[str]) -> dict[str, Any]:
        wanted = {e for e in expand if e in USER_EXPANDS}
        if not wanted:
            return user
        org = directory(self.seed)
        return {**user, **user_expands(self.seed, org, user["id"], self.now_ms(), wanted)}

    def list_users(
        self, ids: list[str], page_size: Any, page_number: Any, expand: Sequence[str] = ()
    ) -> dict[str, Any]:
        """``GET /api/v2/users`` (``id`` may repeat, at most 100; ``expand=presence,routingStatus``)."""
        if len(ids) > MAX_USER_IDS:
            raise GenesysApiError(400, f"A maximum of {MAX_USER_IDS} ids may be requested", "bad.request")
        size, number = self._entity_paging(page_size, page_number)
        users: Sequence[dict[str, Any]] = directory(self.seed).users
        if ids:
            wanted = set(ids)
            users = [u for u in users if u["id"] in wanted]
        extra = [("id", i) for i in ids] + ([("expand", ",".join(expand))] if expand else [])
        listing = paged_listing(users, "/api/v2/users", size, number, extra)
        listing["entities"] = [self._expanded(u, expand) for u in listing["entities"]]
        return listing

    def get_user(self, user_id: str, expand: Sequence[str] = ()) -> dict[str, Any]:
        """``GET /api/v2/users/{userId}`` (``expand=presence,routingStatus``)."""
        user = directory(self.seed).user(user_id)
        if user is None:
            raise GenesysApiError(404, f"User {user_id} not found", "not.found")
        return self._expanded(public(user), expand)

    def list_queues(self, page_size: Any, page_number: Any, name: str | None = None) -> dict[str, Any]:
        size, number = self._entity_paging(page_size, page_number)
        queues: Sequence[dict[str, Any]] = directory(self.seed).queues
        if name:
            queues = [q for q in queues if q["name"].lower().startswith(name.rstrip("*").lower())]
        return paged_listing(queues, "/api/v2/routing/queues", size, number, [("name", name)] if name else [])

    def list_wrapup_codes(self, page_size: Any, page_number: Any) -> dict[str, Any]:
        size, number = self._entity_paging(page_size, page_number)
        return paged_listing(directory(self.seed).wrapup_codes, "/api/v2/routing/wrapupcodes", size, number)

    def presence_definitions(self) -> dict[str, Any]:
        """Unpaged ``GET /api/v2/presence/definitions`` (``OrganizationPresenceDefinition``)."""
        keys = (
            "id",
            "name",
            "type",
            "languageLabels",
            "systemPresence",
            "divisionId",
            "deactivated",
            "selfUri",
        )
        entities = [{k: d[k] for k in keys} for d in directory(self.seed).presence_definitions]
        return {"total": len(entities), "entities": entities, "selfUri": "/api/v2/presence/definitions"}

    def presencedefinitions(self, page_size: Any, page_number: Any) -> dict[str, Any]:
        """Paged legacy ``GET /api/v2/presencedefinitions`` (``OrganizationPresence``)."""
        size, number = self._entity_paging(page_size, page_number)
        keys = (
            "id",
            "name",
            "languageLabels",
            "systemPresence",
            "deactivated",
            "primary",
            "createdDate",
            "modifiedDate",
        )
        entities = [
            {**{k: d[k] for k in keys}, "selfUri": f"/api/v2/presencedefinitions/{d['id']}"}
            for d in directory(self.seed).presence_definitions
        ]
        return paged_listing(entities, "/api/v2/presencedefinitions", size, number)

    def organization(self) -> dict[str, Any]:
        return organization(self.seed)

    def token_info(self, token: Token) -> dict[str, Any]:
        """``GET /api/v2/tokens/me``."""
        org = self.organization()
        named = {"id": org["id"], "name": org["name"]}  # the SDK's NamedEntity: exactly these
        return {
            "organization": named,
            "homeOrganization": named,
            "authorizedScope": [
                "analytics",
                "conversations:readonly",
                "users:readonly",
                "routing:readonly",
                "presence:readonly",
            ],
            "OAuthClient": {
                "id": token.client_id,
                "name": "Sandbox client credentials",
                "organization": named,
            },
            "dateTokenIdles": format_ts(token.expires_at),
        }

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        """``GET /api/v2/conversations/{id}`` as of the data clock (open while in progress)."""
        item = find_generated(self.seed, conversation_id, self.settings.conversations_per_day)
        record = None if item is None else as_of(item, self.now_ms())
        if record is None:
            raise GenesysApiError(404, f"Unable to find conversation with ID {conversation_id}", "not.found")
        return conversation_entity(record, directory(self.seed))

    # -- admin ------------------------------------------------------------------------------

    def job_counters(self) -> dict[str, Any]:
        return self.jobs.counters()

    def ground_truth(self, body: dict[str, Any]) -> dict[str, Any]:
        """The conversations that *started* in ``body["interval"]``, in their final state.

        What an exactly-once export must converge to: every id once, with its final end and
        shape. Conversations that have not started by the data clock do not exist yet and are
        left out; ``openAtNow`` marks those still in progress. ``conversationFilters`` and
        ``segmentFilters`` (as in a query) select on the final record; ``"records": true``
        adds each final record.

        :raises ValueError: a malformed interval or filter (the admin API answers 400).
        """
        try:
            start, end = parse_interval(body.get("interval"))
            check_filters(body, strict=True)
        except GenesysApiError as error:
            raise ValueError(error.message) from None
        now = self.now_ms()
        start_ms, end_ms = to_ms(start), min(to_ms(end), now)
        out = []
        for item in iter_generated(
            self.seed, start, end, per_day=self.settings.conversations_per_day, start_day_matching=True
        ):
            if not start_ms <= item.start_ms < end_ms or not self._conversation_filter(item.record, body):
                continue
            record = item.record
            sessions = [s for p in record["participants"] for s in p["sessions"]]
            entry: dict[str, Any] = {
                "conversationId": record["conversationId"],
                "conversationStart": record["conversationStart"],
                "conversationEnd": record["conversationEnd"],
                "openAtNow": item.end_ms > now,
                "participants": len(record["participants"]),
                "sessions": len(sessions),
                "segments": sum(len(s["segments"]) for s in sessions),
                "metrics": sum(len(s.get("metrics", [])) for s in sessions),
            }
            if body.get("records"):
                entry["record"] = record
            out.append(entry)
        return {"interval": body["interval"], "now": format_ms(now), "total": len(out), "conversations": out}
