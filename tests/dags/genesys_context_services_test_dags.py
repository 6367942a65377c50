"""DAGs driving the Genesys Context Services operators against the sandbox (fault scenarios).

Output base and connection come from run params; polls and HTTP retries are short, so no
test sleeps through a real backoff.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable

from contact_center_provider.operators.genesys_context_services import (
    GenesysContextServicesExportOperator,
    GenesysContextServicesTablesOperator,
)
from contact_center_provider.sandbox.genesys_context_services import ATTACHED_DATA_KEYS

PARAMS = {"base": "file:///nonexistent", "conn": "gms_test"}
BASE = "{{ params.base }}"
FAST: dict[str, Any] = {
    "poll_interval": 0.05,
    "max_poll_interval": 0.2,
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


def _export(**kwargs: Any) -> GenesysContextServicesExportOperator:
    return GenesysContextServicesExportOperator(
        task_id="export", conn_id="{{ params.conn }}", output_base_uri=BASE, deferrable=True, **FAST, **kwargs
    )


def _tables(
    export: GenesysContextServicesExportOperator, **kwargs: Any
) -> GenesysContextServicesTablesOperator:
    return GenesysContextServicesTablesOperator(
        task_id="tables", raw_manifest=export.output, output_base_uri=BASE, **kwargs
    )


# CSV, zip, ';' with the attached-data keys the sandbox writes declared: the tables come out.
with _dag("gms_csv_declared") as csv_declared_dag:
    _tables(
        _export(format="csv", compression="zip", separator=";"), csv_attached_data_keys=ATTACHED_DATA_KEYS
    )

# The same CSV without declaring them: every row has 5 fields too many -> the tables task fails.
with _dag("gms_csv_undeclared") as csv_undeclared_dag:
    _tables(_export(format="csv", compression="zip", separator=";"))

# JSON + gzip: the preferred shape; also the scenario for files still being written.
with _dag("gms_json_gzip") as json_gzip_dag:
    _tables(_export(format="json", compression="gzip"))

# A file GMS announced never appears: fail quickly instead of waiting for the 60 s timeout.
with _dag("gms_missing_file") as missing_file_dag:
    _export(missing_file_timeout=0.5)
