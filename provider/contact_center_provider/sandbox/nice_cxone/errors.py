"""NICE CXone error bodies, and the object store's.

What the vendor's document gives: the statuses (400 "Incorrect date filters, etc.", 401
"Invalid credentials", 403 "does not have permission", 404 "Missing entity or invalid version",
500). It prints no error body; the shapes below are what public clients read
(``error_description || message || error``; the OAuth token endpoint ``{error, errorDescription}``;
an unauthenticated call ``{"message": "Unauthorized"}``) and are unverified.
The object store behind the pre-signed result URLs is S3, whose XML error bodies are well known.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

_REASONS: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_DEFAULT_MESSAGES: dict[int, str] = {
    400: "Invalid request. Incorrect date filters, etc.",
    401: "Unauthorized. Invalid credentials.",
    403: "Forbidden. User does not have permission to view job status.",
    404: "Not Found. Missing entity or invalid version.",
    500: "Internal Server Error",
}

#: What the sandbox says when the call-spacing rule is broken (the real text is unverified).
THROTTLED_MESSAGE = (
    "Only one user per tenant can call the API at a time, and only once in a {seconds:g} second period. "
    "Please wait and try again later."
)


class NiceApiError(Exception):
    """An API error the routes turn into a JSON error response.

    :param status: HTTP status.
    :param message: human text (defaults by status).
    :param headers: extra response headers (e.g. ``Retry-After``).
    """

    def __init__(self, status: int, message: str | None = None, *, headers: Mapping[str, str] | None = None):
        self.status = status
        self.message = message or _DEFAULT_MESSAGES.get(status, _REASONS.get(status, "Error"))
        self.headers = dict(headers or {})
        super().__init__(f"{status}: {self.message}")


def error_body(error: NiceApiError) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON body and headers for an API error (with a correlation id)."""
    correlation_id = str(uuid.uuid4())
    body = {
        "error": _REASONS.get(error.status, "Error"),
        "message": error.message,
        "correlationId": correlation_id,
    }
    return body, {**error.headers, "X-Correlation-Id": correlation_id}


def throttled(status: int, seconds: float, retry_after: int | None) -> NiceApiError:
    """The answer to a call that breaks the one-caller / one-call-per-period rule."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return NiceApiError(status, THROTTLED_MESSAGE.format(seconds=seconds), headers=headers)


def unauthorized() -> dict[str, str]:
    """An API call without a valid bearer token (status 401)."""
    return {"message": "Unauthorized"}


def oauth_error(error: str, description: str) -> dict[str, str]:
    """The OAuth token endpoint's error body."""
    return {"error": error, "errorDescription": description}


def error_for_status(status: int, headers: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Fault-injection hook: the vendor's body for ``status``."""
    return error_body(NiceApiError(status, headers=headers))


def s3_error(code: str, message: str, **fields: str) -> str:
    """An S3 ``<Error>`` XML document."""
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    request_id = uuid.uuid4().hex[:16].upper()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}"
        f"<RequestId>{request_id}</RequestId><HostId>{uuid.uuid4().hex}</HostId></Error>"
    )


def s3_expired(expires_seconds: int, expired_at: float) -> str:
    """S3's answer (403) to a pre-signed URL used after its lifetime."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return s3_error(
        "AccessDenied",
        "Request has expired",
        **{
            "X-Amz-Expires": str(expires_seconds),
            "Expires": datetime.fromtimestamp(expired_at, UTC).strftime(fmt),
            "ServerTime": datetime.now(UTC).strftime(fmt),
        },
    )
