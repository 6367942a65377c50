"""DAGs that exercise the shared export framework (through Genesys Cloud, its worked example).

Output base and connection come from run params; polls and HTTP retries are short, so
no test sleeps through a real backoff.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable

from contact_center_provider.operators.genesys_cloud import GenesysCloudDetailsJobOperator
from contact_center_provider.operators.genesys_cloud_enrichment import GenesysCloudLookupsOperator
from contact_center_provider.operators.genesys_cloud_tables import GenesysCloudTablesOperator

PARAMS = {"base": "file:///nonexistent", "conn": "genesys_sandbox"}
TO_SANDBOX = {"output_base_uri": "{{ params.base }}", "genesys_cloud_conn_id": "{{ params.conn }}"}
FAST = {
    "poll_interval": 0.05,
    "max_poll_interval": 0.2,
    "timeout": 60,
    "retry_policy": {"max_attempts": 2, "initial_backoff": 0.01, "max_backoff": 0.02},
}


def _dag(dag_id: str, cron: str = "0 0 * * *", retries: int = 0) -> DAG:
    return DAG(
        dag_id,
        schedule=CronDataIntervalTimetable(cron, timezone="UTC"),
        start_date=datetime(2024, 1, 1),
        catchup=False,
        params=PARAMS,
        default_args={"retries": retries, "retry_delay": timedelta(seconds=0)},
    )


def _export(**kwargs: object) -> GenesysCloudDetailsJobOperator:
    return GenesysCloudDetailsJobOperator(
        task_id="export",
        **TO_SANDBOX,
        availability="ignore",
        deferrable=True,
        page_size=100,
        **FAST,
        **kwargs,
    )


# Retries would resubmit a job the vendor may already have: the framework must not retry.
with _dag("fw_ambiguous_submit", retries=2) as ambiguous_dag:
    _export()

for grain, cron in (("hourly", "0 * * * *"), ("daily", "0 0 * * *")):
    with _dag(f"fw_{grain}", cron) as grain_dag:
        _export()
    globals()[grain_dag.dag_id] = grain_dag

with _dag("fw_export_then_tables") as export_then_tables_dag:
    GenesysCloudTablesOperator(
        task_id="tables", raw_manifest=_export().output, output_base_uri="{{ params.base }}"
    )

# The presence tables must come out the same whichever runs first, the users lookup or the
# users details export (they used to share, and clear, one raw prefix).
for order in ("lookup_first", "export_first"):
    with _dag(f"fw_presence_{order}") as presence_dag:
        export = _export(dataset="users")
        lookups = GenesysCloudLookupsOperator(task_id="lookups", lookups=["users"], **TO_SANDBOX)
        tables = GenesysCloudTablesOperator(
            task_id="tables", raw_manifest=export.output, output_base_uri="{{ params.base }}"
        )
        if order == "lookup_first":
            lookups >> export >> tables
        else:
            export >> lookups >> tables
    globals()[presence_dag.dag_id] = presence_dag

# Hourly, re-exporting the two previous hours each run so conversations still open when their
# hour was first exported reach the tables in their final state.
with _dag("fw_restated_hourly", cron="0 * * * *") as restated_dag:
    GenesysCloudTablesOperator(
        task_id="tables",
        raw_manifest=_export(restatement=timedelta(hours=2)).output,
        output_base_uri="{{ params.base }}",
    )
