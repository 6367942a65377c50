"""Settings of the Genesys Cloud sandbox (``PATCH /_sandbox/vendors/genesys_cloud/settings``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .data import DEFAULT_PER_DAY
from .timefmt import parse_ts

JobOutcome = Literal["FULFILLED", "FAILED", "CANCELLED", "EXPIRED"]


@dataclass(frozen=True)
class GenesysSettings:
    """Knobs of the Genesys Cloud emulation; every default mirrors the real platform where known.

    :param token_ttl_seconds: ``expires_in`` of issued tokens.
    :param required_client_id: when set, only this client id is accepted at the token endpoint.
    :param required_client_secret: when set, only this secret is accepted ("wrong-secret" never is).
    :param expire_tokens_now: patching this to true expires every token issued so far (once per patch).
    :param rate_limit_per_minute: requests per token in a sliding 60 s window before 429.
    :param max_request_bytes: request bodies above this get 413.
    :param job_polls_to_complete: status polls until a job reaches its outcome (QUEUED on the
        first poll, PENDING on later ones). Ignored when ``job_seconds_to_complete`` is set.
    :param job_seconds_to_complete: time-based progression instead of poll counting.
    :param job_outcome: the terminal state jobs reach.
    :param job_error_message: ``errorMessage`` of FAILED jobs.
    :param job_expiration_seconds: ``expirationDate`` = submission + this; after it the job is EXPIRED.
    :param deleted_job_status: what a job answers after DELETE: ``"cancelled"`` (state CANCELLED)
        or ``"not_found"`` (404).
    :param max_concurrent_jobs: unfinished jobs per vendor before a submit gets 429 (None = no cap).
    :param results_default_page_size: job results ``pageSize`` when omitted.
    :param max_results_page_size: larger job results ``pageSize`` -> 400.
    :param results_not_ready_status: status for results of a job that is not FULFILLED.
    :param results_expired_status: status for results of an EXPIRED job.
    :param availability_lag_seconds: ``dataAvailabilityDate`` = now - this.
    :param conversations_per_day: synthetic conversations that start in each UTC day.
    :param query_max_page_size: largest ``paging.pageSize`` of the sync details queries.
    :param now: the sandbox's data clock, an ISO-8601 instant (``"2024-05-01T14:00:00Z"``), or
        null for the wall clock. What exists and what is finished is judged against it: queries
        and ``GET /conversations/{id}`` see the data as of ``now``, jobs as of their
        ``dataAvailabilityDate`` (``now - availability_lag_seconds``); a conversation in progress
        then is served open (no ``conversationEnd``, its current segment without ``segmentEnd``)
        and closes once ``now`` passes its end. Patch it forward to let time pass
        deterministically. Tokens, rate limits and job progression keep the wall clock.
    :param ratelimit_headers: send ``inin-ratelimit-count/-allowed/-reset`` on authenticated API
        responses. Genesys deprecated these headers in 2019 and announced their removal from
        June 2021 (developer forum, "Removal of inin-ratelimit-* response headers"); clients must
        not rely on them, so a test can switch them off to prove it.
    :param strict_predicates: reject filter predicates with fields the platform's models do not
        have (e.g. ``op_name`` for ``operator``) with a 400 naming the field. The documents are
        silent on how the platform treats unknown body fields, hence a setting.
    """

    token_ttl_seconds: int = 86400
    required_client_id: str | None = None
    required_client_secret: str | None = None
    expire_tokens_now: bool = False
    rate_limit_per_minute: int = 300
    max_request_bytes: int = 512000
    job_polls_to_complete: int = 2
    job_seconds_to_complete: float | None = None
    job_outcome: JobOutcome = "FULFILLED"
    job_error_message: str = "The query failed to execute. Retry or contact support."
    job_expiration_seconds: int = 172800
    deleted_job_status: Literal["cancelled", "not_found"] = "cancelled"
    max_concurrent_jobs: int | None = None
    results_default_page_size: int = 100
    max_results_page_size: int = 1000
    results_not_ready_status: int = 400
    results_expired_status: int = 404
    availability_lag_seconds: int = 900
    conversations_per_day: int = DEFAULT_PER_DAY
    query_max_page_size: int = 100
    now: str | None = None
    ratelimit_headers: bool = True
    strict_predicates: bool = True

    def __post_init__(self) -> None:
        for name in (
            "token_ttl_seconds",
            "rate_limit_per_minute",
            "max_request_bytes",
            "results_default_page_size",
            "max_results_page_size",
            "query_max_page_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name in (
            "job_polls_to_complete",
            "availability_lag_seconds",
            "conversations_per_day",
            "job_expiration_seconds",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.job_seconds_to_complete is not None and self.job_seconds_to_complete < 0:
            raise ValueError("job_seconds_to_complete must be >= 0")
        if self.conversations_per_day > 20000:
            raise ValueError("conversations_per_day must be <= 20000")
        if self.now is not None:
            try:
                parse_ts(self.now)
            except ValueError:
                raise ValueError(f"now must be an ISO-8601 instant, got {self.now!r}") from None

    @property
    def now_ms(self) -> int | None:
        """``now`` in epoch milliseconds, or None for the wall clock."""
        return None if self.now is None else int(parse_ts(self.now).timestamp() * 1000)
