"""Settings of the Brightmetrics sandbox (``PATCH /_sandbox/vendors/brightmetrics/settings``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class BrightmetricsSettings:
    """Knobs of the Brightmetrics OData emulation; defaults follow the vendor document where it speaks.

    :param time_scale: sandbox seconds per real second. Everything the sandbox times (export
        duration, status-URL lifetime, the budget window) runs on this clock, and every
        ``Retry-After`` it sends is converted to *real* seconds (with decimals when the scale is
        not 1), so a client that honours it waits the right amount. 1800 makes a 30-minute
        export take one real second.
    :param job_seconds: how long an asynchronous export runs, in sandbox seconds.
    :param retry_after_seconds: ``Retry-After`` of a 202, in sandbox seconds (the document's example: 5).
    :param status_ttl_seconds: how long a status URL stays valid ("1 hour").
    :param status_ttl_from: when that hour starts: at the request (the document's wording) or at completion.
    :param expired_status: what an expired status URL answers (the spec allows 404 or 410).
    :param cancel_status: what ``DELETE`` on a status URL answers (200/204 cancelled, 405 unsupported).
    :param job_outcome: ``succeeded``, or ``failed``: the monitor's 200 then carries a 500 result.
    :param async_result_header: send ``AsyncResult: 200`` with an unwrapped result (OData 4.01).
    :param wrap_result: ``auto`` wraps the result in ``application/http`` when the poll asks for it
        (``Accept: application/http``, or ``OData-MaxVersion: 4.0`` without ``Accept``), per the spec;
        ``always``/``never`` force it.
    :param preference_applied: echo ``Preference-Applied: respond-async`` on the 202 (not in the document).
    :param budget_limit: requests per company account per window ("150 requests in a 24-hour period").
    :param budget_window_seconds: the window (sliding), in sandbox seconds.
    :param enforce_budget: answer ``budget_status`` once the budget is spent (the real status is not documented).
    :param budget_status: status of a request over budget.
    :param count_status_polls: whether status-URL polls count (not documented; counted by default).
    :param page_span_hours: a synchronous JSON detail export is cut into ranges this long, linked by
        ``@odata.nextLink`` with a ``$skiptoken``.
    :param page_async_results: also page asynchronous JSON results (the document only describes
        paging without ``respond-async``).
    :param csv_header: CSV header row: the column ``label`` (as the UI shows it) or its OData ``name``.
    :param detail_rows_per_day: rows per UTC day of a detail report.
    :param accept_clear_password: accept ``*pass``-prefixed clear passwords.
    :param accept_api_key_basic: accept Basic auth with user ``apikey``.
    """

    time_scale: float = 1.0
    job_seconds: float = 10.0
    retry_after_seconds: int = 5
    status_ttl_seconds: float = 3600.0
    status_ttl_from: Literal["created", "completed"] = "created"
    expired_status: Literal[404, 410] = 410
    cancel_status: Literal[200, 204, 405] = 204
    job_outcome: Literal["succeeded", "failed"] = "succeeded"
    async_result_header: bool = True
    wrap_result: Literal["auto", "always", "never"] = "auto"
    preference_applied: bool = False
    budget_limit: int = 150
    budget_window_seconds: float = 86400.0
    enforce_budget: bool = True
    budget_status: int = 429
    count_status_polls: bool = True
    page_span_hours: float = 168.0
    page_async_results: bool = False
    csv_header: Literal["label", "name"] = "label"
    detail_rows_per_day: int = 48
    accept_clear_password: bool = True
    accept_api_key_basic: bool = True

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        for name in ("job_seconds", "status_ttl_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.retry_after_seconds < 0:
            raise ValueError("retry_after_seconds must be >= 0")
        if self.budget_limit < 0 or self.budget_window_seconds <= 0:
            raise ValueError("budget_limit must be >= 0 and budget_window_seconds > 0")
        if not 400 <= self.budget_status <= 599:
            raise ValueError("budget_status must be an HTTP error status")
        if self.page_span_hours <= 0:
            raise ValueError("page_span_hours must be > 0")
        if not 0 <= self.detail_rows_per_day <= 5000:
            raise ValueError("detail_rows_per_day must be within 0..5000")
