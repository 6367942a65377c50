"""Genesys Context Services: yesterday's services, states and tasks as tables, every day.

Every day at 00:00 UTC, for the run's data interval (the previous day):

1. ask GMS to export the services with a start or an end event in the interval
   (``POST /genesys/1/cs/maintenance/services/files``, JSON, gzip) and wait, deferred, until
   the three files it announces are complete at the connection's ``files_base_url``;
2. copy them unchanged into ``{base}/raw/genesys_context_services/services/...``;
3. turn them into ``services``, ``states``, ``tasks`` and ``attached_data`` tables (Parquet
   and CSV) under ``{base}/tables/genesys_context_services/...``.

``filter_state`` is left at ``any``: GMS evaluates the state at export time, so an
``active`` export of an old interval, re-run later, would return other services (see
docs/genesys_context_services.md). The connection id comes from ``CC_GMS_CONN_ID``
(default ``genesys_context_services_default``) and, like the output base, can be
overridden per run with params.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from cc_example_settings import BASE, OUTPUT_CONN_ID, PARAMS, RETRY_DELAY

from contact_center_provider.operators.genesys_context_services import (
    GenesysContextServicesExportOperator,
    GenesysContextServicesTablesOperator,
)

GMS_CONN_ID = os.environ.get("CC_GMS_CONN_ID", "genesys_context_services_default")

with DAG(
    dag_id="genesys_context_services_export",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={
        **PARAMS,
        "gms_conn_id": Param(
            GMS_CONN_ID, type="string", description="Genesys Context Services connection id"
        ),
    },
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    tags=["contact-center", "genesys-context-services", "example"],
    doc_md=__doc__,
) as dag:
    export = GenesysContextServicesExportOperator(
        task_id="export",
        conn_id="{{ params.gms_conn_id }}",
        format="json",
        compression="gzip",
        filter_events="any",
        filter_state="any",
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        deferrable=True,
        poll_interval=2,
        timeout=6 * 3600,
    )
    tables = GenesysContextServicesTablesOperator(
        task_id="tables",
        raw_manifest=export.output,
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        formats=["parquet", "csv"],
    )
    export >> tables
