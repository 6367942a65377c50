"""NICE CXone QM Workflows: yesterday's evaluations, self-assessments and calibrations as tables.

Every day at 00:00 UTC, for the run's data interval (the previous UTC day):

1. wait 30 minutes after the day's end (NICE: new data can take that long to appear), deferred;
2. ask NICE CXone's Data Extraction API for the ``qm-workflows`` (version 1) rows submitted that
   day, wait for the job, deferred, and stream its CSV unchanged into
   ``{base}/raw/nice_cxone/qm_workflows/...``;
3. turn it into the ``qm_workflows`` table (37 typed columns, Parquet and CSV) under
   ``{base}/tables/nice_cxone/qm_workflows/...``.

NICE allows one call per 30 seconds per tenant: every call of every task waits for the tenant's
shared gate, so run the export in a pool of one slot per tenant (``CC_NICE_CXONE_POOL``, e.g.
``airflow pools set nice_cxone_acme 1 "NICE CXone tenant acme"``). A backfill over months splits
into requests of at most 14 days. The connection id comes from ``CC_NICE_CXONE_CONN_ID``
(default ``nice_cxone_default``) and, like the output base, can be overridden per run with params.
See docs/nice_cxone.md.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from cc_example_settings import BASE, OUTPUT_CONN_ID, PARAMS, RETRY_DELAY

from contact_center_provider.operators.nice_cxone import NiceCxoneExportOperator, NiceCxoneTablesOperator

NICE_CONN_ID = os.environ.get("CC_NICE_CXONE_CONN_ID", "nice_cxone_default")
NICE_POOL = os.environ.get("CC_NICE_CXONE_POOL", "default_pool")

with DAG(
    dag_id="nice_cxone_qm_workflows",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={
        **PARAMS,
        "nice_cxone_conn_id": Param(NICE_CONN_ID, type="string", description="NICE CXone connection id"),
    },
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    tags=["contact-center", "nice-cxone", "example"],
    doc_md=__doc__,
) as dag:
    export = NiceCxoneExportOperator(
        task_id="export",
        conn_id="{{ params.nice_cxone_conn_id }}",
        entity="qm-workflows",
        version="1",
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        deferrable=True,
        pool=NICE_POOL,
        # The tenant's gate stretches polls to its spacing (30 s) anyway; short here for the sandbox.
        poll_interval=10,
        max_poll_interval=120,
        timeout=6 * 3600,
    )
    tables = NiceCxoneTablesOperator(
        task_id="tables",
        raw_manifest=export.output,
        output_base_uri=BASE,
        output_conn_id=OUTPUT_CONN_ID,
        formats=["parquet", "csv"],
    )
    export >> tables
