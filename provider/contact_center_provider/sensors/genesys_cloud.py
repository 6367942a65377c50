"""Genesys Cloud sensors: wait for a submitted job, or for the data lake to cover the interval.

Both are thin subclasses of :class:`~contact_center_provider.sensors.export_job.VendorJobSensor`:
they poke once in the worker and, when deferrable, hand the wait to the same
:class:`~contact_center_provider.triggers.job_poll.JobPollTrigger` the operators use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contact_center_provider.hooks.genesys_cloud import (
    Dataset,
    GenesysCloudHook,
    availability_ref,
    details_job_ref,
)
from contact_center_provider.jobs import JobRef
from contact_center_provider.operators._common import as_utc_datetime, resolve_interval
from contact_center_provider.sensors.export_job import VendorJobSensor


class _GenesysSensor(VendorJobSensor):
    hook_class = GenesysCloudHook

    def __init__(
        self, *, genesys_cloud_conn_id: str = GenesysCloudHook.default_conn_name, **kwargs: Any
    ) -> None:
        super().__init__(conn_id=genesys_cloud_conn_id, **kwargs)


class GenesysCloudJobSensor(_GenesysSensor):
    """Wait until a submitted analytics details job is FULFILLED; fail if it FAILED, was CANCELLED or EXPIRED.

    :param job_id: the job id (templated; e.g. the submit task's ``job_ids`` XCom).
    :param dataset: ``"conversations"`` or ``"users"``.
    :param genesys_cloud_conn_id: the Genesys Cloud connection. Templated.
    :param deferrable: defer between pokes (default ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = (*VendorJobSensor.template_fields, "job_id")

    def __init__(self, *, job_id: str, dataset: Dataset = "conversations", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.dataset: Dataset = dataset

    def job(self, context: Mapping[str, Any]) -> JobRef:
        return details_job_ref(self.dataset, str(self.job_id))


class GenesysCloudDataAvailabilitySensor(_GenesysSensor):
    """Wait until ``dataAvailabilityDate`` passes the data interval's end, so a job sees it all.

    :param dataset: ``"conversations"`` or ``"users"``.
    :param interval_end: override of the data interval end (ISO-8601). Templated.
    :param genesys_cloud_conn_id: the Genesys Cloud connection. Templated.
    """

    template_fields: Sequence[str] = (*VendorJobSensor.template_fields, "interval_end")

    def __init__(
        self, *, dataset: Dataset = "conversations", interval_end: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.dataset: Dataset = dataset
        self.interval_end = interval_end

    def job(self, context: Mapping[str, Any]) -> JobRef:
        if self.interval_end:
            end = as_utc_datetime(self.interval_end, "interval_end")
        else:
            _, end = resolve_interval(context, task_id=self.task_id)
        return availability_ref(self.dataset, end)

    def describe(self, job: JobRef) -> str:
        return f"Genesys Cloud {self.dataset} data availability up to {(job.get('extra') or {}).get('until')}"
