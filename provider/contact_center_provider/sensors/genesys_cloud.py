"""Genesys Cloud sensors: wait for a submitted job, or for the data lake to cover the interval.

Both poke once in the worker and, when deferrable, hand the wait to the same
:class:`~contact_center_provider.triggers.job_poll.JobPollTrigger` the operators use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseSensorOperator

from contact_center_provider.hooks.genesys_cloud import Dataset, GenesysCloudHook, availability_ref, job_ref
from contact_center_provider.operators._common import (
    as_utc_datetime,
    default_deferrable,
    raise_for_event,
    resolve_interval,
)
from contact_center_provider.triggers.job_poll import JobPollTrigger
from contact_center_provider.triggers.job_state import EventKind, JobEvent, JobOutcome
from contact_center_provider.triggers.polling import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, PollSchedule

HOOK_CLASS = f"{GenesysCloudHook.__module__}.{GenesysCloudHook.__qualname__}"


class _GenesysJobSensorBase(BaseSensorOperator):
    def __init__(
        self,
        *,
        genesys_cloud_conn_id: str = GenesysCloudHook.default_conn_name,
        deferrable: bool = default_deferrable(),
        poke_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.genesys_cloud_conn_id = genesys_cloud_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> GenesysCloudHook:
        return GenesysCloudHook(self.genesys_cloud_conn_id)

    def _job(self, context: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _what(self, job: Mapping[str, Any]) -> str:
        return f"Genesys Cloud {job.get('kind')} job {job.get('job_id', job.get('until'))}"

    def poke(self, context: Any) -> bool:
        job = self._job(context)
        status = self.hook.get_job_status(job)
        if status.outcome is JobOutcome.RUNNING:
            return False
        event = JobEvent(EventKind.FINISHED, job, status.outcome, status.vendor_state, status.message)
        raise_for_event(event, self._what(job))
        return True

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        job = self._job(context)
        schedule = PollSchedule.starting_now(float(self.timeout), interval=float(self.poke_interval))
        self.defer(
            trigger=JobPollTrigger(
                hook_class=HOOK_CLASS,
                conn_id=self.genesys_cloud_conn_id,
                job=job,
                schedule=schedule.to_dict(),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 120),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> None:
        parsed = JobEvent.from_payload(event)
        raise_for_event(parsed, self._what(parsed.job))


class GenesysCloudJobSensor(_GenesysJobSensorBase):
    """Wait until a submitted analytics details job is FULFILLED; fail if it FAILED, was CANCELLED or EXPIRED.

    :param job_id: the job id (templated; e.g. the submit task's ``job_id`` XCom).
    :param dataset: ``"conversations"`` or ``"users"``.
    :param genesys_cloud_conn_id: the Genesys Cloud connection.
    :param deferrable: defer between pokes (default ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("job_id", "genesys_cloud_conn_id")

    def __init__(self, *, job_id: str, dataset: Dataset = "conversations", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.dataset: Dataset = dataset

    def _job(self, context: Mapping[str, Any]) -> dict[str, Any]:
        return job_ref(self.dataset, self.job_id)


class GenesysCloudDataAvailabilitySensor(_GenesysJobSensorBase):
    """Wait until ``dataAvailabilityDate`` passes the data interval's end, so a job sees it all.

    :param dataset: ``"conversations"`` or ``"users"``.
    :param interval_end: override of the data interval end (ISO-8601). Templated.
    """

    template_fields: Sequence[str] = ("interval_end", "genesys_cloud_conn_id")

    def __init__(
        self, *, dataset: Dataset = "conversations", interval_end: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.dataset: Dataset = dataset
        self.interval_end = interval_end

    def _job(self, context: Mapping[str, Any]) -> dict[str, Any]:
        if self.interval_end:
            end = as_utc_datetime(self.interval_end, "interval_end")
        else:
            _, end = resolve_interval(context, task_id=self.task_id)
        return availability_ref(self.dataset, end)

    def _what(self, job: Mapping[str, Any]) -> str:
        return f"Genesys Cloud {self.dataset} data availability up to {job['until']}"
