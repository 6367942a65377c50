"""The typed event a poll trigger yields (JSON-native), and nothing else.

The event keeps three failures apart: the job itself failed (FAILED, CANCELLED,
EXPIRED), we stopped waiting (TIMEOUT), and the API refused to tell us (API_ERROR).
The domain types it refers to (:class:`~contact_center_provider.jobs.JobOutcome`,
job references) live in :mod:`contact_center_provider.jobs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from contact_center_provider.jobs import JobOutcome, JobRef


class EventKind(StrEnum):
    """What a :class:`JobEvent` reports."""

    #: The job reached a terminal vendor state (see ``outcome``).
    FINISHED = "finished"
    #: The absolute deadline passed before the job finished.
    TIMEOUT = "timeout"
    #: The vendor API answered with a non-transient error (e.g. 404 for the job, an unknown state).
    API_ERROR = "api_error"


@dataclass(frozen=True)
class JobEvent:
    """The payload of the single ``TriggerEvent`` a poll trigger yields (JSON-native).

    :param staged_uri: where the trigger put a result body the vendor returned with the
        final status (see :class:`~contact_center_provider.jobs.JobResult`).
    """

    kind: EventKind
    job: JobRef
    outcome: JobOutcome | None = None
    vendor_state: str | None = None
    message: str | None = None
    polls: int = 0
    staged_uri: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.kind is EventKind.FINISHED and self.outcome is JobOutcome.SUCCEEDED

    def to_payload(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["kind"] = self.kind.value
        payload["outcome"] = self.outcome.value if self.outcome else None
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any] | None) -> JobEvent:
        """Rebuild an event; a missing or foreign payload is a programming error and says so."""
        if not isinstance(payload, Mapping) or "kind" not in payload or "job" not in payload:
            raise ValueError(f"Not a job poll event: {payload!r}")
        return cls(
            kind=EventKind(payload["kind"]),
            job=payload["job"],
            outcome=JobOutcome(payload["outcome"]) if payload.get("outcome") else None,
            vendor_state=payload.get("vendor_state"),
            message=payload.get("message"),
            polls=int(payload.get("polls", 0)),
            staged_uri=payload.get("staged_uri"),
        )
