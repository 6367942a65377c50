"""Brightmetrics: a saved report for yesterday, as Parquet and CSV, every day.

Every day at 01:00 UTC, for the run's data interval (the previous day):

1. check the report's filters (``$metadata``), then request its data for the interval
   (``Call_Date_Time ge <start> and Call_Date_Time le <end - 1 s>``) as an asynchronous OData
   export, and wait, deferred, polling from the documented 5 s up to every 10 minutes;
2. land the result exactly as Brightmetrics sent it under
   ``{base}/raw/brightmetrics/agent_detail/...`` (the poll that ends waiting carries it);
3. turn it into the ``agent_detail`` table (Parquet and CSV) under
   ``{base}/tables/brightmetrics/agent_detail/...``.

A run costs about 3 requests plus the polls (about 10 for a 30-minute export) of the
company's 150 a day, counted where every worker and the triggerer see them; when they are
spent the export fails before sending, saying how many are left and when they free up.

The report is the vendor document's "Agent Detail" example unless ``CC_BRIGHTMETRICS_REPORT_ID``
names another; the connection id comes from ``CC_BRIGHTMETRICS_CONN_ID`` (default
``brightmetrics_default``) and, like the output base, can be overridden per run with params.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from cc_example_settings import BASE, OUTPUT_CONN_ID, PARAMS, RETRY_DELAY

from contact_center_provider.operators.brightmetrics import (
    BrightmetricsExportOperator,
    BrightmetricsTablesOperator,
)

BRIGHTMETRICS_CONN_ID = os.environ.get("CC_BRIGHTMETRICS_CONN_ID", "brightmetrics_default")
REPORT_ID = os.environ.get("CC_BRIGHTMETRICS_REPORT_ID", "6f40b845-fb28-4547-b73b-e11ce29f481b")

with DAG(
    dag_id="brightmetrics_report_export",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={
        **PARAMS,
        "brightmetrics_conn_id": Param(
            BRIGHTMETRICS_CONN_ID, type="string", description="Brightmetrics connection id"
        ),
    },
    # A retry resumes the stored export (it never requests a second one), so retries cost
    # only the polls they make.
    default_args={"retries": 1, "retry_delay": RETRY_DELAY},
    tags=["contact-center", "brightmetrics", "example"],
    doc_md=__doc__,
) as dag:
    export = BrightmetricsExportOperator(
        task_id="export",
        report_id=REPORT_ID,
        dataset="agent_detail",
        format="json",
        filters={"Media_Type": ["Voice", "Callback"]},
        conn_id="{{ params.brightmetrics_conn_id }}",
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        deferrable=True,
    )
    tables = BrightmetricsTablesOperator(
        task_id="tables",
        raw_manifest=export.output,
        table="agent_detail",
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        formats=["parquet", "csv"],
    )
    export >> tables
