"""Pieces every operator shares: the interval, the deferrable default, event handling, asset events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import Asset, conf

from contact_center_provider.exceptions import (
    ExportJobApiError,
    ExportJobFailed,
    ExportJobTimeout,
    IntervalError,
)
from contact_center_provider.triggers.events import EventKind, JobEvent


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, the switch every official provider honours."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def as_utc_datetime(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise IntervalError(f"{name}={value!r} is not an ISO-8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise IntervalError(f"{name}={value!r} has no time zone; give an offset or Z")
    utc = parsed.astimezone(UTC)
    # A plain datetime, not a pendulum one from the context: their arithmetic differs.
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )


def resolve_interval(
    context: Mapping[str, Any], start: Any = None, end: Any = None, *, task_id: str = "task"
) -> tuple[datetime, datetime]:
    """The export interval: explicit ``start``/``end`` if given, else the run's data interval.

    A run triggered without a logical date has no data interval; we fail with what to
    do instead of exporting a guessed window.
    """
    start = start if start not in (None, "") else context.get("data_interval_start")
    end = end if end not in (None, "") else context.get("data_interval_end")
    if start is None or end is None:
        raise IntervalError(
            f"{task_id}: this run has no data interval (it was triggered without a logical date). "
            "Trigger it with a logical date, or set interval_start and interval_end."
        )
    s, e = as_utc_datetime(start, "interval_start"), as_utc_datetime(end, "interval_end")
    if e <= s:
        raise IntervalError(
            f"{task_id}: empty interval {s.isoformat()} .. {e.isoformat()}. Schedule the DAG with a "
            "data-interval timetable (CronDataIntervalTimetable), not a bare cron string."
        )
    return s, e


def raise_for_event(event: JobEvent, what: str) -> None:
    """Turn a job poll event into the matching error; return quietly on success.

    :param what: how to name the job in messages, e.g. ``"Genesys Cloud conversations job 1234"``.
    """
    if event.succeeded:
        return
    if event.kind is EventKind.TIMEOUT:
        raise ExportJobTimeout(
            f"{what}: {event.message} Raise the operator's timeout if the job is just slow."
        )
    if event.kind is EventKind.API_ERROR:
        raise ExportJobApiError(f"{what}: the vendor API refused to report its state: {event.message}")
    outcome = event.outcome.value if event.outcome else "?"
    detail = f": {event.message}" if event.message else ""
    advice = {
        "FAILED": "Check the query; the task's retry submits a new job.",
        "CANCELLED": "Someone or something cancelled it; the task's retry submits a new job.",
        "EXPIRED": "Its results expired before they were downloaded; the task's retry submits a new job.",
    }.get(outcome, "")
    raise ExportJobFailed(
        f"{what} ended {outcome} (vendor state {event.vendor_state}){detail}. {advice}".strip()
    )


def zone_asset(kind: str, vendor_or_report: str, name: str) -> Asset:
    """The asset an operator declares in ``outlets`` for what it writes, e.g.
    ``contact_center/raw/genesys_cloud/conversations``.

    ``kind`` is ``raw``, ``tables`` or ``reports``. The asset is named for the dataset, not for
    its storage URI: the base URI is templated (known only at run time), and an asset Airflow
    first meets at run time (through an ``AssetAlias``) is created by whichever task reports it
    first, so two tasks doing that at once collide on its unique index and Airflow fails one of
    them. A static asset is created when the DAG is parsed; the storage URI travels in each
    event's ``extra["uri"]``. Consumers schedule on ``Asset.ref(name=...)``.
    """
    return Asset(name=f"contact_center/{kind}/{vendor_or_report}/{name}")


def emit_asset_event(context: Mapping[str, Any], asset: Asset, uri: str, extra: dict[str, Any]) -> None:
    """Describe this run's asset event: ``uri`` is where the dataset, table set or report lives
    (all its partitions); ``extra`` says what consumers filter on (rows, interval, export, jobs).

    One event per task run; the partition is in ``extra``, because partition-level assets would
    flood the asset list (one per hour).
    """
    events = context.get("outlet_events")
    if events is None:
        return
    events[asset].extra = {"uri": uri, **extra}


def lineage_dataset(uri: str) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of a storage URI (``s3://bucket`` + key; ``file`` + path)."""
    scheme, _, rest = uri.partition("://")
    if scheme == "file" or not rest:
        return "file", "/" + (rest or uri).lstrip("/")
    bucket, _, key = rest.partition("/")
    return f"{scheme}://{bucket}", key or "/"


class LineageMixin:
    """OpenLineage facets from what the operator recorded while it ran (``lineage_inputs``/``outputs``).

    Imported lazily: the provider works without the ``openlineage`` extra. With deferral,
    ``get_openlineage_facets_on_complete`` runs after ``execute_complete`` on the worker, so
    what the landing recorded is there.
    """

    lineage_inputs: list[str]
    lineage_outputs: list[str]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        def datasets(uris: list[str]) -> list[Any]:
            return [Dataset(namespace=ns, name=name) for ns, name in map(lineage_dataset, uris)]

        return OperatorLineage(
            inputs=datasets(getattr(self, "lineage_inputs", [])),
            outputs=datasets(getattr(self, "lineage_outputs", [])),
        )
