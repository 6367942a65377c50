"""Asynchronous exports and the sandbox clock (no HTTP).

An export is created by a report request with ``Prefer: respond-async``; it runs for
``job_seconds`` on the sandbox clock, then its status URL answers 200 with the data until
the URL expires (``status_ttl_seconds``, "valid for 1 hour"), after which it answers
404/410. ``DELETE`` cancels it (later GETs: 404). The policy is snapshotted at creation,
so patching settings never changes an export in flight.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .catalog import Report
from .odata_filter import Clause

ExportState = Literal["running", "done", "expired", "cancelled"]


class ScaledClock:
    """Sandbox time: ``scale`` sandbox seconds pass per real second (rebased when the scale changes)."""

    def __init__(self, scale: Callable[[], float], real: Callable[[], float] = time.time) -> None:
        self._scale = scale
        self._real = real
        self._base_real = real()
        self._base = self._base_real
        self._last_scale = scale()

    def __call__(self) -> float:
        scale = self._scale()
        now = self._real()
        if scale != self._last_scale:
            self._base += (now - self._base_real) * self._last_scale
            self._base_real = now
            self._last_scale = scale
        return self._base + (now - self._base_real) * scale

    def advance(self, seconds: float) -> float:
        """Jump the sandbox clock forward (admin action ``advance``); returns the new sandbox time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._base += seconds
        return self()

    def retry_after(self, sandbox_seconds: float) -> str:
        """A ``Retry-After`` value in real seconds: an integer at scale 1, decimals when accelerated."""
        scale = self._scale()
        if scale == 1:
            return str(max(0, math.ceil(sandbox_seconds)))
        return f"{max(sandbox_seconds / scale, 0.001):.3f}"


@dataclass(frozen=True)
class Query:
    """A validated report request: what to return, in which format."""

    report: Report
    clauses: tuple[Clause, ...]
    start: datetime
    end: datetime
    timezone: str | None
    kind: str
    variant: str


@dataclass
class Export:
    id: str
    company: str
    query: Query
    created_at: float
    done_at: float
    ttl_seconds: float
    ttl_from: str
    outcome: str
    cancelled: bool = False
    polls: int = 0
    served: int = 0

    def state(self, now: float) -> ExportState:
        if self.cancelled:
            return "cancelled"
        origin = self.created_at if self.ttl_from == "created" else self.done_at
        if now >= origin + self.ttl_seconds:
            return "expired"
        return "done" if now >= self.done_at else "running"


@dataclass
class ExportStore:
    exports: dict[str, Export] = field(default_factory=dict)
    cancelled: int = 0

    def create(
        self,
        company: str,
        query: Query,
        now: float,
        *,
        seconds: float,
        ttl: float,
        ttl_from: str,
        outcome: str,
    ) -> Export:
        export = Export(
            id=str(uuid.uuid4()),
            company=company,
            query=query,
            created_at=now,
            done_at=now + seconds,
            ttl_seconds=ttl,
            ttl_from=ttl_from,
            outcome=outcome,
        )
        self.exports[export.id] = export
        return export

    def counters(self) -> dict[str, int]:
        return {
            "submitted": len(self.exports),
            "polls": sum(e.polls for e in self.exports.values()),
            "results_served": sum(e.served for e in self.exports.values()),
            "cancelled": sum(1 for e in self.exports.values() if e.cancelled),
        }
