"""Typed errors raised by the shared HTTP core, and parsing of vendor error bodies.

Every vendor hook raises these (never ``requests``/``aiohttp`` exceptions), so operators and
triggers can tell "the vendor refused" from "the network failed" from "we may have created a
job twice" without string matching. Error messages carry the method and the URL *path* only:
query strings (pre-signed download URLs, tokens in links) never appear in them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "AmbiguousSubmissionError",
    "ErrorInfo",
    "ErrorParser",
    "VendorAPIError",
    "VendorAuthError",
    "VendorClientError",
    "VendorNotFoundError",
    "VendorRateLimitError",
    "VendorRequestError",
    "VendorResponseError",
    "VendorServerError",
    "VendorTransportError",
    "default_error_parser",
    "error_class_for_status",
]

#: Longest vendor message (or plain-text body) kept in an error.
MAX_MESSAGE_CHARS = 500

#: Response headers that carry a request/correlation id, most specific first.
CORRELATION_HEADERS = (
    "ININ-Correlation-Id",
    "X-Correlation-Id",
    "X-Request-Id",
    "Request-Id",
    "X-Amzn-RequestId",
)


def _truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def strip_query(url: str) -> str:
    """Return ``scheme://host/path`` of ``url``: no query string, no fragment, no user info.

    Never raises: a URL too broken to parse is cut at its first ``?`` or ``#`` (and user info
    dropped), so an error about an invalid URL can still name it without its secrets.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:  # e.g. "Invalid IPv6 URL", a non-numeric port
        head = url.split("?", 1)[0].split("#", 1)[0]
        scheme, sep, rest = head.partition("://")
        if not sep:
            return head
        netloc, slash, path = rest.partition("/")
        return f"{scheme}://{netloc.rsplit('@', 1)[-1]}{slash}{path}"
    if not parts.scheme:
        return parts.path
    return f"{parts.scheme}://{host}{parts.path}"


_URL_QUERY = re.compile(r"((?:[a-zA-Z][a-zA-Z0-9+.-]*://|/)[^\s?'\"<>]*)\?[^\s'\"<>]+")
#: Query parameter names whose values are credentials (pre-signed URLs, tokens in links).
_SECRET_PARAM = re.compile(r"sig|token|key|secret|password|credential|auth|code|session", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """Replace the query string of every URL-like token in ``text`` by ``<redacted>``."""
    return _URL_QUERY.sub(r"\1?<redacted>", text)


def query_secrets(url: str) -> tuple[str, ...]:
    """Parts of ``url``'s query that must not be shown: the whole query string, and the values
    (raw and decoded) of parameters named like credentials (``X-Amz-Signature``, ``token``...)."""
    query = url.partition("?")[2].partition("#")[0]
    if not query:
        return ()
    found = [query]
    for pair in query.split("&"):
        name, _, raw = pair.partition("=")
        if raw and _SECRET_PARAM.search(name):
            found.append(raw)
    found.extend(value for name, value in parse_qsl(query) if value and _SECRET_PARAM.search(name))
    # Longest first, so a value is not half-replaced through a shorter one it contains.
    return tuple(sorted(set(found), key=len, reverse=True))


class VendorAPIError(Exception):
    """A call to a vendor API failed.

    :param vendor: vendor key, e.g. ``"genesys_cloud"``.
    :param method: HTTP method.
    :param url: ``scheme://host/path`` of the request; any query string is removed here.
    :param status: HTTP status, or ``None`` when no response arrived.
    :param code: the vendor's error code (``bad.request``, ``invalid_client``...), if any.
    :param message: what went wrong, from the vendor's body or from the transport.
    :param correlation_id: the vendor's request/correlation id, to quote to vendor support.
    :param retry_after: seconds the vendor asked us to wait (``Retry-After``), if any.
    :param attempts: how many attempts were made before giving up.
    :param elapsed: seconds spent over all attempts.
    """

    def __init__(
        self,
        *,
        vendor: str,
        method: str,
        url: str,
        status: int | None = None,
        code: str | None = None,
        message: str = "",
        correlation_id: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
        elapsed: float | None = None,
    ) -> None:
        self.vendor = vendor
        self.method = method.upper()
        self.url = strip_query(url)
        self.status = status
        self.code = code
        self.message = message
        self.correlation_id = correlation_id
        self.retry_after = retry_after
        self.attempts = attempts
        self.elapsed = elapsed
        super().__init__(str(self))

    @property
    def path(self) -> str:
        """The URL path of the failed request."""
        try:
            return urlsplit(self.url).path or self.url
        except ValueError:  # an unparseable URL (VendorRequestError): url is already query-free
            return self.url

    def _what(self) -> str:
        """Describe the failure itself (status/code or transport kind)."""
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        if head and self.message:
            return f"{head}: {self.message}"
        return head or self.message or "unknown error"

    def __str__(self) -> str:
        text = f"{self.vendor} {self.method} {self.path} failed: {self._what()}"
        if self.correlation_id:
            text += f" (correlation id {self.correlation_id})"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
            if self.elapsed is not None:
                text += f" over {self.elapsed:.1f} s"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor: make the error picklable (Airflow may ship it across processes).
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[VendorAPIError], state: dict[str, object]) -> VendorAPIError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, str(err))
    return err


class VendorAuthError(VendorAPIError):
    """Credentials were refused (401/403) or the token endpoint failed. Check the connection."""


class VendorRateLimitError(VendorAPIError):
    """The vendor kept answering 429 until the retry policy gave up."""


class VendorNotFoundError(VendorAPIError):
    """The vendor answered 404: the job, entity or URL does not exist (or has expired)."""


class VendorClientError(VendorAPIError):
    """The vendor rejected the request (4xx other than 401/403/404/429); retrying will not help."""


class VendorServerError(VendorAPIError):
    """The vendor kept failing with 5xx until the retry policy gave up."""


class VendorTransportError(VendorAPIError):
    """No usable response: connection refused/reset, timeout, or a truncated body (``status`` is None)."""


class VendorRequestError(VendorAPIError):
    """The request could not be sent as given: an invalid URL or header, or a scheme other than http(s).

    Nothing reached the vendor and resending will not help: check the connection's base URL,
    or the link the vendor returned (``status`` is None).
    """


class VendorResponseError(VendorAPIError):
    """The vendor answered, but not as the API documents (bad JSON, missing field, endless redirects)."""


class AmbiguousSubmissionError(VendorTransportError):
    """A job-creating request may have been processed, so it was deliberately not resent.

    Raised when the connection broke or timed out after the request was sent, or the vendor
    answered 500/502/504 to a creating POST. The job may exist: look it up on the vendor side
    (list recent jobs) before submitting again, or the export may run twice.
    """

    HINT = (
        "the request may have reached the vendor, so a job may have been created; it was NOT resent. "
        "Check the vendor for a job submitted at this time before submitting again"
    )

    def _what(self) -> str:
        return f"{super()._what()}; {self.HINT}"


_STATUS_CLASSES: dict[int, type[VendorAPIError]] = {
    401: VendorAuthError,
    403: VendorAuthError,
    404: VendorNotFoundError,
    429: VendorRateLimitError,
}


def error_class_for_status(status: int) -> type[VendorAPIError]:
    """Map an unexpected HTTP status to the error class raised for it."""
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if 400 <= status < 500:
        return VendorClientError
    if status >= 500:
        return VendorServerError
    # An unexpected 1xx/2xx/3xx: the vendor answered, just not as documented.
    return VendorResponseError


@dataclass(frozen=True)
class ErrorInfo:
    """What a vendor said about a failed request."""

    code: str | None
    message: str
    correlation_id: str | None = None


#: ``(status, headers, body) -> ErrorInfo``; ``headers`` is case-insensitive.
ErrorParser = Callable[[int, Mapping[str, str], bytes], ErrorInfo]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; fall back to a scan.
        lname = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lname), None)
    return value or None


def _as_str(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def default_error_parser(status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
    """Extract code, message and correlation id from the common error body shapes.

    Understands Genesys ``ErrorBody`` (``message, code, status, contextId``; correlation id
    also from the ``ININ-Correlation-Id`` header), OAuth (``error, error_description``),
    ``{"message": ...}``, OData (``{"error": {"code", "message"}}``) and plain text (truncated
    to 500 characters). Vendor hooks with other shapes pass their own parser to the client.
    """
    correlation_id = next((v for h in CORRELATION_HEADERS if (v := _header(headers, h))), None)
    text = body.decode("utf-8", errors="replace")
    try:
        payload = json.loads(text) if text.strip() else None
    except ValueError:
        payload = None

    code: str | None = None
    message: str | None = None
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):  # OData / Microsoft style
            code = _as_str(err.get("code"))
            message = _as_str(err.get("message"))
        elif isinstance(err, str):  # OAuth 2 (RFC 6749 section 5.2)
            code = err
            message = _as_str(payload.get("error_description")) or _as_str(payload.get("message"))
        else:  # Genesys ErrorBody and generic {"message": ...}
            code = _as_str(payload.get("code")) or _as_str(payload.get("errorCode"))
            message = (
                _as_str(payload.get("message"))
                or _as_str(payload.get("error_description"))
                or _as_str(payload.get("detail"))
            )
        correlation_id = (
            _as_str(payload.get("contextId")) or _as_str(payload.get("correlationId")) or correlation_id
        )
        if message is None and code is None:
            message = text
    elif text.strip():
        message = text
    return ErrorInfo(code=code, message=_truncate(message or ""), correlation_id=correlation_id)
