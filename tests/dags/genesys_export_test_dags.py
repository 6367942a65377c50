"""DAGs the Genesys Cloud tests run with ``dag.test()``.

They live in their own DAG bundle (see tests/conftest.py) because ``dag.test()`` syncs
the DAG from its bundle before running it. Output base and connection come from run
params; poll intervals are short so the sandbox's job progression is quick.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable

from contact_center_provider.operators.genesys_cloud import (
    GenesysCloudDetailsJobOperator,
    GenesysCloudDetailsQueryOperator,
)
from contact_center_provider.operators.genesys_cloud_enrichment import GenesysCloudEnrichmentOperator
from contact_center_provider.operators.genesys_cloud_tables import GenesysCloudTablesOperator
from contact_center_provider.sensors.genesys_cloud import GenesysCloudJobSensor

PARAMS = {"base": "file:///nonexistent", "conn": "genesys_sandbox", "availability": "wait"}
#: Every operator writes under the run's ``base`` param and talks to its ``conn`` param.
TO_SANDBOX = {"output_base_uri": "{{ params.base }}", "genesys_cloud_conn_id": "{{ params.conn }}"}
FAST_POLLS = {"poll_interval": 0.05, "max_poll_interval": 0.2, "timeout": 60}


def _dag(dag_id: str, retries: int = 0) -> DAG:
    return DAG(
        dag_id,
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
        start_date=datetime(2024, 1, 1),
        catchup=False,
        params=PARAMS,
        default_args={"retries": retries, "retry_delay": timedelta(seconds=0)},
    )


for deferrable in (True, False):
    with _dag(f"test_genesys_job_{'deferrable' if deferrable else 'sync'}") as dag:
        export = GenesysCloudDetailsJobOperator(
            task_id="export",
            **TO_SANDBOX,
            deferrable=deferrable,
            availability="ignore",
            page_size=100,
            **FAST_POLLS,
        )
        GenesysCloudEnrichmentOperator(
            task_id="enrich",
            conversations_manifest=export.output,
            **TO_SANDBOX,
        )
    globals()[dag.dag_id] = dag

with _dag("test_genesys_job_retry", retries=1) as retry_dag:
    GenesysCloudDetailsJobOperator(
        task_id="export",
        **TO_SANDBOX,
        deferrable=True,
        availability="ignore",
        page_size=100,
        **FAST_POLLS,
    )

with _dag("test_genesys_availability") as availability_dag:
    GenesysCloudDetailsJobOperator(
        task_id="export",
        **TO_SANDBOX,
        deferrable=True,
        availability="fail",
        **FAST_POLLS,
    )

with _dag("test_genesys_query") as query_dag:
    query_export = GenesysCloudDetailsQueryOperator(
        task_id="export",
        **TO_SANDBOX,
        # Nine days: more than one unfiltered query may cover (7 days).
        interval_start="{{ data_interval_end - macros.timedelta(days=9) }}",
    )
    GenesysCloudEnrichmentOperator(
        task_id="enrich",
        conversations_manifest=query_export.output,
        **TO_SANDBOX,
    )

JOB_ID = "{{ ti.xcom_pull(task_ids='submit', key='job_ids')[0] }}"

with _dag("test_genesys_submit_then_sense") as split_dag:
    submit = GenesysCloudDetailsJobOperator(
        task_id="submit",
        **TO_SANDBOX,
        availability="ignore",
        wait_for_completion=False,
    )
    sense = GenesysCloudJobSensor(
        task_id="wait",
        job_id=JOB_ID,
        genesys_cloud_conn_id="{{ params.conn }}",
        deferrable=True,
        poke_interval=0.05,
        timeout=60,
    )
    download = GenesysCloudDetailsJobOperator(
        task_id="download",
        job_id=JOB_ID,
        **TO_SANDBOX,
        availability="ignore",
        page_size=100,
        **FAST_POLLS,
    )
    submit >> sense >> download

with _dag("test_genesys_query_tables") as query_tables_dag:
    # 8.5 days starting at noon: the 7-day pieces cannot all be cut at the interval's edges.
    noon_export = GenesysCloudDetailsQueryOperator(
        task_id="export",
        **TO_SANDBOX,
        interval_start="{{ data_interval_end - macros.timedelta(days=8, hours=12) }}",
    )
    GenesysCloudTablesOperator(
        task_id="tables", raw_manifest=noon_export.output, output_base_uri="{{ params.base }}"
    )
