"""What a backfill of an example DAG should do, read from the DAG itself (no per-DAG tables).

For any DAG in ``dags/`` the plan holds three consecutive data intervals of its own
timetable (ending at or before a fixed anchor, so the synthetic vendor data is the same on
every run) and the tasks that must defer: the vendor export operators built on
:class:`~contact_center_provider.operators.export_job.VendorExportJobOperator` with
``deferrable=True`` (they always defer once their job is submitted).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .airflow_stack import DAGS

#: Planned intervals end at or before this instant (the sandboxes' fixed-date data is there).
ANCHOR = datetime(2026, 11, 2, tzinfo=UTC)


@dataclass(frozen=True)
class BackfillPlan:
    dag_id: str
    intervals: list[tuple[datetime, datetime]]
    logical_dates: list[datetime]
    deferring_tasks: list[str]

    @property
    def first_logical_date(self) -> datetime:
        return self.logical_dates[0]

    @property
    def last_logical_date(self) -> datetime:
        return self.logical_dates[-1]


def load_dag(dag_id: str) -> object:
    """The example DAG object, imported from ``dags/<dag_id>.py`` as Airflow would."""
    if str(DAGS) not in sys.path:
        sys.path.insert(0, str(DAGS))
    return importlib.import_module(dag_id).dag


def intervals_before(
    dag: object, anchor: datetime, count: int
) -> list[tuple[datetime, tuple[datetime, datetime]]]:
    """The last ``count`` ``(logical_date, (start, end))`` of the DAG's timetable ending by ``anchor``."""
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)  # type: ignore[attr-defined]
    # Airflow's timetables compute with pendulum instants.
    earliest = pendulum.instance(anchor - timedelta(days=count + 2))
    restriction = TimeRestriction(earliest=earliest, latest=None, catchup=True)
    found: list[tuple[datetime, tuple[datetime, datetime]]] = []
    last = None
    while True:
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None or info.data_interval.end > anchor:
            break
        found.append((info.logical_date, (info.data_interval.start, info.data_interval.end)))
        last = info.data_interval
    if len(found) < count:
        raise AssertionError(f"{dag.dag_id}: fewer than {count} intervals before {anchor}")  # type: ignore[attr-defined]
    return found[-count:]


def deferring_tasks(dag: object) -> list[str]:
    from contact_center_provider.operators.export_job import VendorExportJobOperator

    return sorted(
        task.task_id
        for task in dag.tasks  # type: ignore[attr-defined]
        if isinstance(task, VendorExportJobOperator) and task.deferrable and task.wait_for_completion
    )


def export_vendors(dag: object) -> set[str]:
    """The vendors the DAG's export tasks talk to."""
    from contact_center_provider.operators.export_job import VendorExportJobOperator

    return {
        str(task.vendor)
        for task in dag.tasks  # type: ignore[attr-defined]
        if isinstance(task, VendorExportJobOperator)
    }


def plan_backfill(dag_id: str, anchor: datetime = ANCHOR, count: int = 3) -> BackfillPlan:
    dag = load_dag(dag_id)
    found = intervals_before(dag, anchor, count)
    return BackfillPlan(
        dag_id=dag_id,
        intervals=[interval for _, interval in found],
        logical_dates=[logical for logical, _ in found],
        deferring_tasks=deferring_tasks(dag),
    )
