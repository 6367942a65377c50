"""DAGs driving the NICE CXone operators against the sandbox.

Output base and connection come from run params; polls and HTTP retries are short (the
connection's call spacing still applies to every call), so no test sleeps through a real backoff.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable

from contact_center_provider.hooks.nice_cxone import NICE_RETRY_POLICY
from contact_center_provider.operators.nice_cxone import NiceCxoneExportOperator, NiceCxoneTablesOperator
from contact_center_provider.sensors.nice_cxone import NiceCxoneJobSensor

PARAMS = {"base": "file:///nonexistent", "conn": "nice_test"}
BASE = "{{ params.base }}"
FAST: dict[str, Any] = {
    "poll_interval": 0.05,
    "max_poll_interval": 0.2,
    "timeout": 120,
    "retry_policy": {
        "max_attempts": 20,
        "initial_backoff": 0.01,
        "max_backoff": 0.05,
        "retry_statuses": sorted(NICE_RETRY_POLICY.retry_statuses),
        "resend_statuses": sorted(NICE_RETRY_POLICY.resend_statuses),
    },
}


def _dag(dag_id: str, cron: str) -> DAG:
    return DAG(
        dag_id,
        schedule=CronDataIntervalTimetable(cron, timezone="UTC"),
        start_date=datetime(2024, 1, 1),
        catchup=False,
        params=PARAMS,
        default_args={"retries": 0, "retry_delay": timedelta(seconds=0)},
    )


def _pair(**kwargs: Any) -> None:
    export = NiceCxoneExportOperator(
        task_id="export", conn_id="{{ params.conn }}", output_base_uri=BASE, deferrable=True, **FAST, **kwargs
    )
    export >> NiceCxoneTablesOperator(
        task_id="tables", raw_manifest=export.output, output_base_uri=BASE, formats=["parquet", "csv"]
    )


# A month of QM workflows in one run: split into requests of at most 14 days.
with _dag("nice_monthly_backfill", "0 0 1 * *") as monthly_dag:
    _pair()

# Hourly intervals are not whole UTC days: refused, unless widened.
with _dag("nice_hourly_refused", "0 * * * *") as hourly_dag:
    _pair()

with _dag("nice_hourly_widened", "0 * * * *") as widened_dag:
    _pair(widen_to_days=True)

# Another entity, landed and tabled as text without code.
with _dag("nice_recording_metadata", "0 0 * * *") as recording_dag:
    _pair(entity="recording-interaction-metadata", version="7")

# Submit only, then wait with the job sensor (deferred).
with _dag("nice_submit_then_sensor", "0 0 * * *") as sensor_dag:
    submit = NiceCxoneExportOperator(
        task_id="export",
        conn_id="{{ params.conn }}",
        output_base_uri=BASE,
        wait_for_completion=False,
        **FAST,
    )
    submit >> NiceCxoneJobSensor(
        task_id="wait",
        job_id="{{ ti.xcom_pull(task_ids='export', key='job_ids')[0] }}",
        nice_cxone_conn_id="{{ params.conn }}",
        deferrable=True,
        poke_interval=0.05,
        timeout=60,
        retry_policy=FAST["retry_policy"],
    )
