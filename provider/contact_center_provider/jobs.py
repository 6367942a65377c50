"""The vendor contract: what an export job is, what one look at it says, what a vendor hook implements.

Every vendor that exports through jobs (Genesys Cloud details jobs, NICE CXone Data
Extraction jobs, Brightmetrics OData asynchronous requests, Genesys CDDS artifacts...)
is driven by one operator base, one sensor base and one poll trigger. They only
speak the types below; a vendor hook maps its wire format onto them.

* :class:`JobRef` — the JSON-native reference of a submitted job. It travels through
  trigger kwargs, ``task_state_store`` and XCom, so it never holds a secret.
* :class:`JobStatus` — one observation of a job: the common :class:`JobOutcome`, the
  vendor's own state, and, on the final observation, what some vendors hand over with
  it (:class:`JobResult`: a short-lived download URL, or the result body itself).
* :class:`ExportJobHook` — the protocol a vendor hook implements.

No Airflow import here: the types are usable from transforms, the sandbox and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, NotRequired, Protocol, TypedDict, runtime_checkable

__all__ = [
    "ExportJobHook",
    "JobOutcome",
    "JobRef",
    "JobResult",
    "JobStatus",
    "LandingSink",
    "UnknownJobStateError",
    "job_ref",
    "map_state",
]


class JobOutcome(StrEnum):
    """Common outcome of a vendor export job."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"

    @property
    def terminal(self) -> bool:
        return self is not JobOutcome.RUNNING


class JobRef(TypedDict):
    """A submitted job, JSON-native (trigger kwargs, ``task_state_store``, XCom).

    ``kind`` is the vendor's own kind of job (a Genesys dataset, a NICE entity, a
    Brightmetrics report...). ``extra`` holds whatever else the vendor needs to find the
    job again (a status-monitor path, the interval it covers); never a secret.
    """

    vendor: str
    kind: str
    job_id: str
    extra: NotRequired[dict[str, Any]]


def job_ref(vendor: str, kind: str, job_id: str, **extra: Any) -> JobRef:
    """Build a :class:`JobRef`; keyword arguments go to ``extra`` (JSON-native values only)."""
    ref: JobRef = {"vendor": vendor, "kind": kind, "job_id": str(job_id)}
    if extra:
        ref["extra"] = dict(extra)
    return ref


class UnknownJobStateError(ValueError):
    """The vendor reported a job state our mapping does not know.

    Waiting on it would end hours later in a timeout that explains nothing; failing at
    once names the state so the mapping can be extended (or the vendor asked).
    """

    def __init__(self, vendor: str, job_id: str, state: str | None, known: Iterable[str]) -> None:
        self.vendor = vendor
        self.job_id = job_id
        self.state = state
        shown = "no state at all" if state is None else f"state {state!r}"
        super().__init__(
            f"{vendor} job {job_id}: the vendor reported {shown}, which this provider does not know "
            f"(known: {', '.join(sorted(known))}). Check the job in the vendor's console; "
            "report the state so the mapping can be extended."
        )


def map_state(
    table: Mapping[str, JobOutcome], vendor_state: str | None, *, vendor: str, job_id: str
) -> JobOutcome:
    """Map a vendor state (case-insensitive) with its table.

    :raises UnknownJobStateError: for a state the table does not hold, or none at all.
    """
    if vendor_state is not None:
        outcome = table.get(vendor_state.upper())
        if outcome is not None:
            return outcome
    raise UnknownJobStateError(vendor, job_id, vendor_state, table)


@dataclass(frozen=True)
class JobResult:
    """What a vendor hands over with a job's final status, besides the state.

    :param url: a short-lived download URL (NICE CXone's ``result.url`` lives 30 s). It is
        a credential: never logged, never put in an event, XCom or trigger kwargs.
    :param body: the result itself (Brightmetrics: the 200 that ends polling *is* the
        report). It must be landed, not fetched again: each request costs budget.
    :param media_type: the body's or download's content type, when known.
    :param staged_uri: where the poll trigger put ``body`` (in the raw zone's attempt
        prefix) so the worker can land it; set by the trigger, read by the hook.
    """

    url: str | None = field(default=None, repr=False)
    body: bytes | None = field(default=None, repr=False)
    media_type: str | None = None
    staged_uri: str | None = None


@dataclass(frozen=True)
class JobStatus:
    """One observation of a job: its common outcome plus what the vendor said.

    :param job_id: the vendor's job id.
    :param outcome: the common outcome.
    :param vendor_state: the vendor's own word for it (logged, shown in errors).
    :param message: the vendor's error message for a failed job.
    :param details: small JSON-native facts worth logging or returning (dates, counts).
    :param retry_after: the vendor's hint, in seconds, for when to ask again.
    :param result: what came with the final status (see :class:`JobResult`).
    """

    job_id: str
    outcome: JobOutcome
    vendor_state: str | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    result: JobResult | None = None


class LandingSink(Protocol):
    """Where a hook streams a finished job's output: the raw zone's current attempt.

    Implemented by :class:`contact_center_provider.storage.raw_zone.RawLanding`.
    Each call writes one object atomically and records it in the landing's manifest.
    """

    def read_staged(self, uri: str) -> bytes:
        """The bytes the poll trigger staged for this landing (``JobResult.staged_uri``)."""
        ...

    def write_page(self, raw: bytes, records: int | None, *, extension: str | None = None) -> str:
        """Write one page (exact vendor bytes); return its URI."""
        ...

    def write_stream(
        self,
        chunks: Iterable[bytes],
        records: int | Callable[[], int | None] | None = None,
        *,
        extension: str | None = None,
    ) -> str:
        """Write one object from an iterator of chunks (a large download); return its URI.
        ``records`` may be a callable asked once the chunks are consumed."""
        ...


@runtime_checkable
class ExportJobHook(Protocol):
    """What a vendor hook implements so the shared operator, sensor and trigger can drive it.

    Sync methods run in workers; ``a``-prefixed twins run in the triggerer. Share the
    pure parts (URLs, state mapping, parsing) between twins; only the I/O is written twice.
    """

    vendor: ClassVar[str]

    def submit_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef:
        """Submit one job for ``[start, end)`` and return its reference.

        Must send the creating request with ``creates=True`` so it is never resent when it
        may have arrived (the HTTP core then raises ``AmbiguousSubmissionError``).
        """
        ...

    def find_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef | None:
        """Find a job already submitted for this interval (after an ambiguous submit or a
        worker killed before the id was stored); ``None`` when the vendor cannot list jobs."""
        ...

    def get_job_status(self, job: JobRef) -> JobStatus: ...

    async def aget_job_status(self, job: JobRef) -> JobStatus: ...

    def cancel_job(self, job: JobRef) -> None: ...

    async def acancel_job(self, job: JobRef) -> None: ...

    def land_result(self, job: JobRef, status: JobStatus, landing: LandingSink) -> dict[str, Any]:
        """Stream the finished job's output into ``landing``; return JSON-native facts for the
        manifest (e.g. ``{"items_key": "conversations"}``). ``status`` is the final one the
        trigger saw, without a URL (URLs never leave the process that fetched them): fetch a
        fresh one if the vendor needs it."""
        ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...
