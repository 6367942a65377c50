"""One poll trigger for every vendor's export jobs.

The trigger asks the vendor hook for a job's state (``aget_job_status``), which maps
it onto :class:`~contact_center_provider.triggers.job_state.JobOutcome`; the
trigger owns the schedule, the transient-error tolerance and the deadline, so no
vendor writes its own loop. Operators and sensors defer to the same class.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from airflow.triggers.base import BaseTrigger, TriggerEvent

from contact_center_provider.http.errors import (
    VendorAPIError,
    VendorRateLimitError,
    VendorServerError,
    VendorTransportError,
)
from contact_center_provider.triggers.job_state import EventKind, JobEvent, JobStatus
from contact_center_provider.triggers.polling import PollSchedule

log = logging.getLogger(__name__)

#: Errors that mean "ask again later": the HTTP core already retried them under its
#: own policy; the trigger keeps polling on its schedule until the deadline.
TRANSIENT_ERRORS: tuple[type[VendorAPIError], ...] = (
    VendorTransportError,
    VendorServerError,
    VendorRateLimitError,
)


class PollableJobHook(Protocol):
    """What a vendor hook offers the trigger. ``job`` is the JSON-native job reference."""

    async def aget_job_status(self, job: Mapping[str, Any]) -> JobStatus: ...

    async def acancel_job(self, job: Mapping[str, Any]) -> None: ...

    async def aclose(self) -> None: ...


def _import_hook(hook_class: str) -> type[Any]:
    module, _, name = hook_class.rpartition(".")
    cls: type[Any] = getattr(importlib.import_module(module), name)
    return cls


class JobPollTrigger(BaseTrigger):
    """Poll a submitted vendor job until it ends, the deadline passes, or the API refuses.

    Yields exactly one event, a :class:`JobEvent` payload: ``finished`` with the job's
    outcome (SUCCEEDED, FAILED, CANCELLED, EXPIRED), ``timeout``, or ``api_error``.
    Transient poll errors (connection failures, 5xx, 429 after the HTTP core's own
    retries) never end the wait: a network blip does not fail the task.

    :param hook_class: dotted path of the vendor hook class (built with ``conn_id``).
    :param conn_id: Airflow connection id of the vendor.
    :param job: JSON-native job reference the hook understands (ids, kind, ...).
    :param schedule: the poll schedule as a dict (:meth:`PollSchedule.to_dict`), holding
        the absolute deadline.
    :param polls: polls already made (kept across a triggerer restart only for logging).

    Only these kwargs are serialized: ids, the connection id and the schedule. Tokens
    and credentials are fetched again from the connection by the hook.
    """

    def __init__(
        self,
        *,
        hook_class: str,
        conn_id: str,
        job: dict[str, Any],
        schedule: dict[str, Any],
        polls: int = 0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.hook_class = hook_class
        self.conn_id = conn_id
        self.job = dict(job)
        self.schedule = dict(schedule)
        self.polls = polls

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "hook_class": self.hook_class,
                "conn_id": self.conn_id,
                "job": self.job,
                "schedule": self.schedule,
                "polls": self.polls,
            },
        )

    def _hook(self) -> PollableJobHook:
        hook: PollableJobHook = _import_hook(self.hook_class)(self.conn_id)
        return hook

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self.poll()
        yield TriggerEvent(event.to_payload())  # type: ignore[no-untyped-call]

    async def poll(self) -> JobEvent:
        """Poll until the job ends, the deadline passes or the API refuses; return the event."""
        hook = self._hook()
        try:
            return await self._poll_until_done(hook, PollSchedule.from_dict(self.schedule))
        finally:
            await hook.aclose()

    def poll_in_worker(self) -> JobEvent:
        """The non-deferrable path: the very same loop, run to completion in the worker."""
        return asyncio.run(self.poll())

    async def _poll_until_done(self, hook: PollableJobHook, schedule: PollSchedule) -> JobEvent:
        polls = self.polls
        while True:
            if schedule.expired():
                return JobEvent(
                    EventKind.TIMEOUT,
                    self.job,
                    message=f"Gave up waiting for job {self.job} after {polls} polls: the deadline passed.",
                    polls=polls,
                )
            polls += 1
            hint: float | None = None
            try:
                status = await hook.aget_job_status(self.job)
            except TRANSIENT_ERRORS as exc:
                log.warning("Poll %d of job %s failed transiently, polling on: %s", polls, self.job, exc)
                hint = exc.retry_after
            except VendorAPIError as exc:
                return JobEvent(EventKind.API_ERROR, self.job, message=str(exc), polls=polls)
            else:
                log.info(
                    "Job %s: %s (%s), poll %d", self.job, status.outcome.value, status.vendor_state, polls
                )
                if status.outcome.terminal:
                    return JobEvent(
                        EventKind.FINISHED,
                        self.job,
                        outcome=status.outcome,
                        vendor_state=status.vendor_state,
                        message=status.message,
                        polls=polls,
                    )
                hint = status.details.get("retry_after")
            await asyncio.sleep(schedule.delay(polls, hint))

    async def on_kill(self) -> None:
        """Cancel the remote job when a user kills, clears or marks the deferred task."""
        hook = self._hook()
        try:
            await hook.acancel_job(self.job)
            log.info("Cancelled job %s after the task was killed.", self.job)
        except VendorAPIError as exc:
            log.warning("Could not cancel job %s: %s", self.job, exc)
        finally:
            await hook.aclose()
