"""Agent presence per day — the Open Data Exporter's presence report, as a DAG.

Every day (midnight in ``CC_TIMEZONE``), for the run's data interval:

1. wait (deferred) until the data lake covers the interval;
2. export every user's presence and routing-status records with an analytics *users*
   details job (deferrable);
3. land users and presence definitions (names and the org's own presence labels);
4. flatten into ``presence`` and ``routing_status`` tables (Parquet and CSV);
5. render the HTML report, with per-user totals and an inline SVG timeline, under
   ``{base}/reports/presence/interval_start=.../interval_end=.../presence.html``
   (an index; each agent's timeline and events in ``presence_files/``).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, CronDataIntervalTimetable
from cc_example_settings import BASE, GENESYS, OUTPUT_CONN_ID, PARAMS, RETRY_DELAY, TIMEZONE, table_input

from contact_center_provider.operators.genesys_cloud import GenesysCloudDetailsJobOperator
from contact_center_provider.operators.genesys_cloud_enrichment import GenesysCloudLookupsOperator
from contact_center_provider.operators.genesys_cloud_tables import GenesysCloudTablesOperator
from contact_center_provider.operators.render import RenderReportOperator
from contact_center_provider.sensors.genesys_cloud import GenesysCloudDataAvailabilitySensor

with DAG(
    dag_id="genesys_presence_report",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=TIMEZONE),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params=PARAMS,
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    tags=["contact-center", "genesys-cloud", "example"],
    doc_md=__doc__,
) as dag:
    wait_for_data = GenesysCloudDataAvailabilitySensor(
        task_id="wait_for_data",
        dataset="users",
        genesys_cloud_conn_id=GENESYS,
        deferrable=True,
        poke_interval=60,
        timeout=6 * 3600,
    )
    export = GenesysCloudDetailsJobOperator(
        task_id="export_user_details",
        dataset="users",
        availability="fail",
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        genesys_cloud_conn_id=GENESYS,
        deferrable=True,
    )
    lookups = GenesysCloudLookupsOperator(
        task_id="lookups",
        lookups=["users", "presence_definitions"],
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        genesys_cloud_conn_id=GENESYS,
    )
    tables = GenesysCloudTablesOperator(
        task_id="tables",
        raw_manifest=export.output,
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        formats=["parquet", "csv"],
    )
    report = RenderReportOperator(
        task_id="render_presence",
        report="presence",
        inputs={
            "presence": table_input("tables", "presence"),
            "routing_status": table_input("tables", "routing_status"),
            "users": "{{ ti.xcom_pull(task_ids='lookups')['users']['uri'] }}",
            "presence_definitions": "{{ ti.xcom_pull(task_ids='lookups')['presence_definitions']['uri'] }}",
        },
        output_base_uri=BASE,
        report_params={"job_name": "Presence"},
        conn_id=OUTPUT_CONN_ID,
    )
    wait_for_data >> export >> tables >> report
    lookups >> report
