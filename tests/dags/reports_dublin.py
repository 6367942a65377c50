"""A report DAG on a Europe/Dublin timetable, run by the report tests with ``dag.test()``.

No task sets ``time_zone=``: every report must take Dublin from the timetable. Input
tables and the output base come from run params, so a test writes its own Parquet.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, CronDataIntervalTimetable

from contact_center_provider.operators.render import RenderReportOperator

PARAMS = {"tables": "/nonexistent", "base": "file:///nonexistent"}


def _inputs(*names: str) -> dict[str, str]:
    return {name: "{{ params.tables }}/" + name for name in names}


with DAG(
    "test_reports_dublin",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="Europe/Dublin"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params=PARAMS,
) as dag:
    RenderReportOperator(
        task_id="presence",
        report="presence",
        inputs=_inputs("presence", "routing_status", "users", "presence_definitions"),
        output_base_uri="{{ params.base }}",
        report_params={"job_name": "Presence"},
    )
    RenderReportOperator(
        task_id="call_detail",
        report="call_detail",
        inputs=_inputs(
            "conversations", "participants", "sessions", "participant_attributes", "session_metrics"
        ),
        output_base_uri="{{ params.base }}",
        report_params={"page_size": 2},
    )
    RenderReportOperator(
        task_id="abandons",
        report="abandons",
        inputs=_inputs("conversations", "participants", "sessions"),
        output_base_uri="{{ params.base }}",
        report_params={"company": "Dublin Co"},
    )
