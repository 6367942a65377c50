"""DAGs driving the Brightmetrics operators against the sandbox (discovery, formats, bad data).

The connection and output base come from run params; polls and HTTP retries are short, so
no test sleeps through a real backoff.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable

from contact_center_provider.operators.brightmetrics import (
    BrightmetricsDiscoveryOperator,
    BrightmetricsExportOperator,
    BrightmetricsTablesOperator,
)

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
PARAMS = {"base": "file:///nonexistent", "conn": "bm_test"}
BASE = "{{ params.base }}"
FAST: dict[str, Any] = {
    "poll_interval": 0.01,
    "first_poll_delay": 0.01,
    "max_poll_interval": 0.05,
    "timeout": 60,
    "retry_policy": {"max_attempts": 2, "initial_backoff": 0.01, "max_backoff": 0.02},
}


def _dag(dag_id: str) -> DAG:
    return DAG(
        dag_id,
        schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
        start_date=datetime(2024, 1, 1),
        catchup=False,
        params=PARAMS,
        default_args={"retries": 0, "retry_delay": timedelta(seconds=0)},
    )


with _dag("bm_discovery") as discovery_dag:
    BrightmetricsDiscoveryOperator(task_id="reports", conn_id="{{ params.conn }}")
    BrightmetricsDiscoveryOperator(
        task_id="filters",
        conn_id="{{ params.conn }}",
        report_id=AGENT_DETAIL,
        required_filters=["Call_Date_Time", "Media_Type"],
    )
    BrightmetricsDiscoveryOperator(
        task_id="missing_filter",
        conn_id="{{ params.conn }}",
        report_id=AGENT_DETAIL,
        required_filters=["Queue_Name"],
    )


def _export_and_tables(dag_id: str, fmt: str, **tables: Any) -> DAG:
    with _dag(dag_id) as dag:
        export = BrightmetricsExportOperator(
            task_id="export",
            report_id=CALLER_ID,
            dataset="caller_id",
            format=fmt,
            conn_id="{{ params.conn }}",
            output_base_uri=BASE,
            deferrable=True,
            **FAST,
        )
        export >> BrightmetricsTablesOperator(
            task_id="tables", raw_manifest=export.output, output_base_uri=BASE, formats=["parquet"], **tables
        )
    return dag


xlsx_dag = _export_and_tables("bm_xlsx", "xlsx", column_types={"Call_Duration": "float64"})
csv_typed_dag = _export_and_tables("bm_csv_typed", "csv", column_types={"Call_Type": "int64"})
