"""Abandoned calls per hour — the Open Data Exporter's abandon report, as a DAG.

Every hour (aligned to ``CC_TIMEZONE``), for the run's data interval:

1. wait (deferred) until Genesys Cloud's data lake covers the interval;
2. export, through an analytics conversation details job, the voice conversations whose
   ACD segment ended with the caller hanging up (``disconnectType=peer``, ``purpose=acd``);
3. land the organization's name;
4. flatten the pages into Parquet and CSV tables;
5. render the pipe-delimited abandon file under
   ``{base}/reports/abandons/interval_start=.../interval_end=.../abandons.txt``.

Re-running an interval rewrites the same objects. Connections and the output base come
from ``cc_example_settings`` (environment) and can be overridden per run with params.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable
from cc_example_settings import (
    BASE,
    COMPANY,
    GENESYS,
    OUTPUT_CONN_ID,
    PARAMS,
    RETRY_DELAY,
    TIMEZONE,
    table_input,
)

from contact_center_provider.operators.genesys_cloud import GenesysCloudDetailsJobOperator
from contact_center_provider.operators.genesys_cloud_enrichment import GenesysCloudLookupsOperator
from contact_center_provider.operators.genesys_cloud_tables import GenesysCloudTablesOperator
from contact_center_provider.operators.render import RenderReportOperator
from contact_center_provider.sensors.genesys_cloud import GenesysCloudDataAvailabilitySensor

#: The original's selection: an ACD segment disconnected by the remote party, on voice.
ABANDON_QUERY = {
    "segmentFilters": [
        {
            "type": "and",
            "clauses": [
                {
                    "type": "and",
                    "predicates": [
                        {
                            "type": "dimension",
                            "dimension": "disconnectType",
                            "operator": "matches",
                            "value": "peer",
                        },
                        {"type": "dimension", "dimension": "purpose", "operator": "matches", "value": "acd"},
                    ],
                },
                {
                    "type": "and",
                    "predicates": [
                        {
                            "type": "dimension",
                            "dimension": "mediaType",
                            "operator": "matches",
                            "value": "voice",
                        }
                    ],
                },
            ],
        }
    ]
}

with DAG(
    dag_id="genesys_abandon_report",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone=TIMEZONE),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params=PARAMS,
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    tags=["contact-center", "genesys-cloud", "example"],
    doc_md=__doc__,
) as dag:
    wait_for_data = GenesysCloudDataAvailabilitySensor(
        task_id="wait_for_data",
        dataset="conversations",
        genesys_cloud_conn_id=GENESYS,
        deferrable=True,
        poke_interval=60,
        timeout=6 * 3600,
    )
    export = GenesysCloudDetailsJobOperator(
        task_id="export_abandons",
        export_name="abandons",
        dataset="conversations",
        query=ABANDON_QUERY,
        availability="fail",  # the sensor above already waited
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        genesys_cloud_conn_id=GENESYS,
        deferrable=True,
    )
    lookups = GenesysCloudLookupsOperator(
        task_id="lookups",
        lookups=["organization"],
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
        task_id="render_abandons",
        report="abandons",
        inputs={name: table_input("tables", name) for name in ("conversations", "participants", "sessions")},
        output_base_uri=BASE,
        report_params={
            "company": COMPANY or "{{ ti.xcom_pull(task_ids='lookups')['organization']['name'] }}",
        },
        conn_id=OUTPUT_CONN_ID,
        outlets=[Asset(name="genesys_abandon_report")],
    )
    wait_for_data >> export >> tables >> report
    lookups >> report
