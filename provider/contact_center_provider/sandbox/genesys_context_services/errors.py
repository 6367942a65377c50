"""Context Services' error bodies.

The CS 8.5 API reference shows errors as ``{"message": ..., "exception": <Java class>}``
(its ContactCenterId examples use
``com.genesyslab.gsg.services.contextservices.exceptions.ContextServicesExceptionResource``).
Which class each status carries for this operation is not documented: the sandbox uses
that one for every error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXCEPTION_CLASS = "com.genesyslab.gsg.services.contextservices.exceptions.ContextServicesExceptionResource"

_DEFAULT_MESSAGES: dict[int, str] = {
    400: "Bad request",
    401: "Unauthorized: credentials are missing or incorrect",
    403: "Forbidden",
    404: "Not found",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class GmsApiError(Exception):
    """An error the routes turn into ``{"message", "exception"}`` with ``status``."""

    def __init__(self, status: int, message: str | None = None) -> None:
        self.status = status
        self.message = message or _DEFAULT_MESSAGES.get(status, "Unexpected error")
        super().__init__(f"{status}: {self.message}")


def error_body(error: GmsApiError) -> dict[str, Any]:
    return {"message": error.message, "exception": EXCEPTION_CLASS}


def error_for_status(status: int, headers: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
    """The body of an injected ``kind=status`` fault."""
    extra = {"WWW-Authenticate": 'Basic realm="GMS"'} if status == 401 else {}
    return error_body(GmsApiError(status)), extra
