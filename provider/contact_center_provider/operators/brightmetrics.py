"""Brightmetrics: export a saved report for the data interval, then a table from it.

See ``docs/brightmetrics.md`` for the connection, the request budget, the ``$filter`` rules
and the table's column types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from contact_center_provider.hooks.brightmetrics import (
    DEFAULT_INTERVAL_FILTER,
    DOCUMENTED_RETRY_AFTER,
    STATUS_URL_LIFETIME,
    BrightmetricsHook,
    export_request,
)
from contact_center_provider.hooks.brightmetrics_wire import normalise_report_id
from contact_center_provider.operators.export_job import VendorExportJobOperator
from contact_center_provider.operators.tables import TableRows, VendorTablesOperator

if TYPE_CHECKING:
    import pyarrow as pa

#: Polls start at the documented ``Retry-After`` and double up to this (seconds): a 30-minute
#: export is polled 9 times instead of 360 (at 5, 15, 35, 75, 155, 315, 635, 1235, 1835 s).
MAX_POLL_INTERVAL = 600.0
POLL_BACKOFF = 2.0
#: The status URL lives one hour (from the request, as we read the document; from completion
#: at most), so waiting much longer cannot fetch the result.
DEFAULT_TIMEOUT = 2 * STATUS_URL_LIFETIME


class BrightmetricsExportOperator(VendorExportJobOperator):
    """Export a saved report for the data interval and land exactly what Brightmetrics sent.

    :param report_id: the saved report's id (the ``url`` in the service document, or the end of the
        report's API URL in the Brightmetrics UI).
    :param format: ``json`` (default), ``csv``, ``csv;formatted``, ``xlsx``, ``pdf``...
    :param filters: report filters (``{"Queue_Name": ["Sales", "Support"], "Time_Talk_Total": {"gt": 10}}``
        or ``[[property, operator, value], ...]``), checked against the documented rules. Templated.
    :param interval_filter: the date filter the data interval goes into (``None``: the report's saved range).
    :param timezone: Windows time-zone name (default: the connection's, else UTC).
    :param validate_filters: read the report's ``$metadata`` first (one request) to refuse a filter
        it does not have before the export is requested.
    :param dataset: the raw zone's dataset (default ``report_<first 8 hex digits of the id>``).
    :param request_limit: requests per 24 h for the account (150).
    :param when_exhausted: ``fail`` (default) or ``wait`` when the budget is spent.
    :param budget_reserve: requests an export must leave for others.
    :param limits_store: where the budget is counted (see the docs); every worker and the triggerer
        must see it.

    Other parameters: :class:`~contact_center_provider.operators.export_job.VendorExportJobOperator`.
    The poll schedule spends few requests: the first poll waits the documented ``Retry-After``
    (``first_poll_delay``, 5 s), then the wait doubles (``poll_backoff``) from ``poll_interval`` (10 s)
    up to ``max_poll_interval`` (10 min), never shorter than the ``Retry-After`` of the last 202.
    """

    hook_class = BrightmetricsHook
    template_fields: Sequence[str] = (*VendorExportJobOperator.template_fields, "filters")
    template_fields_renderers = {**VendorExportJobOperator.template_fields_renderers, "filters": "json"}

    def __init__(
        self,
        *,
        report_id: str,
        format: str = "json",
        filters: Mapping[str, Any] | Sequence[Any] | None = None,
        interval_filter: str | None = DEFAULT_INTERVAL_FILTER,
        timezone: str | None = None,
        validate_filters: bool = True,
        dataset: str | None = None,
        request_limit: int = 150,
        when_exhausted: Literal["fail", "wait"] = "fail",
        budget_reserve: int = 0,
        limits_store: str | None = None,
        poll_interval: float = 2 * DOCUMENTED_RETRY_AFTER,
        max_poll_interval: float = MAX_POLL_INTERVAL,
        poll_backoff: float = POLL_BACKOFF,
        first_poll_delay: float = DOCUMENTED_RETRY_AFTER,
        timeout: float = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        report = normalise_report_id(report_id)
        options = {
            "format": format,
            "interval_filter": interval_filter,
            "timezone": timezone,
            "validate_filters": validate_filters,
        }
        # Checked at DAG parse time (no request): the format, the zone, and filters without templates.
        templated = "{{" in json.dumps(filters, default=str)
        export_request(report, None, None, {**options, "filters": None if templated else filters})
        hook_params = {
            **dict(kwargs.pop("hook_params", None) or {}),
            "request_limit": request_limit,
            "when_exhausted": when_exhausted,
            "budget_reserve": budget_reserve,
            "limits_store": limits_store,
        }
        super().__init__(
            kind=report,
            dataset=dataset or f"report_{report.replace('-', '')[:8]}",
            job_params=options,
            hook_params=hook_params,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            poll_backoff=poll_backoff,
            first_poll_delay=first_poll_delay,
            timeout=timeout,
            **kwargs,
        )
        self.filters = filters

    def submit_params(self, context: Mapping[str, Any], start: Any, end: Any) -> dict[str, Any]:
        return {**self.job_params, "filters": self.filters}


class BrightmetricsTablesOperator(VendorTablesOperator):
    """Turn a landed report result into one table (Parquet, and CSV if asked).

    :param table: the table's name (default: the landing's dataset).
    :param column_types: column -> ``string``, ``float64``, ``int64``, ``bool``, ``timestamp`` or
        ``date``; wins over the report's ``$metadata`` and over the values' own types.
    :param source_timezone: IANA zone of xlsx times (default: from the export's ``timezone``).

    A value that does not fit its column's type fails the task without retries, naming the
    report, row and column; no table is published and the raw zone keeps the result.
    """

    vendor = BrightmetricsHook.vendor

    def __init__(
        self,
        *,
        table: str | None = None,
        column_types: Mapping[str, str] | None = None,
        source_timezone: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.column_types = dict(column_types or {})
        self.source_timezone = source_timezone

    def _name(self, manifest: Mapping[str, Any]) -> str:
        return self.table or str(manifest.get("dataset") or "report")

    def expected_tables(self, manifest: Mapping[str, Any]) -> dict[str, pa.Schema]:
        import pyarrow as pa

        # The columns are the report's own: known from the result, which iter_tables always yields.
        return {self._name(manifest): pa.schema([])}

    def iter_tables(self, manifest: Mapping[str, Any], pages: Iterator[bytes]) -> Iterator[TableRows]:
        from contact_center_provider.transforms.brightmetrics import ReportValueError, report_table

        try:
            result = report_table(
                pages,
                str(manifest.get("format") or "json"),
                declared=manifest.get("filter_types") or {},
                column_types=self.column_types,
                timezone=manifest.get("timezone"),
                source_timezone=self.source_timezone,
                report=str(manifest.get("report_id") or manifest.get("kind")),
            )
        except ReportValueError as exc:
            # The same bytes fail the same way on a retry: fail now; the raw zone keeps them.
            raise AirflowFailException(
                f"{self.task_id}: {exc} (landed under {manifest.get('prefix')})"
            ) from exc
        self.log.info("Column types: %s", result.type_sources)
        yield TableRows({self._name(manifest): result.table}, unknown_fields=result.unknown_fields)


class BrightmetricsDiscoveryOperator(BaseOperator):
    """List the saved reports, or read one report's filters; optionally require some filters.

    :param report_id: a report id: return its filters (``{"report_id", "filters": {name: EDM type}}``);
        ``None``: return the service document (``{"reports": [{"id", "name", "title"}]}``).
    :param required_filters: fail (without retries) unless the report has every one of these
        filters, e.g. the export's ``interval_filter`` and filter properties.
    :param conn_id: the Brightmetrics connection. Templated.
    :param hook_params: further hook keyword arguments (``limits_store``...).

    Each run costs one request of the account's budget.
    """

    template_fields: Sequence[str] = ("conn_id",)

    def __init__(
        self,
        *,
        report_id: str | None = None,
        required_filters: Sequence[str] = (),
        conn_id: str = BrightmetricsHook.default_conn_name,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report_id = normalise_report_id(report_id) if report_id else None
        if required_filters and not report_id:
            raise ValueError(f"{self.task_id}: required_filters needs a report_id")
        self.required_filters = list(required_filters)
        self.conn_id = conn_id
        self.hook_params = dict(hook_params or {})

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any]:
        hook = BrightmetricsHook(self.conn_id, **self.hook_params)
        if self.report_id is None:
            reports = [r.to_dict() for r in hook.list_reports()]
            self.log.info("%d saved reports; %s", len(reports), hook.budget_text())
            return {"reports": reports}
        metadata = hook.get_report_metadata(self.report_id)
        missing = [f for f in self.required_filters if f not in metadata.filters]
        if missing:
            raise AirflowFailException(
                f"{self.task_id}: Brightmetrics report {self.report_id} has no filter(s) {missing}; "
                f"its filters: {', '.join(metadata.filters) or 'none'}"
            )
        self.log.info("Report %s filters: %s; %s", self.report_id, metadata.filters, hook.budget_text())
        return metadata.to_dict()
