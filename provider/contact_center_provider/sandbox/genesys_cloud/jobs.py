"""Analytics details jobs: declared states, a progression policy, cursor paging (no HTTP).

States: ``QUEUED -> PENDING -> <outcome>`` where the outcome is one of
``FULFILLED | FAILED | CANCELLED | EXPIRED`` (``settings.job_outcome``). A DELETE makes a job
CANCELLED at once; a FULFILLED job becomes EXPIRED at its ``expirationDate``.

The policy is snapshotted at submission, so patching settings never changes a job in flight.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .errors import GenesysApiError
from .settings import GenesysSettings
from .timefmt import format_ts

JobKind = Literal["conversations", "users"]
TERMINAL = frozenset({"FULFILLED", "FAILED", "CANCELLED", "EXPIRED"})


@dataclass
class Job:
    """One submitted details job."""

    id: str
    kind: JobKind
    interval: str
    start: datetime
    end: datetime
    query: dict[str, Any]
    submitted_at: float
    expires_at: float
    polls_to_complete: int
    seconds_to_complete: float | None
    outcome: str
    error_message: str
    state: str = "QUEUED"
    polls: int = 0
    completed_at: float | None = None
    cancelled: bool = False
    result_pages: int = 0
    results: Sequence[dict[str, Any]] | None = field(default=None, repr=False)

    def advance(self, now: float, *, poll: bool) -> str:
        """Move the job along its policy and return its state."""
        if poll:
            self.polls += 1
        if self.state in TERMINAL:
            if self.state == "FULFILLED" and now >= self.expires_at:
                self.state = "EXPIRED"
            return self.state
        if self.seconds_to_complete is not None:
            elapsed = now - self.submitted_at
            done = elapsed >= self.seconds_to_complete
            self.state = "QUEUED" if elapsed < self.seconds_to_complete / 2 else "PENDING"
        else:
            done = self.polls > self.polls_to_complete
            self.state = "QUEUED" if self.polls <= 1 else "PENDING"
        if done:
            self.state = self.outcome
            self.completed_at = now
        return self.state

    def status_json(self) -> dict[str, Any]:
        """The ``AsyncQueryStatus`` wire shape."""
        body: dict[str, Any] = {
            "state": self.state,
            "submissionDate": format_ts(self.submitted_at),
            "expirationDate": format_ts(self.expires_at),
        }
        if self.completed_at is not None:
            body["completionDate"] = format_ts(self.completed_at)
        if self.state == "FAILED":
            body["errorMessage"] = self.error_message
        return body


def encode_cursor(job_id: str, offset: int) -> str:
    """An opaque cursor (base64 JSON, like the platform's ``eyJ...`` cursors)."""
    raw = json.dumps({"j": job_id, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(job_id: str, cursor: str) -> int:
    """Offset encoded in ``cursor``.

    :raises GenesysApiError: 400 for a cursor that is garbage or belongs to another job.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = int(data["o"])
        same_job = data["j"] == job_id
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise GenesysApiError(400, "Invalid cursor value", "bad.request") from exc
    if not same_job or offset < 0:
        raise GenesysApiError(400, "Invalid cursor value", "bad.request")
    return offset


class JobStore:
    """All jobs of one vendor model, with the counters the admin API reports."""

    def __init__(self, settings: Callable[[], GenesysSettings], clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self.jobs: dict[str, Job] = {}
        self.by_interval: Counter[str] = Counter()

    def submit(
        self, kind: JobKind, interval: str, start: datetime, end: datetime, query: dict[str, Any]
    ) -> Job:
        """Create a job in state QUEUED.

        :raises GenesysApiError: 429 when ``max_concurrent_jobs`` unfinished jobs exist.
        """
        settings = self._settings()
        now = self._clock()
        if settings.max_concurrent_jobs is not None:
            running = sum(1 for job in self.jobs.values() if job.advance(now, poll=False) not in TERMINAL)
            if running >= settings.max_concurrent_jobs:
                raise GenesysApiError(
                    429,
                    f"The maximum number of concurrent jobs [{settings.max_concurrent_jobs}] has been reached. "
                    "Retry the request in [5] seconds",
                    "too.many.requests.retry.after",
                    headers={"Retry-After": "5"},
                )
        job = Job(
            id=str(uuid.uuid4()),
            kind=kind,
            interval=interval,
            start=start,
            end=end,
            query=query,
            submitted_at=now,
            expires_at=now + settings.job_expiration_seconds,
            polls_to_complete=settings.job_polls_to_complete,
            seconds_to_complete=settings.job_seconds_to_complete,
            outcome=settings.job_outcome,
            error_message=settings.job_error_message,
        )
        self.jobs[job.id] = job
        self.by_interval[interval] += 1
        return job

    def get(self, kind: JobKind, job_id: str) -> Job:
        """The job, or a 404 ErrorBody (also for a deleted job when so configured)."""
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind:
            raise GenesysApiError(404, f"Unable to find job with ID {job_id}", "not.found")
        if job.cancelled and self._settings().deleted_job_status == "not_found":
            raise GenesysApiError(404, f"Unable to find job with ID {job_id}", "not.found")
        return job

    def poll(self, kind: JobKind, job_id: str) -> Job:
        job = self.get(kind, job_id)
        job.advance(self._clock(), poll=True)
        return job

    def cancel(self, kind: JobKind, job_id: str) -> None:
        job = self.get(kind, job_id)
        job.cancelled = True
        if job.state not in TERMINAL or job.state == "FULFILLED":
            job.state = "CANCELLED"
            job.completed_at = self._clock()

    def results_page(
        self,
        kind: JobKind,
        job_id: str,
        cursor: str | None,
        page_size: int | None,
        build: Callable[[Job], Sequence[dict[str, Any]]],
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a FULFILLED job's results and the next cursor (``None`` on the last page).

        :raises GenesysApiError: 404 unknown job; ``results_expired_status`` for EXPIRED;
            ``results_not_ready_status`` for any other non-FULFILLED state; 400 for a bad
            cursor or page size.
        """
        settings = self._settings()
        job = self.get(kind, job_id)
        state = job.advance(self._clock(), poll=False)
        if state == "EXPIRED":
            raise GenesysApiError(
                settings.results_expired_status, f"The results of job {job_id} have expired", "not.found"
            )
        if state != "FULFILLED":
            raise GenesysApiError(
                settings.results_not_ready_status,
                f"Results are not available for job {job_id} in state {state}",
                "bad.request",
            )
        size = settings.results_default_page_size if page_size is None else page_size
        if not 1 <= size <= settings.max_results_page_size:
            raise GenesysApiError(
                400, f"pageSize must be between 1 and {settings.max_results_page_size}", "bad.request"
            )
        offset = 0 if not cursor else decode_cursor(job_id, cursor)
        if job.results is None:
            job.results = build(job)
        page = list(job.results[offset : offset + size])
        job.result_pages += 1
        next_offset = offset + size
        return page, (encode_cursor(job_id, next_offset) if next_offset < len(job.results) else None)

    def counters(self) -> dict[str, Any]:
        """The ``jobs`` entry of ``GET /_sandbox/counters``."""
        now = self._clock()
        return {
            "created": len(self.jobs),
            "by_interval": dict(self.by_interval),
            "items": {
                job.id: {
                    "kind": job.kind,
                    "interval": job.interval,
                    "polls": job.polls,
                    "result_pages": job.result_pages,
                    "state": job.advance(now, poll=False),
                    "cancelled": job.cancelled,
                }
                for job in self.jobs.values()
            },
        }
