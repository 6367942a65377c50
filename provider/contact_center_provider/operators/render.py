"""Render a report (built-in or your own template) from Parquet tables into object storage."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from contact_center_provider.operators._common import resolve_interval

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import Context

__all__ = ["BUILTIN_REPORTS", "RenderReportOperator"]

#: Names of the built-in reports (kept here so DAG parsing needs no pyarrow/jinja2 import;
#: a test checks it against ``transforms.reports.REPORTS``).
BUILTIN_REPORTS = ("abandons", "call_detail", "presence")


def _is_templated(value: str | None) -> bool:
    return value is not None and ("{{" in value or "{%" in value)


def _import_callable(dotted: str) -> Callable[..., dict[str, Any]]:
    module_name, sep, attr = dotted.partition(":")
    if not sep:
        module_name, _, attr = dotted.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"builder must be a dotted path like 'my_pkg.reports.build', got {dotted!r}")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import report builder {dotted!r}: {err}") from err
    if not callable(target):
        raise ValueError(f"report builder {dotted!r} is not callable")
    return target  # type: ignore[no-any-return]


def read_parquet_input(uri: str, conn_id: str | None) -> pa.Table:
    """Read one input table: a ``.parquet`` object, or every ``.parquet`` object under a prefix.

    :raises FileNotFoundError: when no Parquet object is found.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from contact_center_provider.storage.uri import list_uris, read_bytes

    if uri.endswith(".parquet"):
        files = [uri]
    else:
        files = [u for u in list_uris(uri, conn_id) if u.endswith(".parquet")]
        if not files:
            raise FileNotFoundError(f"no .parquet objects under {uri!r}")
    tables = [pq.read_table(pa.BufferReader(read_bytes(u, conn_id))) for u in files]
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")


class RenderReportOperator(BaseOperator):
    """Render a report from Parquet tables and write it atomically to ``output_uri``.

    Either name a built-in report (``report="abandons" | "call_detail" | "presence"``),
    optionally with your own ``template`` for its context, or give a ``template`` plus a
    ``builder``: a dotted path to ``build(tables: dict[str, pa.Table], **params) -> dict``.
    Every builder receives ``run_date`` (the run's ``run_after`` printed like a JavaScript
    date, so re-runs print the same), ``interval`` (text), ``interval_start``,
    ``interval_end`` and ``tz``, plus ``report_params``.

    Templates are looked up in ``template_searchpath`` first, then in the built-in
    templates, so a file of the same name overrides a built-in one. ``.html.j2`` (and
    ``.html``/``.xml``) templates are autoescaped; text templates are not, and the
    built-in abandon builder sanitises its values for the pipe-delimited format.

    The interval is the DAG run's data interval unless ``interval_start`` and
    ``interval_end`` are given; a run without one (e.g. a manual run of an
    unscheduled DAG) fails with a message saying so.

    Templated fields: ``report``, ``template``, ``builder``, ``inputs``, ``output_uri``,
    ``report_params``, ``interval_start``, ``interval_end``, ``time_zone``,
    ``template_searchpath``, ``conn_id``.

    :param report: built-in report name.
    :param template: template file name (default: the built-in report's template).
    :param builder: dotted path of a builder callable (default: the built-in report's).
    :param inputs: table name -> URI of a Parquet object or of a prefix holding Parquet objects.
        Built-in reports: ``abandons`` and ``call_detail`` need ``conversations``,
        ``participants``, ``sessions`` (``call_detail`` also reads
        ``participant_attributes`` when given); ``presence`` needs ``presence`` and
        ``routing_status`` and reads ``users`` and ``presence_definitions`` when given.
    :param output_uri: where the rendered report goes (s3://, gs://, azure://, file:// or a path).
    :param report_params: extra builder parameters, e.g. ``{"company": "Acme"}`` for
        ``abandons`` or ``{"job_name": "Presence"}`` for ``presence``.
    :param interval_start: override of the data interval start (datetime or ISO string).
    :param interval_end: override of the data interval end.
    :param time_zone: IANA zone for printed times; default: the timetable's zone, else the DAG's.
    :param template_searchpath: your template directories (relative ones are taken from
        the DAG file's directory), searched before the built-ins.
    :param conn_id: storage connection for inputs and output (AWS, Google Cloud or WASB).
    :returns: ``{"uri": output_uri, "bytes": <bytes written>, "report": <name>}``.
    """

    template_fields: Sequence[str] = (
        "report",
        "template",
        "builder",
        "inputs",
        "output_uri",
        "report_params",
        "interval_start",
        "interval_end",
        "time_zone",
        "template_searchpath",
        "conn_id",
    )
    template_fields_renderers = {"inputs": "json", "report_params": "json"}
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        inputs: dict[str, str],
        output_uri: str,
        report: str | None = None,
        template: str | None = None,
        builder: str | None = None,
        report_params: dict[str, Any] | None = None,
        interval_start: datetime | str | None = None,
        interval_end: datetime | str | None = None,
        time_zone: str | None = None,
        template_searchpath: list[str] | None = None,
        conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if report is None and (template is None or builder is None):
            raise ValueError(
                "RenderReportOperator needs report=<name> (one of "
                f"{list(BUILTIN_REPORTS)}) or both template= and builder="
            )
        if report is not None and not _is_templated(report) and report not in BUILTIN_REPORTS:
            raise ValueError(f"unknown report {report!r}; built-in reports are {list(BUILTIN_REPORTS)}")
        if (interval_start is None) != (interval_end is None):
            raise ValueError("give both interval_start and interval_end, or neither")
        self.report = report
        self.template = template
        self.builder = builder
        self.inputs = inputs
        self.output_uri = output_uri
        self.report_params = report_params or {}
        self.interval_start = interval_start
        self.interval_end = interval_end
        self.time_zone = time_zone
        self.template_searchpath = template_searchpath
        self.conn_id = conn_id

    # ------------------------------------------------------------------ helpers

    def _tz(self) -> str | tzinfo:
        if self.time_zone:
            return self.time_zone
        dag = self.dag if self.has_dag() else None  # type: ignore[no-untyped-call]
        if dag is not None:
            # Best effort: cron timetables keep their zone privately.
            zone = getattr(dag.timetable, "_timezone", None) or getattr(dag, "timezone", None)
            if zone is not None:
                return zone  # type: ignore[no-any-return]
        return "UTC"

    def _interval(self, context: Mapping[str, Any]) -> tuple[datetime, datetime]:
        return resolve_interval(context, self.interval_start, self.interval_end, task_id=self.task_id)

    @staticmethod
    def _run_after(context: Mapping[str, Any]) -> datetime:
        dag_run = context.get("dag_run")
        run_after = getattr(dag_run, "run_after", None)
        if run_after is None:
            raise ValueError("the task context has no dag_run.run_after to print as the run date")
        return run_after  # type: ignore[no-any-return]

    def _search_path(self) -> list[str | Path]:
        from contact_center_provider.transforms.reports.render import default_template_dir

        base = None
        if self.has_dag() and getattr(self.dag, "fileloc", None):  # type: ignore[no-untyped-call]
            base = os.path.dirname(self.dag.fileloc)
        own: list[str | Path] = [
            p if os.path.isabs(p) or base is None else os.path.join(base, p)
            for p in (self.template_searchpath or [])
        ]
        return [*own, default_template_dir()]

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context) -> dict[str, Any]:
        from contact_center_provider.storage.atomic import write_bytes
        from contact_center_provider.transforms.reports.formatting import interval_text, js_date_string
        from contact_center_provider.transforms.reports.registry import get_report
        from contact_center_provider.transforms.reports.render import render

        spec = get_report(self.report) if self.report is not None else None
        template = self.template or (spec.template if spec else None)
        builder = _import_callable(self.builder) if self.builder else (spec.builder if spec else None)
        if template is None or builder is None:
            raise ValueError("RenderReportOperator needs report=<name> or both template= and builder=")

        tz = self._tz()
        start, end = self._interval(context)
        tables = {name: read_parquet_input(uri, self.conn_id) for name, uri in self.inputs.items()}
        if spec is not None:
            tables = spec.complete_tables(tables)
        standard = {
            "run_date": js_date_string(self._run_after(context), tz),
            "interval": interval_text(start, end, tz),
            "interval_start": start,
            "interval_end": end,
            "tz": tz,
        }
        clash = sorted(set(standard) & set(self.report_params))
        if clash:
            raise ValueError(f"report_params may not set {clash}: they come from the DAG run")
        report_context = builder(tables, **standard, **self.report_params)
        text = render(template, report_context, self._search_path())
        size = write_bytes(self.output_uri, text.encode("utf-8"), self.conn_id)
        name = self.report or template
        self.log.info("Rendered report %s (%d bytes) to %s", name, size, self.output_uri)
        return {"uri": self.output_uri, "bytes": size, "report": name}
