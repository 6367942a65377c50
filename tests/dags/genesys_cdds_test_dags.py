"""Genesys CDDS DAGs the tests drive: one dataset per DAG, base URI and connections from run_conf."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, CronDataIntervalTimetable

from contact_center_provider.operators.genesys_cdds import (
    GenesysCddsExportOperator,
    GenesysCddsTablesOperator,
)
from contact_center_provider.sensors.genesys_cdds import GenesysCddsArtifactSensor

FAST = {"max_attempts": 2, "initial_backoff": 0.01, "max_backoff": 0.05}
BASE = "{{ dag_run.conf['base'] }}"
CONN = "{{ dag_run.conf['conn'] }}"
OUT_CONN = "{{ dag_run.conf.get('out_conn') or '' }}"


def _dag(dag_id: str, dataset: str, title: str) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
        start_date=datetime(2026, 1, 1),
        catchup=False,
    ) as dag:
        wait = GenesysCddsArtifactSensor(
            task_id="wait",
            conn_id=CONN,
            dataset=dataset,
            job_title=title,
            deferrable=True,
            poke_interval=0.05,
            timeout=60,
            retry_policy=FAST,
        )
        export = GenesysCddsExportOperator(
            task_id="export",
            conn_id=CONN,
            dataset=dataset,
            job_title=title,
            output_base_uri=BASE,
            output_conn_id=OUT_CONN,
            deferrable=True,
            poll_interval=0.05,
            timeout=60,
            retry_policy=FAST,
        )
        tables = GenesysCddsTablesOperator(
            task_id="tables",
            conn_id=CONN,
            raw_manifest=export.output,
            output_base_uri=BASE,
            output_conn_id=OUT_CONN,
            formats=["parquet"],
        )
        wait >> export >> tables
    return dag


interactions_dag = _dag("cdds_test_interactions", "interactions", "Contact History - Interactions")
contacts_dag = _dag("cdds_test_contacts", "contacts", "Contact History - Contacts")
