"""Pure logic shared by the sync and async clients: URLs, headers, bodies, errors, logging.

Only the I/O (send a request, pass the gate, sleep) is twinned in
:mod:`contact_center_provider.http.client`; everything that decides *what* to send and *what it
means* lives here, once. Nothing here imports an HTTP library.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from contact_center_provider.http.auth import AuthStrategy
from contact_center_provider.http.errors import (
    AmbiguousSubmissionError,
    ErrorInfo,
    ErrorParser,
    VendorAPIError,
    VendorRequestError,
    VendorResponseError,
    VendorTransportError,
    default_error_parser,
    error_class_for_status,
    query_secrets,
    redact_urls,
    strip_query,
)
from contact_center_provider.http.limits import RequestBudgetExhausted, RequestGate
from contact_center_provider.http.retry import (
    Decision,
    Outcome,
    OutcomeKind,
    RetryPolicy,
    decide,
    parse_retry_after,
)

logger = logging.getLogger("contact_center_provider.http")

DEFAULT_EXPECT: tuple[int, ...] = (200, 201, 202, 204)
USER_AGENT = "airflow-provider-contact-center"
#: Bytes of an error body read when streaming (error bodies are small; the rest is discarded).
MAX_ERROR_BODY = 64 * 1024

JSONBody = Any
FormOrBytes = Mapping[str, Any] | bytes | str | None


@dataclass
class Response:
    """A complete HTTP response.

    :param status: HTTP status.
    :param headers: response headers (a case-insensitive mapping).
    :param content: the raw body, exactly as received (land it unchanged in the raw zone).
    :param url: ``scheme://host/path`` of the request (query string removed: it may be secret).
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str
    vendor: str = ""
    method: str = "GET"

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Parse the body as JSON.

        :raises VendorResponseError: the body is not valid JSON (names vendor, method and URL path).
        """
        try:
            return jsonlib.loads(self.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise VendorResponseError(
                vendor=self.vendor,
                method=self.method,
                url=self.url,
                status=self.status,
                message=f"response body is not valid JSON ({type(exc).__name__}: {exc}; "
                f"{len(self.content)} bytes)",
            ) from None


@dataclass(frozen=True)
class Target:
    """Where a request goes: the full URL to send, the loggable URL, and whether to authenticate."""

    url: str
    safe_url: str
    same_origin: bool

    @property
    def path(self) -> str:
        return urlsplit(self.safe_url).path or "/"


@dataclass
class AttemptState:
    """Book-keeping of one logical request across its attempts."""

    started: float = field(default_factory=time.monotonic)
    attempt: int = 0
    refreshed_auth: bool = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


_ABSOLUTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.netloc.rsplit("@", 1)[-1]).lower()


def encode_params(params: Mapping[str, Any] | None) -> str:
    """Encode query parameters; lists repeat the key, booleans become ``true``/``false``, None is dropped."""
    if not params:
        return ""
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            items.append((key, str(item)))
    return urlencode(items)


class ClientCore:
    """State and pure logic shared by :class:`HttpClient` and :class:`AsyncHttpClient`."""

    def __init__(
        self,
        base_url: str,
        *,
        vendor: str,
        auth: AuthStrategy | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        error_parser: ErrorParser = default_error_parser,
        rng: random.Random | None = None,
        gate: RequestGate | None = None,
    ) -> None:
        if not _ABSOLUTE.match(base_url):
            raise ValueError(f"base_url must be absolute (scheme://host/...), got {strip_query(base_url)!r}")
        self.base_url = base_url.rstrip("/")
        self.vendor = vendor
        self.auth = auth
        self.policy = policy if policy is not None else RetryPolicy()
        self.timeout = timeout
        self.headers: dict[str, str] = dict(headers or {})
        self.error_parser = error_parser
        self.rng = rng or random.Random()
        self.gate = gate
        self._base_origin = _origin(self.base_url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={strip_query(self.base_url)!r}, vendor={self.vendor!r})"

    # -- building a request --------------------------------------------------------------------

    def target(self, path_or_url: str, params: Mapping[str, Any] | None = None, method: str = "-") -> Target:
        """Resolve ``path_or_url`` against the base URL and append ``params`` to its query.

        :raises VendorRequestError: the URL cannot be parsed (named without its query).
        """
        try:
            if _ABSOLUTE.match(path_or_url):
                url = path_or_url
                same_origin = _origin(url) == self._base_origin
            else:
                url = f"{self.base_url}/{path_or_url.lstrip('/')}"
                same_origin = True
            query = encode_params(params)
            if query:
                parts = urlsplit(url)
                merged = f"{parts.query}&{query}" if parts.query else query
                url = urlunsplit((parts.scheme, parts.netloc, parts.path, merged, parts.fragment))
        except ValueError as exc:  # urlsplit: "Invalid IPv6 URL" and the like
            raise VendorRequestError(
                vendor=self.vendor,
                method=method,
                url=strip_query(path_or_url),
                message=f"invalid URL ({type(exc).__name__}: {exc})",
            ) from None
        return Target(url=url, safe_url=strip_query(url), same_origin=same_origin)

    def use_auth(self, target: Target, authenticate: bool | None) -> bool:
        """Attach credentials? Only to the vendor's own host unless the caller insists."""
        if self.auth is None:
            return False
        return target.same_origin if authenticate is None else authenticate

    def attempt_headers(
        self, target: Target, headers: Mapping[str, str] | None, creates: bool, content_type: str | None
    ) -> dict[str, str]:
        """Headers of one attempt, before authentication."""
        # Client-wide headers are vendor API headers: do not send them to foreign hosts
        # (pre-signed object-store URLs may reject unsigned headers).
        merged: dict[str, str] = {"User-Agent": USER_AGENT}
        if target.same_origin:
            merged.setdefault("Accept", "application/json")
            merged.update(self.headers)
        merged.update(headers or {})
        if creates:
            # A creating request goes on a fresh connection that is closed afterwards: a pooled
            # keep-alive connection the server already dropped would fail after "sending" and
            # make the submission falsely ambiguous.
            merged["Connection"] = "close"
        if content_type:
            merged.setdefault("Content-Type", content_type)
        return merged

    @staticmethod
    def encode_body(json: JSONBody, data: FormOrBytes) -> tuple[bytes | None, str | None]:
        """Serialise the body once, identically for both flavours: ``(bytes, content type)``."""
        if json is not None and data is not None:
            raise ValueError("pass either json= or data=, not both")
        if json is not None:
            return jsonlib.dumps(json, separators=(",", ":")).encode(), "application/json"
        if data is None:
            return None, None
        if isinstance(data, bytes):
            return data, None
        if isinstance(data, str):
            return data.encode(), None
        return encode_params(data).encode(), "application/x-www-form-urlencoded"

    def make_response(
        self, method: str, target: Target, status: int, headers: Mapping[str, str], content: bytes
    ) -> Response:
        """Wrap a complete response; ``headers`` must already be case-insensitive."""
        return Response(
            status=status,
            headers=headers,
            content=content,
            url=target.safe_url,
            vendor=self.vendor,
            method=method,
        )

    @staticmethod
    def response_outcome(status: int, headers: Mapping[str, str]) -> Outcome:
        """The outcome of a response whose status was not expected."""
        retry_after = parse_retry_after(headers.get("Retry-After")) if status >= 400 else None
        return Outcome.response(status, retry_after)

    # -- the gate ------------------------------------------------------------------------------
    # Passed right before every attempt is sent (retries and token requests included), after
    # the auth headers are in hand: fetching a token passes the gate on its own request.

    def _held_back(self, exc: RequestBudgetExhausted, method: str, target: Target) -> RequestBudgetExhausted:
        return exc.for_request(self.vendor, method, target.safe_url)

    def pass_gate(self, method: str, target: Target) -> None:
        """Block until the gate lets this attempt through (sync client)."""
        if self.gate is not None:
            try:
                self.gate.acquire()
            except RequestBudgetExhausted as exc:
                raise self._held_back(exc, method, target) from None

    async def apass_gate(self, method: str, target: Target) -> None:
        """Wait until the gate lets this attempt through (async client)."""
        if self.gate is not None:
            try:
                await self.gate.aacquire()
            except RequestBudgetExhausted as exc:
                raise self._held_back(exc, method, target) from None

    # -- after an attempt ----------------------------------------------------------------------

    def log_attempt(self, method: str, target: Target, state: AttemptState, result: str) -> None:
        logger.debug(
            "%s %s %s -> %s (attempt %d, %.3f s)",
            self.vendor,
            method,
            target.path,
            self.scrub(result),
            state.attempt,
            state.elapsed,
        )

    def on_failure(
        self,
        method: str,
        target: Target,
        state: AttemptState,
        outcome: Outcome,
        creates: bool,
        use_auth: bool,
    ) -> Decision:
        """Ask :func:`decide` what to do; log and apply a retry (token refresh), or return a stop."""
        can_refresh = bool(
            use_auth and self.auth is not None and self.auth.refreshable and not state.refreshed_auth
        )
        decision = decide(
            outcome,
            state.attempt,
            self.policy,
            state.elapsed,
            creates,
            rng=self.rng,
            can_refresh_auth=can_refresh,
        )
        if decision.retry:
            if decision.refresh_auth:
                state.refreshed_auth = True
            logger.warning(
                "%s %s %s: %s (attempt %d of %d); retrying in %.2f s",
                self.vendor,
                method,
                target.path,
                self.scrub(decision.reason),
                state.attempt,
                self.policy.max_attempts,
                decision.delay,
                extra={"vendor": self.vendor, "http_status": outcome.status},
            )
        return decision

    def scrub(self, text: str, target: Target | None = None) -> str:
        """Remove from ``text`` (vendor-provided or transport text) every secret we know of.

        That is the auth strategy's secrets, the query of ``target`` and its credential-like
        values (a vendor may echo the URL it was sent), and the query of any URL in the text.
        """
        secrets: list[str] = list(self.auth.secret_values()) if self.auth is not None else []
        if target is not None:
            secrets.extend(query_secrets(target.url))
        for secret in sorted(secrets, key=len, reverse=True):
            if secret and secret in text:
                text = text.replace(secret, "***")
        return redact_urls(text)

    def failure_error(
        self,
        method: str,
        target: Target,
        state: AttemptState,
        outcome: Outcome,
        decision: Decision,
        response: Response | None,
    ) -> VendorAPIError:
        """Build the typed error for a request that will not be retried."""
        info = ErrorInfo(code=None, message="")
        if response is not None:
            try:
                info = self.error_parser(response.status, response.headers, response.content)
            except Exception as exc:  # a vendor parser must never hide the real failure
                info = ErrorInfo(code=None, message=f"(error body not parseable: {type(exc).__name__})")
        message = self.scrub(info.message, target)
        if outcome.kind is not OutcomeKind.RESPONSE:
            message = self.scrub(outcome.describe(), target)
        elif decision.exhausted and "deadline" in decision.reason:
            message = f"{message} (stopped: {decision.reason})" if message else decision.reason
        cls: type[VendorAPIError]
        if decision.ambiguous:
            cls = AmbiguousSubmissionError
        elif outcome.kind is OutcomeKind.INVALID_REQUEST:
            cls = VendorRequestError
        elif outcome.kind is OutcomeKind.TOO_MANY_REDIRECTS:
            cls = VendorResponseError
        elif outcome.kind is OutcomeKind.RESPONSE and outcome.status is not None:
            cls = error_class_for_status(outcome.status)
            if 200 <= outcome.status < 400 and not message:
                message = "unexpected status"
        else:
            cls = VendorTransportError
        return cls(
            vendor=self.vendor,
            method=method,
            url=target.safe_url,
            status=outcome.status,
            code=info.code,
            message=message,
            correlation_id=info.correlation_id,
            retry_after=outcome.retry_after,
            attempts=state.attempt,
            elapsed=state.elapsed,
        )
