"""One poll trigger for every vendor's export jobs.

The trigger asks the vendor hook for a job's state (``aget_job_status``), which maps
it onto :class:`~contact_center_provider.jobs.JobOutcome`; the
trigger owns the schedule, the transient-error tolerance and the deadline, so no
vendor writes its own loop. Operators and sensors defer to the same class.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from airflow.triggers.base import BaseTrigger, TriggerEvent

from contact_center_provider.http.errors import (
    VendorAPIError,
    VendorRateLimitError,
    VendorServerError,
    VendorTransportError,
)
from contact_center_provider.http.limits import RequestBudgetExhausted
from contact_center_provider.jobs import JobOutcome, JobRef, JobStatus, UnknownJobStateError
from contact_center_provider.triggers.events import EventKind, JobEvent
from contact_center_provider.triggers.polling import PollSchedule

log = logging.getLogger(__name__)

#: Errors that mean "ask again later": the HTTP core already retried them under its
#: own policy; the trigger keeps polling on its schedule until the deadline.
TRANSIENT_ERRORS: tuple[type[VendorAPIError], ...] = (
    VendorTransportError,
    VendorServerError,
    VendorRateLimitError,
)
#: A poll never gets less than this, even right before the deadline (a last look).
MIN_POLL_SECONDS = 5.0


class PollableJobHook(Protocol):
    """What the trigger needs of a vendor hook (a subset of :class:`~contact_center_provider.jobs.ExportJobHook`)."""

    async def aget_job_status(self, job: JobRef) -> JobStatus: ...

    async def acancel_job(self, job: JobRef) -> None: ...

    async def aclose(self) -> None: ...


def _import_hook(hook_class: str) -> type[Any]:
    module, _, name = hook_class.rpartition(".")
    cls: type[Any] = getattr(importlib.import_module(module), name)
    return cls


def _stage(uri: str, body: bytes, conn_id: str | None) -> None:
    from contact_center_provider.storage.atomic import write_bytes

    write_bytes(uri, body, conn_id, compression="disable")


class JobPollTrigger(BaseTrigger):
    """Poll a submitted vendor job until it ends, the deadline passes, or the API refuses.

    Yields exactly one event, a :class:`JobEvent` payload: ``finished`` with the job's
    outcome (SUCCEEDED, FAILED, CANCELLED, EXPIRED), ``timeout``, or ``api_error``.
    Transient poll errors (connection failures, 5xx, 429 after the HTTP core's own
    retries) never end the wait: a network blip does not fail the task. Each poll is
    bounded by the time left on the schedule, so a slow vendor cannot hold the trigger
    past its deadline. A vendor state the hook's mapping does not know ends the wait
    at once as ``api_error`` naming the state.

    When the final status carries the result body itself (Brightmetrics), the body is
    written to ``stage_uri`` (in a thread, off the event loop) and the event says where:
    the result is never thrown away and fetched again.

    :param hook_class: dotted path of the vendor hook class (built with ``conn_id``).
    :param conn_id: Airflow connection id of the vendor.
    :param job: the job reference (:class:`~contact_center_provider.jobs.JobRef`).
    :param schedule: the poll schedule as a dict (:meth:`PollSchedule.to_dict`), holding
        the absolute deadline.
    :param polls: polls already made (kept across a triggerer restart only for logging).
    :param hook_params: JSON-native keyword arguments for the hook (e.g. ``retry_policy``).
    :param stage_uri: where to put a result body that comes with the final status.
    :param stage_conn_id: storage connection for ``stage_uri``.

    Only these kwargs are serialized: ids, the connection ids, URIs and the schedule.
    Tokens and credentials are fetched again from the connection by the hook.
    """

    def __init__(
        self,
        *,
        hook_class: str,
        conn_id: str,
        job: JobRef,
        schedule: dict[str, Any],
        polls: int = 0,
        hook_params: dict[str, Any] | None = None,
        stage_uri: str | None = None,
        stage_conn_id: str | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.hook_class = hook_class
        self.conn_id = conn_id
        self.job: JobRef = job
        self.schedule = dict(schedule)
        self.polls = polls
        self.hook_params = dict(hook_params or {})
        self.stage_uri = stage_uri
        self.stage_conn_id = stage_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "hook_class": self.hook_class,
                "conn_id": self.conn_id,
                "job": self.job,
                "schedule": self.schedule,
                "polls": self.polls,
                "hook_params": self.hook_params,
                "stage_uri": self.stage_uri,
                "stage_conn_id": self.stage_conn_id,
            },
        )

    async def _ahook(self) -> PollableJobHook:
        # The first trigger of a vendor imports its hook module (CDDS: ~0.2 s, cryptography):
        # off the event loop, which every other trigger shares.
        return await asyncio.to_thread(self._hook)

    def _hook(self) -> PollableJobHook:
        hook = _import_hook(self.hook_class)(self.conn_id, **self.hook_params)
        # The triggers of one connection share one token in the triggerer (see shared_auth).
        hook.share_auth = True
        pollable: PollableJobHook = hook
        return pollable

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self.poll()
        yield TriggerEvent(event.to_payload())  # type: ignore[no-untyped-call]

    async def poll(self) -> JobEvent:
        """Poll until the job ends, the deadline passes or the API refuses; return the event."""
        hook = await self._ahook()
        try:
            return await self._poll_until_done(hook, PollSchedule.from_dict(self.schedule))
        finally:
            await hook.aclose()

    def poll_in_worker(self) -> JobEvent:
        """The non-deferrable path: the very same loop, run to completion in the worker."""
        return asyncio.run(self.poll())

    def _what(self) -> str:
        return f"{self.job.get('vendor')} {self.job.get('kind')} job {self.job.get('job_id')}"

    async def _poll_until_done(self, hook: PollableJobHook, schedule: PollSchedule) -> JobEvent:
        polls = self.polls
        if polls == 0 and schedule.first_delay > 0:
            await asyncio.sleep(min(schedule.first_delay, max(schedule.remaining(), 0.0)))
        while True:
            if schedule.expired():
                return JobEvent(
                    EventKind.TIMEOUT,
                    self.job,
                    message=f"Gave up waiting for {self._what()} after {polls} polls: the deadline passed.",
                    polls=polls,
                )
            polls += 1
            hint: float | None = None
            try:
                status = await asyncio.wait_for(
                    hook.aget_job_status(self.job), timeout=max(schedule.remaining(), MIN_POLL_SECONDS)
                )
            except TimeoutError:
                log.warning("Poll %d of %s did not answer before the deadline.", polls, self._what())
            except RequestBudgetExhausted as exc:
                # A shared budget in "fail" mode: asking again later would spend what is not there.
                return JobEvent(EventKind.API_ERROR, self.job, message=str(exc), polls=polls)
            except TRANSIENT_ERRORS as exc:
                log.warning("Poll %d of %s failed transiently, polling on: %s", polls, self._what(), exc)
                hint = exc.retry_after
            except (VendorAPIError, UnknownJobStateError) as exc:
                return JobEvent(EventKind.API_ERROR, self.job, message=str(exc), polls=polls)
            else:
                log.info(
                    "%s: %s (%s), poll %d", self._what(), status.outcome.value, status.vendor_state, polls
                )
                if status.outcome.terminal:
                    return await self._finished(status, polls)
                hint = status.retry_after
            await asyncio.sleep(schedule.delay(polls, hint))

    async def _finished(self, status: JobStatus, polls: int) -> JobEvent:
        staged: str | None = None
        body = status.result.body if status.result is not None else None
        if status.outcome is JobOutcome.SUCCEEDED and body is not None:
            if not self.stage_uri:
                return JobEvent(
                    EventKind.API_ERROR,
                    self.job,
                    message=f"{self._what()} returned its result with the final status, but the task gave "
                    "no stage_uri to keep it: it would be lost.",
                    polls=polls,
                )
            # Storage clients are synchronous: keep them off the triggerer's event loop.
            await asyncio.to_thread(_stage, self.stage_uri, body, self.stage_conn_id)
            staged = self.stage_uri
            log.info("%s: staged its %d-byte result at %s", self._what(), len(body), staged)
        return JobEvent(
            EventKind.FINISHED,
            self.job,
            outcome=status.outcome,
            vendor_state=status.vendor_state,
            message=status.message,
            polls=polls,
            staged_uri=staged,
        )

    async def on_kill(self) -> None:
        """Cancel the remote job when a user kills, clears or marks the deferred task."""
        hook = await self._ahook()
        try:
            await hook.acancel_job(self.job)
            log.info("Cancelled %s after the task was killed.", self._what())
        except VendorAPIError as exc:
            log.warning("Could not cancel %s: %s", self._what(), exc)
        finally:
            await hook.aclose()
