"""Genesys CDDS: yesterday's contact history (interactions and contacts) as tables, every day.

CDDS exports on the schedule set in its console; this DAG follows two scheduled Contact
History jobs (types Interaction and Contact, both run daily at 00:00 UTC) and, for the
run's data interval (the previous UTC day), per job:

1. waits, deferred, until the export CDDS created at the interval's end is listed in
   the export history with every part of its split set (``GenesysCddsArtifactSensor``);
2. downloads every S/MIME-encrypted part unchanged into
   ``{base}/raw/genesys_cdds/{interactions|contacts}/...``;
3. decrypts the parts with the connection's private key (in memory / through pipes, never
   on disk), rejoins the split zip, extracts it under size and ratio limits, and writes
   ``interactions``, ``documents`` and ``enum_labels`` (or ``contacts`` and
   ``contact_attributes``) tables under ``{base}/tables/genesys_cdds/...``.

The connection id comes from ``CC_CDDS_CONN_ID`` (default ``genesys_cdds_default``), the
job titles from ``CC_CDDS_INTERACTION_JOB`` / ``CC_CDDS_CONTACT_JOB`` (the sandbox's by
default); all can be overridden per run with params.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from cc_example_settings import BASE, OUTPUT_CONN_ID, PARAMS, RETRY_DELAY

from contact_center_provider.operators.genesys_cdds import (
    GenesysCddsExportOperator,
    GenesysCddsTablesOperator,
)
from contact_center_provider.sensors.genesys_cdds import GenesysCddsArtifactSensor

CDDS_CONN_ID = os.environ.get("CC_CDDS_CONN_ID", "genesys_cdds_default")
JOBS = {
    "interactions": os.environ.get("CC_CDDS_INTERACTION_JOB", "Contact History - Interactions"),
    "contacts": os.environ.get("CC_CDDS_CONTACT_JOB", "Contact History - Contacts"),
}

with DAG(
    dag_id="genesys_cdds_contact_history",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={
        **PARAMS,
        "cdds_conn_id": Param(CDDS_CONN_ID, type="string", description="Genesys CDDS connection id"),
        **{
            f"{dataset}_job": Param(title, type="string", description=f"Title of the CDDS {dataset} job")
            for dataset, title in JOBS.items()
        },
    },
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    tags=["contact-center", "genesys-cdds", "example"],
    doc_md=__doc__,
) as dag:
    for dataset in JOBS:
        title = f"{{{{ params.{dataset}_job }}}}"
        wait = GenesysCddsArtifactSensor(
            task_id=f"wait_{dataset}",
            conn_id="{{ params.cdds_conn_id }}",
            dataset=dataset,
            job_title=title,
            deferrable=True,
            poke_interval=60,
            timeout=12 * 3600,
        )
        export = GenesysCddsExportOperator(
            task_id=f"export_{dataset}",
            conn_id="{{ params.cdds_conn_id }}",
            dataset=dataset,
            job_title=title,
            output_base_uri=BASE,
            output_conn_id=OUTPUT_CONN_ID,
            deferrable=True,
            timeout=3600,
        )
        tables = GenesysCddsTablesOperator(
            task_id=f"tables_{dataset}",
            conn_id="{{ params.cdds_conn_id }}",
            raw_manifest=export.output,
            output_base_uri=BASE,
            output_conn_id=OUTPUT_CONN_ID,
            formats=["parquet", "csv"],
        )
        wait >> export >> tables
