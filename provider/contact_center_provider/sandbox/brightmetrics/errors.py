"""Brightmetrics' error bodies: the OData v4 JSON error format.

The document shows no error body; an OData v4 service answers
``{"error": {"code", "message", "target"?, "details"?}}`` (OData JSON Format, "Error
Response"), which is what this emulation sends. Codes are ours (not documented).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ODATA_HEADERS = {"OData-Version": "4.0"}

_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid."),
    401: ("Unauthorized", "Authorization has been denied for this request."),
    403: ("Forbidden", "The OData/API export requires the Enterprise module and Administrator permission."),
    404: ("NotFound", "The requested resource was not found."),
    405: ("MethodNotAllowed", "The requested method is not supported for this resource."),
    410: ("Gone", "The status URL has expired."),
    429: ("RequestLimitExceeded", "API request limit exceeded for this company account."),
    500: ("InternalServerError", "An error occurred while processing the request."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The request timed out."),
}


class ODataError(Exception):
    """An error the routes turn into an OData JSON error response."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        code: str | None = None,
        *,
        target: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        default_code, default_message = _DEFAULTS.get(status, ("Error", "Unexpected error."))
        self.status = status
        self.code = code or default_code
        self.message = message or default_message
        self.target = target
        self.headers = dict(headers or {})
        super().__init__(f"{status} {self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


def error_for_status(status: int, headers: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Fault-injection hook: the OData error body for ``status``."""
    return ODataError(status).body(), dict(ODATA_HEADERS)
