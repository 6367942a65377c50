"""Genesys CDDS: wait, deferred, until the interval's export artifacts are all there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contact_center_provider.hooks.genesys_cdds import GenesysCddsHook
from contact_center_provider.hooks.genesys_cdds_history import artifact_params
from contact_center_provider.jobs import JobRef
from contact_center_provider.operators._common import resolve_interval
from contact_center_provider.sensors.export_job import VendorJobSensor


class GenesysCddsArtifactSensor(VendorJobSensor):
    """Wait until the interval's CDDS export is listed (history or location) with every part.

    Succeeds once the split set is complete (``.z01`` … ``.zNN`` and ``.zip``); fails at once
    when the history marks the run failed, or when the export would be older than CDDS's
    30-day retention and is not there. Same parameters as
    :class:`~contact_center_provider.operators.genesys_cdds.GenesysCddsExportOperator`
    (``dataset``, ``job_title`` or ``location_uri``...), plus ``interval_start`` /
    ``interval_end`` overrides (templated) and those of
    :class:`~contact_center_provider.sensors.export_job.VendorJobSensor`.
    """

    hook_class = GenesysCddsHook
    template_fields: Sequence[str] = (
        *VendorJobSensor.template_fields,
        "job_params",
        "interval_start",
        "interval_end",
    )
    template_fields_renderers = {"job_params": "json"}

    def __init__(
        self,
        *,
        dataset: str = "interactions",
        job_title: str | None = None,
        location_uri: str | None = None,
        location_conn_id: str | None = None,
        export_id: str | None = None,
        title_match: str = "exact",
        created_offset_seconds: float = 0,
        created_window_seconds: float | None = None,
        interval_start: str | datetime | None = None,
        interval_end: str | datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.job_params = artifact_params(
            job_title=job_title,
            location_uri=location_uri,
            location_conn_id=location_conn_id,
            export_id=export_id,
            title_match=title_match,
            created_offset_seconds=created_offset_seconds,
            created_window_seconds=created_window_seconds,
        )
        self.interval_start = interval_start
        self.interval_end = interval_end

    def job(self, context: Mapping[str, Any]) -> JobRef:
        start, end = resolve_interval(context, self.interval_start, self.interval_end, task_id=self.task_id)
        ref: JobRef = self.hook.submit_job(self.dataset, start, end, self.job_params)
        return ref

    def describe(self, job: JobRef) -> str:
        return f"Genesys CDDS {job.get('kind')} export {job.get('job_id')}"
