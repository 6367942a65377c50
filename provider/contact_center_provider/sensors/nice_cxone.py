"""NICE CXone sensor: wait for a submitted Data Extraction job (a thin
:class:`~contact_center_provider.sensors.export_job.VendorJobSensor`).

Every poke is a call to the tenant's API and takes one of its 30-second slots: poke gently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contact_center_provider.hooks.nice_cxone import NiceCxoneHook
from contact_center_provider.jobs import JobRef, job_ref
from contact_center_provider.operators.nice_cxone import POLL_INTERVAL
from contact_center_provider.sensors.export_job import VendorJobSensor


class NiceCxoneJobSensor(VendorJobSensor):
    """Wait until a Data Extraction job SUCCEEDED; fail if it FAILED, was CANCELLED or EXPIRED.

    :param job_id: the job id (templated; e.g. the export task's ``job_ids`` XCom with
        ``wait_for_completion=False``).
    :param entity: the job's entity (only named in messages).
    :param nice_cxone_conn_id: the NICE CXone connection. Templated.
    :param poke_interval: first wait between polls (default 60 s; each poll costs a 30 s slot).
    """

    hook_class = NiceCxoneHook
    template_fields: Sequence[str] = (*VendorJobSensor.template_fields, "job_id")

    def __init__(
        self,
        *,
        job_id: str,
        entity: str = "qm-workflows",
        nice_cxone_conn_id: str = NiceCxoneHook.default_conn_name,
        poke_interval: float = POLL_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=nice_cxone_conn_id, poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.entity = entity

    def job(self, context: Mapping[str, Any]) -> JobRef:
        return job_ref(NiceCxoneHook.vendor, self.entity, str(self.job_id))
