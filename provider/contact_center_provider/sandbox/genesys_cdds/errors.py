"""Error bodies of the CDDS sandbox.

Not documented by Genesys for this (deprecated) API; the shapes below are our best
reading, kept in one place so they are easy to correct:

* the API gateway answers a missing or unknown ``x-api-key`` with 403 ``{"message": "Forbidden"}``
  (the gateway behind ``gapi-*.genesyscloud.com`` keys on it);
* the token endpoint answers OAuth 2 errors (RFC 6749 section 5.2):
  ``{"error": "invalid_client" | "invalid_grant" | "unsupported_grant_type", "error_description"}``;
* a missing, unknown or expired bearer token gets 401 ``{"error": "invalid_token", "error_description"}``;
* other API errors: ``{"status": {"code": <HTTP status>, "message": "..."}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


class CddsError(Exception):
    """An error the routes turn into a response: status, JSON body, extra headers."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def forbidden() -> CddsError:
    return CddsError(403, {"message": "Forbidden"})


def oauth_error(status: int, code: str, description: str) -> CddsError:
    return CddsError(status, {"error": code, "error_description": description})


def invalid_token(description: str = "Invalid access token") -> CddsError:
    return CddsError(401, {"error": "invalid_token", "error_description": description})


def api_error(status: int, message: str | None = None) -> CddsError:
    return CddsError(
        status, {"status": {"code": status, "message": message or _MESSAGES.get(status, "Error")}}
    )


def error_for_status(status: int, headers: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
    """The body a ``kind=status`` fault sends when the test gave none."""
    if status == 403:
        return {"message": "Forbidden"}, {}
    return api_error(status).body, {}
