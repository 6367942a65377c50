"""Genesys Cloud's real error bodies.

API errors use ``ErrorBody`` (``message, code, status, messageParams, contextId,
details, errors``) plus the ``ININ-Correlation-Id`` header carrying the same id;
the login host answers OAuth-style ``{"error", "description", "error_description"}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

CORRELATION_HEADER = "ININ-Correlation-Id"

#: Default ``code`` and ``message`` per status, as the platform sends them.
_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("bad.request", "The request could not be understood by the server due to malformed syntax."),
    401: ("bad.credentials", "Invalid login credentials."),
    403: (
        "missing.any.permissions",
        "Unable to perform the requested action. You must have at least one of the following permissions assigned: [analytics:conversationDetail:view]",
    ),
    404: ("not.found", "The requested resource was not found."),
    408: ("request.timeout", "The client did not produce a request within the server timeout limit."),
    409: ("conflict", "The request could not be completed by the server due to a conflict."),
    413: ("request.entity.too.large", "The request is over the size limit. Maximum bytes: 512000"),
    415: (
        "unsupported.media.type",
        "Unsupported Media Type - Unsupported or incorrect media type, such as an incorrect Content-Type value in the header.",
    ),
    429: (
        "too.many.requests.retry.after",
        "Rate limit exceeded the maximum. Retry the request in [{seconds}] seconds",
    ),
    500: (
        "internal.server.error",
        "The server encountered an unexpected condition which prevented it from fulfilling the request.",
    ),
    502: ("bad.gateway", "The server received an invalid response from an upstream server."),
    503: (
        "service.unavailable",
        "Service Unavailable - The server is currently unavailable (because it is overloaded or down for maintenance).",
    ),
    504: ("gateway.timeout", "The request timed out."),
}


class GenesysApiError(Exception):
    """An API error the routes turn into an ``ErrorBody`` response.

    :param status: HTTP status.
    :param code: the platform's error code (defaults by status).
    :param message: human text (defaults by status).
    :param headers: extra response headers (e.g. ``Retry-After``).
    :param message_params: values for ``messageParams``.
    """

    def __init__(
        self,
        status: int,
        message: str | None = None,
        code: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        message_params: Mapping[str, str] | None = None,
    ) -> None:
        default_code, default_message = _DEFAULTS.get(status, ("error", "Unexpected error."))
        self.status = status
        self.code = code or default_code
        self.message = message or default_message
        self.headers = dict(headers or {})
        self.message_params = dict(message_params or {})
        super().__init__(f"{status} {self.code}: {self.message}")


def error_body(error: GenesysApiError) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the ``ErrorBody`` JSON and headers (with a fresh correlation id) for ``error``."""
    context_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "message": error.message,
        "code": error.code,
        "status": error.status,
        "messageParams": error.message_params,
        "contextId": context_id,
        "details": [],
        "errors": [],
    }
    return body, {**error.headers, CORRELATION_HEADER: context_id}


def rate_limited(seconds: int) -> GenesysApiError:
    """The 429 the platform sends when a token's request budget is spent."""
    seconds = max(1, int(seconds))
    return GenesysApiError(
        429,
        f"Rate limit exceeded the maximum. Retry the request in [{seconds}] seconds",
        "too.many.requests.retry.after",
        headers={"Retry-After": str(seconds)},
    )


def error_for_status(status: int, headers: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Fault-injection hook: the real body for ``status`` (429 reads ``Retry-After`` from ``headers``)."""
    if status == 429:
        retry_after = next((v for k, v in headers.items() if k.lower() == "retry-after"), "1")
        try:
            seconds = int(float(retry_after))
        except ValueError:
            seconds = 1
        return error_body(rate_limited(seconds))
    return error_body(GenesysApiError(status))


def oauth_invalid_client() -> dict[str, str]:
    """The login host's answer to bad client credentials (sent with status 401)."""
    return {
        "error": "invalid_client",
        "description": "authentication failed",
        "error_description": "authentication failed",
    }
