"""Settings of the NICE CXone sandbox (``PATCH /_sandbox/vendors/nice_cxone/settings``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

JobOutcome = Literal["SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"]


@dataclass(frozen=True)
class NiceSettings:
    """Knobs of the NICE CXone emulation; defaults mirror the vendor's document where it speaks.

    Tokens
    :param token_ttl_seconds: ``expires_in`` of issued tokens (the real lifetime is unverified).
    :param required_access_key_id: when set, only this access key id is accepted.
    :param required_access_key_secret: when set, only this secret is accepted ("wrong-secret" never is).
    :param required_client_id: when set, the OAuth password grant only accepts this client id.
    :param required_client_secret: when set, the OAuth password grant only accepts this secret.
    :param expire_tokens_now: patching this to true expires every token issued so far (once per patch).

    The call-spacing rule ("only one user per tenant can call an API"; "once in a 30 second period")
    :param call_spacing_seconds: least time between two calls of one tenant. NICE's rule is 30 s;
        the sandbox defaults to 2 s so that demos finish in a minute (the rule, its error and the
        one-caller limit are otherwise the vendor's). Patch 30 to be strict.
    :param enforce_spacing: answer the throttling error to calls that break the rule.
    :param spacing_applies_to_auth: also enforce it on the token and discovery endpoints (every call is
        *recorded* per tenant either way; the document only speaks of "the API").
    :param throttle_status: the throttling answer; which one NICE sends is unverified (public scripts
        treat 403 on submit as "wait and try again").
    :param throttle_retry_after: a ``Retry-After`` (seconds) on the throttling answer; none by default.
    :param throttled_calls_count: a refused call also restarts the 30 s period.
    :param processing_seconds: how long each Data Extraction call stays in flight (a second caller
        arriving meanwhile is throttled).

    Jobs
    :param job_polls_to_complete: polls of ``GET /jobs/{jobId}`` answered RUNNING before the outcome.
    :param job_seconds_to_complete: time-based progression instead of poll counting.
    :param job_outcome: the terminal state jobs reach.
    :param job_error_message: ``result.errorMessage`` of FAILED jobs.
    :param job_status_http_status: success status of ``GET /jobs/{jobId}`` (the document says 202).
    :param result_retention_seconds: the CSV stays "available in S3 for 24 hours"; then the job is EXPIRED.
    :param forbidden_entities: entities this user lacks the permission for (403).
    :param max_range_days: longest ``startDate..endDate`` accepted (400 beyond; a third party claims
        15 days, NICE recommends at most two weeks: unverified).
    :param end_date_inclusive: whether rows submitted on ``endDate`` itself are included
        (unverified; exclusive by default, as public daily scripts send yesterday..today).

    Results
    :param url_ttl_seconds: a result URL is accessible for this long after it was issued.
    :param issue_expired_urls: the next N result URLs are issued already expired (once per patch).
    :param rows_per_day: average QM workflow rows submitted per UTC day.
    :param csv_bom: start result files with a UTF-8 byte-order mark.
    """

    token_ttl_seconds: int = 3600
    required_access_key_id: str | None = None
    required_access_key_secret: str | None = None
    required_client_id: str | None = None
    required_client_secret: str | None = None
    expire_tokens_now: bool = False

    call_spacing_seconds: float = 2.0
    enforce_spacing: bool = True
    spacing_applies_to_auth: bool = False
    throttle_status: Literal[403, 429] = 403
    throttle_retry_after: int | None = None
    throttled_calls_count: bool = True
    processing_seconds: float = 0.0

    job_polls_to_complete: int = 2
    job_seconds_to_complete: float | None = None
    job_outcome: JobOutcome = "SUCCEEDED"
    job_error_message: str = "Data extraction failed. Please try again later or contact support."
    job_status_http_status: Literal[200, 202] = 202
    result_retention_seconds: int = 86400
    forbidden_entities: tuple[str, ...] = ()
    max_range_days: int | None = 15
    end_date_inclusive: bool = False

    url_ttl_seconds: float = 30.0
    issue_expired_urls: int = 0
    rows_per_day: int = 40
    csv_bom: bool = False

    def __post_init__(self) -> None:
        for name in ("token_ttl_seconds", "result_retention_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name in (
            "call_spacing_seconds",
            "processing_seconds",
            "job_polls_to_complete",
            "url_ttl_seconds",
            "issue_expired_urls",
            "rows_per_day",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.job_seconds_to_complete is not None and self.job_seconds_to_complete < 0:
            raise ValueError("job_seconds_to_complete must be >= 0")
        if self.max_range_days is not None and self.max_range_days < 1:
            raise ValueError("max_range_days must be >= 1 or null")
        if self.rows_per_day > 20000:
            raise ValueError("rows_per_day must be <= 20000")
        # A JSON patch gives a list; keep the frozen dataclass hashable and immutable.
        object.__setattr__(self, "forbidden_entities", tuple(self.forbidden_entities))
