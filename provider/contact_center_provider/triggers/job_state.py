"""Vendor-neutral job states and the typed event a poll trigger yields.

Each vendor maps its own job states onto :class:`JobOutcome` with a table (see
``GENESYS_CLOUD_STATES`` in the Genesys hook), so the trigger, sensors and operators
never compare vendor strings. The event keeps three failures apart: the job itself
failed (FAILED, CANCELLED, EXPIRED), we stopped waiting (TIMEOUT), and the API
refused to tell us (API_ERROR).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


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


class EventKind(StrEnum):
    """What a :class:`JobEvent` reports."""

    #: The job reached a terminal vendor state (see ``outcome``).
    FINISHED = "finished"
    #: The absolute deadline passed before the job finished.
    TIMEOUT = "timeout"
    #: The vendor API answered with a non-transient error (e.g. 404 for the job).
    API_ERROR = "api_error"


def map_state(table: Mapping[str, JobOutcome], vendor_state: str | None) -> JobOutcome:
    """Map a vendor state with its table; an unknown state is treated as still running.

    Vendors add states over time (the Genesys SDK turns unknown ones into
    ``outdated_sdk_version``); waiting on them is safer than failing a healthy export.
    """
    if vendor_state is None:
        return JobOutcome.RUNNING
    return table.get(vendor_state.upper(), JobOutcome.RUNNING)


@dataclass(frozen=True)
class JobStatus:
    """One observation of a job: its common outcome plus what the vendor said."""

    job_id: str
    outcome: JobOutcome
    vendor_state: str | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobEvent:
    """The payload of the single ``TriggerEvent`` a poll trigger yields (JSON-native)."""

    kind: EventKind
    job: dict[str, Any]
    outcome: JobOutcome | None = None
    vendor_state: str | None = None
    message: str | None = None
    polls: int = 0

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
            job=dict(payload["job"]),
            outcome=JobOutcome(payload["outcome"]) if payload.get("outcome") else None,
            vendor_state=payload.get("vendor_state"),
            message=payload.get("message"),
            polls=int(payload.get("polls", 0)),
        )
