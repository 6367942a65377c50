"""The built-in reports by name, and the contracts a report builder follows.

Two kinds of builder exist:

* a *context builder* ``(tables: dict[str, pa.Table], **params) -> dict`` returns the
  context of one template, rendered into one file (``abandons``, and any report of your
  own given as ``builder=``);
* a *file writer* ``(sources: dict[str, TableSource], render, *, main_name, template,
  **params) -> Iterator[ReportFile]`` reads its inputs in batches and yields the files of
  a report that may span many (``presence``, ``call_detail``; see :mod:`.output`).

:class:`~contact_center_provider.operators.render.RenderReportOperator` passes every
builder these standard parameters, computed from the DAG run:

* ``run_date`` -- the run date printed like a JavaScript date (``Fri Jan 13 2017 10:56:45 GMT-0700``);
* ``interval`` -- the interval text (``2017-01-13T10:00:00.000-0700/2017-01-13T11:00:00.000-0700``);
* ``interval_start`` / ``interval_end`` -- aware ``datetime`` objects;
* ``tz`` -- the report's time zone (IANA name or ``tzinfo``);

plus the user's own ``params`` (e.g. ``company``, ``job_name``). The built-in builders
reject parameters they do not know, so a misspelt one fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from contact_center_provider.transforms.reports import abandons, call_detail, presence
from contact_center_provider.transforms.reports.output import Renderer, ReportFile
from contact_center_provider.transforms.reports.sources import ArrowSource, TableSource, read_columns
from contact_center_provider.transforms.reports.tables import empty_table

__all__ = [
    "REPORTS",
    "STANDARD_PARAMS",
    "ReportSpec",
    "UnknownReportError",
    "arrow_sources",
    "get_report",
    "render_files",
]

#: Parameters the render operator always passes to a builder.
STANDARD_PARAMS = frozenset({"run_date", "interval", "interval_start", "interval_end", "tz"})

Builder = Callable[..., dict[str, Any]]
Writer = Callable[..., Iterator[ReportFile]]


class UnknownReportError(KeyError):
    """Raised for a report name that is not built in; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else super().__str__()


@dataclass(frozen=True)
class ReportSpec:
    """A built-in report.

    :param name: registry name (and the report's folder in the reports zone).
    :param template: the main template's file name in the template search path.
    :param file_name: the main file's name (``presence.html``).
    :param inputs: table names that must be given.
    :param optional_inputs: table names that may be omitted.
    :param builder: context builder (one file), or ``None`` when ``writer`` is set.
    :param writer: file writer (one or many files), or ``None`` when ``builder`` is set.
    """

    name: str
    template: str
    file_name: str
    inputs: tuple[str, ...]
    optional_inputs: tuple[str, ...] = field(default=())
    builder: Builder | None = None
    writer: Writer | None = None

    def check_inputs(self, given: Mapping[str, Any]) -> None:
        """:raises ValueError: when a required table is missing."""
        missing = [name for name in self.inputs if name not in given]
        if missing:
            raise ValueError(
                f"report {self.name!r} needs input tables {list(self.inputs)}; missing {missing}"
            )

    def complete_tables(self, tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
        """Return ``tables`` with empty optional tables filled in (for context builders).

        :raises ValueError: when a required table is missing.
        """
        self.check_inputs(tables)
        result = dict(tables)
        for name in self.optional_inputs:
            result.setdefault(name, empty_table(name))
        return result


def _check_params(report: str, params: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed - STANDARD_PARAMS)
    if unknown:
        raise TypeError(
            f"report {report!r} got unknown params {unknown}; it accepts {sorted(allowed)} "
            f"besides the standard {sorted(STANDARD_PARAMS)}"
        )


def build_abandons(
    tables: Mapping[str, pa.Table],
    *,
    run_date: str,
    interval: str,
    company: str | None = None,
    job_name: str = "Abandons job",
    configuration_name: str = "Abandons Configuration",
    **params: Any,
) -> dict[str, Any]:
    """Builder of the ``abandons`` report; needs the ``company`` param."""
    _check_params("abandons", params, set())
    if company is None:
        raise TypeError("report 'abandons' needs params['company'] (printed as 'Company: ...')")
    rows = abandons.abandon_rows(tables["conversations"], tables["participants"], tables["sessions"])
    return abandons.abandons_context(
        rows,
        run_date=run_date,
        company=company,
        interval=interval,
        job_name=job_name,
        configuration_name=configuration_name,
    )


def write_call_detail(
    sources: Mapping[str, TableSource | None],
    render: Renderer,
    *,
    main_name: str,
    template: str,
    run_date: str,
    interval: str,
    interval_start: Any,
    interval_end: Any,
    tz: Any = "UTC",
    interval_step: str = "PT1H",
    page_size: int = call_detail.DEFAULT_PAGE_SIZE,
    metrics: Mapping[str, str] | None = None,
    **params: Any,
) -> Iterator[ReportFile]:
    """Writer of the ``call_detail`` report; accepts ``interval_step``, ``page_size``, ``metrics``."""
    _check_params("call_detail", params, {"interval_step", "page_size", "metrics"})
    return call_detail.write_call_detail(
        sources,
        render,
        main_name=main_name,
        template=template,
        run_date=run_date,
        interval=interval,
        interval_start=interval_start,
        interval_end=interval_end,
        tz=tz,
        interval_step=interval_step,
        page_size=int(page_size),
        metrics=metrics,
    )


def write_presence(
    sources: Mapping[str, TableSource | None],
    render: Renderer,
    *,
    main_name: str,
    template: str,
    run_date: str,
    interval_start: Any,
    interval_end: Any,
    tz: Any = "UTC",
    job_name: str = "Presence Detail Report",
    group_by: str | None = None,
    max_rows: int | None = None,
    **params: Any,
) -> Iterator[ReportFile]:
    """Writer of the ``presence`` report; accepts ``job_name``, ``group_by`` and ``max_rows``."""
    _check_params("presence", params, {"job_name", "group_by", "max_rows"})
    return presence.write_presence(
        sources,
        render,
        main_name=main_name,
        template=template,
        run_date=run_date,
        interval_start=interval_start,
        interval_end=interval_end,
        tz=tz,
        job_name=job_name,
        group_by=group_by or None,
        max_rows=int(max_rows) if max_rows else presence.DEFAULT_MAX_ROWS,
    )


REPORTS: dict[str, ReportSpec] = {
    "abandons": ReportSpec(
        name="abandons",
        template=abandons.TEMPLATE,
        file_name="abandons.txt",
        inputs=("conversations", "participants", "sessions"),
        builder=build_abandons,
    ),
    "call_detail": ReportSpec(
        name="call_detail",
        template=call_detail.TEMPLATE,
        file_name="call_detail.html",
        inputs=("conversations", "participants", "sessions"),
        optional_inputs=("participant_attributes", "session_metrics"),
        writer=write_call_detail,
    ),
    "presence": ReportSpec(
        name="presence",
        template=presence.TEMPLATE,
        file_name="presence.html",
        inputs=("presence", "routing_status"),
        optional_inputs=("users", "presence_definitions"),
        writer=write_presence,
    ),
}


def get_report(name: str) -> ReportSpec:
    """Return the built-in report ``name``.

    :raises UnknownReportError: listing the known names.
    """
    try:
        return REPORTS[name]
    except KeyError:
        raise UnknownReportError(f"unknown report {name!r}; built-in reports are {sorted(REPORTS)}") from None


def render_files(
    sources: Mapping[str, TableSource],
    render: Renderer,
    *,
    main_name: str,
    template: str,
    spec: ReportSpec | None = None,
    builder: Builder | None = None,
    standard: Mapping[str, Any],
    params: Mapping[str, Any],
) -> Iterator[ReportFile]:
    """The files of one report: a built-in ``spec`` (writer or builder) or a custom ``builder``.

    A context builder gets whole tables (read from the sources) and makes one file.

    :raises ValueError: when a required input is missing, or ``params`` repeat a standard parameter.
    """
    clash = sorted(set(standard) & set(params))
    if clash:
        raise ValueError(f"report_params may not set {clash}: they come from the DAG run")
    if spec is not None:
        spec.check_inputs(sources)
    if spec is not None and spec.writer is not None and builder is None:
        given: dict[str, TableSource | None] = {name: None for name in spec.optional_inputs}
        given.update(sources)
        return spec.writer(given, render, main_name=main_name, template=template, **standard, **params)
    build = builder or (spec.builder if spec is not None else None)
    if build is None:
        raise ValueError("a report needs a built-in report name or a builder")
    tables = {name: read_columns(source, source.schema.names) for name, source in sources.items()}
    if spec is not None:
        tables = spec.complete_tables(tables)

    def one_file() -> Iterator[ReportFile]:
        text = render(template, build(tables, **standard, **params))
        yield ReportFile(main_name, text.encode("utf-8"), main=True, summary={})

    return one_file()


def arrow_sources(tables: Mapping[str, pa.Table]) -> dict[str, TableSource]:
    """Wrap in-memory tables as sources (tests, small inputs)."""
    return {name: ArrowSource(table, name) for name, table in tables.items()}
