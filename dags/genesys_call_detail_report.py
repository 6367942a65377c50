"""Call detail per hour — the Open Data Exporter's call detail report, as a DAG.

Every hour, for the run's data interval:

1. export voice ACD conversations with the synchronous details *query* API (fresh data,
   no wait for the data lake; long intervals are split within the API's limits);
2. fetch each conversation (``GET /api/v2/conversations/{id}``) for its participant
   attributes — the query results have none — concurrently within the token's budget;
3. flatten into Parquet and CSV tables (``participant_attributes`` from step 2);
4. render the HTML report under ``{base}/reports/call_detail/interval_start=.../interval_end=.../call_detail.html``
   (pages per hour in ``call_detail_files/`` past 500 conversations).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable
from cc_example_settings import BASE, GENESYS, OUTPUT_CONN_ID, PARAMS, RETRY_DELAY, TIMEZONE, table_input

from contact_center_provider.operators.genesys_cloud import GenesysCloudDetailsQueryOperator
from contact_center_provider.operators.genesys_cloud_enrichment import GenesysCloudEnrichmentOperator
from contact_center_provider.operators.genesys_cloud_tables import GenesysCloudTablesOperator
from contact_center_provider.operators.render import RenderReportOperator

#: The original's selection: conversations with a voice ACD segment.
CALL_DETAIL_QUERY = {
    "segmentFilters": [
        {
            "type": "or",
            "clauses": [
                {
                    "type": "and",
                    "predicates": [
                        {"type": "dimension", "dimension": "purpose", "operator": "matches", "value": "acd"},
                        {
                            "type": "dimension",
                            "dimension": "mediaType",
                            "operator": "matches",
                            "value": "voice",
                        },
                    ],
                }
            ],
        }
    ]
}

with DAG(
    dag_id="genesys_call_detail_report",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone=TIMEZONE),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params=PARAMS,
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    tags=["contact-center", "genesys-cloud", "example"],
    doc_md=__doc__,
) as dag:
    export = GenesysCloudDetailsQueryOperator(
        task_id="export_conversations",
        export_name="call_detail",
        dataset="conversations",
        query=CALL_DETAIL_QUERY,
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        genesys_cloud_conn_id=GENESYS,
    )
    enrich = GenesysCloudEnrichmentOperator(
        task_id="fetch_participant_attributes",
        conversations_manifest=export.output,
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        genesys_cloud_conn_id=GENESYS,
    )
    tables = GenesysCloudTablesOperator(
        task_id="tables",
        raw_manifest=export.output,
        entities_manifest=enrich.output,
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        formats=["parquet", "csv"],
    )
    report = RenderReportOperator(
        task_id="render_call_detail",
        report="call_detail",
        inputs={
            name: table_input("tables", name)
            for name in (
                "conversations",
                "participants",
                "sessions",
                "participant_attributes",
                "session_metrics",
            )
        },
        output_base_uri=BASE,
        conn_id=OUTPUT_CONN_ID,
        outlets=[Asset(name="genesys_call_detail_report")],
    )
    export >> enrich >> tables >> report
