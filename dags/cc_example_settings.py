"""Settings shared by the example DAGs, read from the environment at parse time (no network).

``CC_OUTPUT_BASE_URI``  where the raw, tables and reports zones go (default: a local folder)
``CC_OUTPUT_CONN_ID``   storage connection for it (e.g. an AWS connection for s3://)
``CC_GENESYS_CONN_ID``  the Genesys Cloud connection (default ``genesys_cloud_default``)
``CC_TIMEZONE``         the zone reports are aligned to and printed in (default UTC)
``CC_COMPANY``          company name printed on the abandon report (default: the org's name)
``CC_RETRY_DELAY_SECONDS``  wait before a task's automatic retry (default 120; a retry resumes
                        its stored vendor job, so a short delay costs no second job)

Every value is also a DAG param, so one run can override it (``-c '{"output_base_uri": ...}'``).
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Param

OUTPUT_BASE_URI = os.environ.get("CC_OUTPUT_BASE_URI", "file:///tmp/contact-center")
OUTPUT_CONN_ID = os.environ.get("CC_OUTPUT_CONN_ID") or None
GENESYS_CONN_ID = os.environ.get("CC_GENESYS_CONN_ID", "genesys_cloud_default")
TIMEZONE = os.environ.get("CC_TIMEZONE", "UTC")
COMPANY = os.environ.get("CC_COMPANY", "")
RETRY_DELAY = timedelta(seconds=float(os.environ.get("CC_RETRY_DELAY_SECONDS", "120")))

PARAMS = {
    "output_base_uri": Param(OUTPUT_BASE_URI, type="string", description="Base URI of the data zones"),
    "genesys_conn_id": Param(GENESYS_CONN_ID, type="string", description="Genesys Cloud connection id"),
}

#: Templated values the tasks use, so a run's params override the environment defaults.
BASE = "{{ params.output_base_uri }}"
GENESYS = "{{ params.genesys_conn_id }}"


def table_input(tables_task_id: str, table: str) -> str:
    """Template resolving to the Parquet URI the tables task wrote for ``table``."""
    return f"{{{{ ti.xcom_pull(task_ids='{tables_task_id}')['tables']['{table}']['parquet'] }}}}"
