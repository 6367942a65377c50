"""Render a report (built-in or your own template) from Parquet tables into object storage."""

from __future__ import annotations

import importlib
import os
import posixpath
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from contact_center_provider.operators._common import (
    LineageMixin,
    emit_asset_event,
    resolve_interval,
    zone_asset,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import Context

    from contact_center_provider.transforms.reports.output import ReportFile
    from contact_center_provider.transforms.reports.sources import ParquetSource

__all__ = ["BUILTIN_REPORTS", "RenderReportOperator"]

#: Names of the built-in reports (kept here so DAG parsing needs no pyarrow/jinja2 import;
#: a test checks it against ``transforms.reports.REPORTS``).
BUILTIN_REPORTS = ("abandons", "call_detail", "presence")
#: Secondary files written at once (object stores are latency-bound; local writes fsync).
WRITE_THREADS = 8


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


def _parquet_files(name: str, uri: str, conn_id: str | None) -> list[str]:
    from contact_center_provider.storage.uri import list_uris

    if uri.endswith(".parquet"):
        return [uri]
    files = [u for u in list_uris(uri, conn_id) if u.endswith(".parquet")]
    if not files:
        raise FileNotFoundError(f"input {name!r}: no .parquet objects under {uri!r}")
    return files


def parquet_source(name: str, uri: str, conn_id: str | None) -> ParquetSource:
    """An input read in batches: a ``.parquet`` object, or every ``.parquet`` object under a prefix.

    :raises FileNotFoundError: when no Parquet object is found.
    """
    from functools import partial

    from contact_center_provider.storage.uri import is_local, local_path, open_uri
    from contact_center_provider.transforms.reports.sources import Opener, ParquetSource

    openers: list[Opener] = [
        local_path(u) if is_local(u) else partial(open_uri, u, "rb", conn_id=conn_id, compression="disable")
        for u in _parquet_files(name, uri, conn_id)
    ]
    return ParquetSource(name, openers)


def read_parquet_input(uri: str, conn_id: str | None) -> pa.Table:
    """Read one whole input table (a ``.parquet`` object or every one under a prefix).

    :raises FileNotFoundError: when no Parquet object is found.
    """
    from contact_center_provider.transforms.reports.sources import read_columns

    source = parquet_source(uri, uri, conn_id)
    return read_columns(source, source.schema.names)


def _zone(value: Any) -> str | tzinfo:
    """An IANA name where the zone has one (so the report prints ``Europe/Dublin``), else the tzinfo."""
    if isinstance(value, str):
        return value
    from zoneinfo import ZoneInfo

    name = getattr(value, "key", None) or getattr(value, "name", None)
    if isinstance(name, str):
        try:
            ZoneInfo(name)
        except (ValueError, KeyError, OSError):
            return value  # type: ignore[no-any-return]  # e.g. pendulum's FixedTimezone "+01:00"
        return name
    return value  # type: ignore[no-any-return]


class _Publisher:
    """Writes a report's secondary files concurrently, then its main file, then drops stale files.

    Secondary files have content-derived names, so the previous main file's links stay
    valid until the new main file replaces it; only then are the files it no longer
    links to removed (see :mod:`contact_center_provider.transforms.reports.output`).
    """

    def __init__(self, main_uri: str, conn_id: str | None) -> None:
        from contact_center_provider.storage.uri import split_uri

        self.main_uri = main_uri
        self.conn_id = conn_id
        self.folder = main_uri.rsplit("/", 1)[0] if "/" in main_uri else "."
        # One PUT per small object on S3 instead of a three-request multipart upload.
        scheme = split_uri(main_uri)[0]
        self._transport = {"multipart_upload": False} if scheme in {"s3", "s3a", "s3n"} else None
        self.names: set[str] = set()
        self.bytes = 0

    def _write(self, uri: str, data: bytes) -> int:
        from contact_center_provider.storage.atomic import write_bytes

        return write_bytes(uri, data, self.conn_id, compression="disable", transport_params=self._transport)

    def publish(self, files: Iterator[ReportFile]) -> tuple[ReportFile, int]:
        """Write every file; return the main one and how many stale secondary files were removed."""
        from contact_center_provider.storage.uri import join_uri

        main: ReportFile | None = None
        pending: deque[Future[int]] = deque()
        with ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="report-write") as pool:
            for item in files:
                if item.main:
                    main = item
                    continue
                self.names.add(item.name)
                pending.append(pool.submit(self._write, join_uri(self.folder, item.name), item.data))
                # Bounded: a slow store holds back rendering instead of filling memory.
                while len(pending) > 4 * WRITE_THREADS or (pending and pending[0].done()):
                    self.bytes += pending.popleft().result()
            while pending:
                self.bytes += pending.popleft().result()
        if main is None:
            raise RuntimeError(f"the report builder yielded no main file for {self.main_uri}")
        self.bytes += self._write(self.main_uri, main.data)
        return main, self._remove_stale(main.name)

    def _remove_stale(self, main_name: str) -> int:
        from contact_center_provider.storage.uri import delete_uris, join_uri, list_uris
        from contact_center_provider.transforms.reports.output import files_dir

        folder = files_dir(main_name)
        prefix = join_uri(self.folder, folder)
        keep = {posixpath.basename(name) for name in self.names if name.startswith(folder + "/")}
        stale = [u for u in list_uris(prefix, self.conn_id) if u.rsplit("/", 1)[-1] not in keep]
        return delete_uris(stale, self.conn_id)


class RenderReportOperator(LineageMixin, BaseOperator):
    """Render a report from Parquet tables and publish it under ``output_base_uri`` (or at ``output_uri``).

    Either name a built-in report (``report="abandons" | "call_detail" | "presence"``),
    optionally with your own main ``template``, or give a ``template`` plus a ``builder``:
    a dotted path to ``build(tables: dict[str, pa.Table], **params) -> dict``. Every builder
    receives ``run_date`` (the run's ``run_after`` printed like a JavaScript date, so
    re-runs print the same), ``interval`` (text), ``interval_start``, ``interval_end`` and
    ``tz``, plus ``report_params``.

    Where it lands: with ``output_base_uri`` the report goes to
    ``{base}/reports/{report}/interval_start=.../interval_end=.../{file}`` (the partition of
    :mod:`contact_center_provider.storage.zones`, from the data interval); ``output_uri``
    names the main file yourself. ``presence`` and ``call_detail`` are several files: the
    main file (``presence.html``, ``call_detail.html``) and, next to it, a folder
    (``presence_files/``, ``call_detail_files/``) of agent pages or call pages. Those are
    written first under names derived from their content and the main file last, so a
    reader -- or a failed re-render -- always sees one complete report; files no longer
    linked are removed after the new main file is published.

    Times are printed in ``time_zone``, else the zone of the DAG's timetable (the Task
    SDK's ``CronDataIntervalTimetable(..., timezone=...)``), else the DAG's, else UTC;
    intervals that contain a DST change print each time with its offset.

    Templates are looked up in ``template_searchpath`` first, then in the built-in
    templates, so a file of the same name overrides a built-in one. ``.html.j2`` (and
    ``.html``/``.xml``) templates are autoescaped; text templates are not, and the
    built-in abandon builder sanitises its values for the pipe-delimited format.

    The interval is the DAG run's data interval unless ``interval_start`` and
    ``interval_end`` are given; a run without one (e.g. a manual run of an
    unscheduled DAG) fails with a message saying so.

    Templated fields: ``report``, ``template``, ``builder``, ``inputs``, ``output_uri``,
    ``output_base_uri``, ``file_name``, ``report_params``, ``interval_start``,
    ``interval_end``, ``time_zone``, ``template_searchpath``, ``conn_id``.

    :param report: built-in report name.
    :param template: main template file name (default: the built-in report's).
    :param builder: dotted path of a builder callable (default: the built-in report's).
    :param inputs: table name -> URI of a Parquet object or of a prefix holding Parquet objects.
        ``abandons`` and ``call_detail`` need ``conversations``, ``participants``,
        ``sessions``; ``call_detail`` also reads ``participant_attributes`` (Account) and
        ``session_metrics`` (wait, answered, abandoned, handle time) when given.
        ``presence`` needs ``presence`` and ``routing_status`` and reads ``users`` and
        ``presence_definitions`` when given.
    :param output_base_uri: base of the data zones (s3://, gs://, azure://, file:// or a
        path); the report lands in its partition under ``reports/{report}/``.
    :param output_uri: the main file's full URI instead (secondary files go next to it).
    :param file_name: the main file's name under ``output_base_uri`` (default: the built-in
        report's, e.g. ``presence.html``; for your own template its name without ``.j2``).
    :param report_params: extra builder parameters, e.g. ``{"company": "Acme"}`` for
        ``abandons``; ``{"job_name": "Presence", "group_by": "division_id"}`` for
        ``presence`` (``group_by`` renders one index per value of that ``users`` column);
        ``{"page_size": 500}`` for ``call_detail``.
    :param interval_start: override of the data interval start (datetime or ISO string).
    :param interval_end: override of the data interval end.
    :param time_zone: IANA zone for printed times; default: the timetable's zone, else the DAG's.
    :param template_searchpath: your template directories (relative ones are taken from
        the DAG file's directory), searched before the built-ins.
    :param conn_id: storage connection for inputs and output (AWS, Google Cloud or WASB).
    :returns: ``{"report", "uri" (the main file), "files", "bytes", "removed"}`` plus the
        report's counts (``agents``, ``conversations``, ``pages`` ...).
    """

    template_fields: Sequence[str] = (
        "report",
        "template",
        "builder",
        "inputs",
        "output_uri",
        "output_base_uri",
        "file_name",
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
        output_base_uri: str | None = None,
        output_uri: str | None = None,
        report: str | None = None,
        template: str | None = None,
        builder: str | None = None,
        file_name: str | None = None,
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
        if (output_base_uri is None) == (output_uri is None):
            raise ValueError(
                "RenderReportOperator needs exactly one of output_base_uri= (the report lands in its "
                "partition under {base}/reports/) or output_uri= (the main file's full URI)"
            )
        if file_name is not None and output_uri is not None:
            raise ValueError("file_name= applies to output_base_uri=; output_uri= names the file itself")
        self.report = report
        self.template = template
        self.builder = builder
        self.inputs = inputs
        self.output_base_uri = output_base_uri
        self.output_uri = output_uri
        self.file_name = file_name
        self.report_params = report_params or {}
        self.interval_start = interval_start
        self.interval_end = interval_end
        self.time_zone = time_zone
        self.template_searchpath = template_searchpath
        self.conn_id = conn_id
        #: Every rendered report is announced on it (see emit_asset_event).
        self.report_asset = zone_asset("reports", "report", report or str(template))
        self.outlets = [*self.outlets, self.report_asset]

    # ------------------------------------------------------------------ helpers

    def _tz(self) -> str | tzinfo:
        if self.time_zone:
            return self.time_zone
        dag = self.dag if self.has_dag() else None  # type: ignore[no-untyped-call]
        if dag is not None:
            timetable = getattr(dag, "timetable", None)
            # The Task SDK's cron timetables expose ``timezone``; Airflow core's keep ``_timezone``.
            for zone in (
                getattr(timetable, "timezone", None),
                getattr(timetable, "_timezone", None),
                getattr(dag, "timezone", None),
            ):
                if zone:
                    return _zone(zone)
        return "UTC"

    def _interval(self, context: Context) -> tuple[datetime, datetime]:
        return resolve_interval(context, self.interval_start, self.interval_end, task_id=self.task_id)

    @staticmethod
    def _run_after(context: Context) -> datetime:
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

    def _main_uri(self, default_name: str, start: datetime, end: datetime) -> str:
        if self.output_uri:
            return self.output_uri
        from contact_center_provider.storage.uri import join_uri
        from contact_center_provider.storage.zones import Partition, report_prefix

        assert self.output_base_uri is not None
        name = self.file_name or default_name
        if "/" in name or name in {"", ".", ".."}:
            raise ValueError(f"file_name={name!r} must be a plain file name")
        folder = self.report or name.split(".", 1)[0]
        return join_uri(report_prefix(self.output_base_uri, folder, Partition(start, end)), name)

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context) -> dict[str, Any]:
        from contact_center_provider.transforms.reports.formatting import interval_text, js_date_string
        from contact_center_provider.transforms.reports.registry import get_report, render_files
        from contact_center_provider.transforms.reports.render import make_renderer

        spec = get_report(self.report) if self.report is not None else None
        template = self.template or (spec.template if spec else None)
        builder = _import_callable(self.builder) if self.builder else None
        if template is None or (spec is None and builder is None):
            raise ValueError("RenderReportOperator needs report=<name> or both template= and builder=")

        tz = self._tz()
        start, end = self._interval(context)
        main_uri = self._main_uri(spec.file_name if spec else template.removesuffix(".j2"), start, end)
        sources = {name: parquet_source(name, uri, self.conn_id) for name, uri in self.inputs.items()}
        standard = {
            "run_date": js_date_string(self._run_after(context), tz),
            "interval": interval_text(start, end, tz),
            "interval_start": start,
            "interval_end": end,
            "tz": tz,
        }
        files = render_files(
            sources,
            make_renderer(self._search_path()),
            main_name=main_uri.rsplit("/", 1)[-1],
            template=template,
            spec=spec,
            builder=builder,
            standard=standard,
            params=self.report_params,
        )
        publisher = _Publisher(main_uri, self.conn_id)
        main, removed = publisher.publish(files)
        name = self.report or template
        result = {
            "report": name,
            "uri": main_uri,
            "files": len(publisher.names) + 1,
            "bytes": publisher.bytes,
            "removed": removed,
            **main.summary,
        }
        # The asset is the report (all its partitions); the event names this interval's file.
        report_uri = main_uri.rsplit("/interval_start=", 1)[0] if self.output_base_uri else main_uri
        self.lineage_inputs = [str(uri) for uri in self.inputs.values()]
        self.lineage_outputs = [main_uri]
        emit_asset_event(
            context,
            self.report_asset,
            report_uri,
            {
                "file": main_uri,
                "interval": f"{start.isoformat()}/{end.isoformat()}",
                "files": result["files"],
            },
        )
        self.log.info(
            "Rendered report %s to %s: %d file(s), %d bytes, %d stale file(s) removed",
            name,
            main_uri,
            result["files"],
            publisher.bytes,
            removed,
        )
        return result
