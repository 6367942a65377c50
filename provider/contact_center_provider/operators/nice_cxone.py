"""NICE CXone Data Extraction: export an entity for the data interval, then tables from it.

See ``docs/nice_cxone.md`` for the connection, the call-spacing rule (use a pool of one slot
per tenant), the interval rules and the table columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from contact_center_provider.exceptions import IntervalError
from contact_center_provider.hooks.nice_cxone import DEFAULT_VERSIONS, NiceCxoneHook
from contact_center_provider.hooks.nice_cxone_wire import (
    DEFAULT_MAX_DAYS_PER_REQUEST,
    DEFAULT_SETTLE_MINUTES,
    settle_ref,
    split_interval,
)
from contact_center_provider.jobs import JobRef
from contact_center_provider.operators.export_job import VendorExportJobOperator
from contact_center_provider.operators.tables import TableRows, VendorTablesOperator
from contact_center_provider.transforms.nice_cxone_columns import is_typed_entity, table_name

if TYPE_CHECKING:
    import pyarrow as pa

#: Every poll costs one of the tenant's 30-second slots: poll gently.
POLL_INTERVAL = 60.0
MAX_POLL_INTERVAL = 300.0


class NiceCxoneExportOperator(VendorExportJobOperator):
    """Export a Data Extraction entity for the data interval and land NICE's CSV unchanged.

    :param entity: the entity (``qm-workflows``, ``recording-interaction-metadata``...).
    :param version: its version (default ``"1"`` for qm-workflows; required for others).
    :param widen_to_days: export the UTC days enclosing an interval that is not whole days
        (default: such an interval fails, naming it).
    :param max_days_per_request: split longer intervals into requests of at most this many days.
    :param settle_minutes: wait this long after the interval's end before submitting (new data
        may take 30 minutes to appear); deferred, no vendor call. 0 to submit at once.
    :param end_date_inclusive: send the last day as ``endDate`` (default: exclusive, see the docs).
    :param find_orphans: list the tenant's jobs before each submit, so a lost answer finds its job.
    :param limits_store: where the call spacing is kept (every worker and the triggerer must see it).

    Other parameters: :class:`~contact_center_provider.operators.export_job.VendorExportJobOperator`.
    The raw zone's dataset is the table name (``qm_workflows``) unless ``dataset`` says otherwise.
    """

    hook_class = NiceCxoneHook
    landing_extension = ".csv"

    def __init__(
        self,
        *,
        entity: str = "qm-workflows",
        version: str | None = None,
        widen_to_days: bool = False,
        max_days_per_request: int = DEFAULT_MAX_DAYS_PER_REQUEST,
        settle_minutes: float = DEFAULT_SETTLE_MINUTES,
        end_date_inclusive: bool = False,
        find_orphans: bool = True,
        limits_store: str | None = None,
        dataset: str | None = None,
        poll_interval: float = POLL_INTERVAL,
        max_poll_interval: float = MAX_POLL_INTERVAL,
        **kwargs: Any,
    ) -> None:
        version = version or DEFAULT_VERSIONS.get(entity)
        if not version:
            raise ValueError(f"NICE CXone entity {entity!r}: pass its version (e.g. version='7')")
        if max_days_per_request < 1:
            raise ValueError(f"max_days_per_request must be >= 1, got {max_days_per_request}")
        hook_params = {
            **dict(kwargs.pop("hook_params", None) or {}),
            "find_orphans": find_orphans,
            "limits_store": limits_store,
        }
        params = {
            "version": str(version),
            "widen_to_days": widen_to_days,
            "max_days_per_request": max_days_per_request,
            "end_date_inclusive": end_date_inclusive,
        }
        super().__init__(
            kind=entity,
            dataset=dataset or table_name(entity),
            job_params=params,
            hook_params=hook_params,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            **kwargs,
        )
        self.settle_minutes = settle_minutes

    def _windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        try:
            return split_interval(
                start,
                end,
                max_days=int(self.job_params["max_days_per_request"]),
                widen=bool(self.job_params["widen_to_days"]),
            )
        except ValueError as exc:
            raise IntervalError(f"{self.task_id}: {exc}") from None

    def export_interval(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        windows = self._windows(start, end)
        return windows[0][0], windows[-1][1]

    def job_windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        return self._windows(start, end)

    def prerequisite(self, context: Mapping[str, Any], start: datetime, end: datetime) -> JobRef | None:
        until = end + timedelta(minutes=self.settle_minutes)
        return settle_ref(until) if self.settle_minutes > 0 and datetime.now(UTC) < until else None


class NiceCxoneTablesOperator(VendorTablesOperator):
    """Turn a landed Data Extraction CSV into one table (Parquet, and CSV if asked).

    QM Workflows gets its 37 typed columns; every other entity one text column per header.
    A value that does not fit its type fails the task without retries, naming the file, the
    column and the row; nothing is published and the raw zone keeps NICE's file.
    """

    vendor = NiceCxoneHook.vendor

    @staticmethod
    def _entity(manifest: Mapping[str, Any]) -> tuple[str, str]:
        entity = manifest.get("entity") or manifest.get("kind")
        if not entity:
            raise AirflowFailException(f"The landing at {manifest.get('prefix')} does not name its entity")
        return str(entity), str(manifest.get("version") or DEFAULT_VERSIONS.get(str(entity), ""))

    def expected_tables(self, manifest: Mapping[str, Any]) -> dict[str, pa.Schema]:
        import pyarrow as pa

        from contact_center_provider.transforms.nice_cxone import ExtractReader

        entity, version = self._entity(manifest)
        columns = manifest.get("columns") or []
        if not columns and not is_typed_entity(entity):
            return {table_name(entity): pa.schema([])}
        header = ",".join(_quote(c) for c in columns).encode()
        return {table_name(entity): ExtractReader(header + b"\r\n", entity, version).schema}

    def iter_tables(self, manifest: Mapping[str, Any], pages: Iterator[bytes]) -> Iterator[TableRows]:
        import pyarrow as pa

        from contact_center_provider.transforms.nice_cxone import ExtractReader

        entity, version = self._entity(manifest)
        name = table_name(entity)
        for uri, page in zip(manifest["pages"], pages, strict=True):
            try:
                reader = ExtractReader(page, entity, version, what=uri)
                for batch in reader:
                    yield TableRows({name: pa.Table.from_batches([batch])})
            except ValueError as exc:
                raise AirflowFailException(str(exc)) from None
            unknown = {f"{name}.{column}": reader.stats.rows for column in reader.stats.unknown_columns}
            if reader.stats.missing_columns:
                self.log.warning(
                    "%s lacks documented column(s) %s: null in %s", uri, reader.stats.missing_columns, name
                )
            if unknown:
                yield TableRows({}, unknown_fields=unknown)


def _quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'
