"""The built-in reports by name, and the contract a report builder follows.

A builder is a callable ``(tables: dict[str, pa.Table], **params) -> dict`` returning
the template's context. :class:`~contact_center_provider.operators.render.RenderReportOperator`
passes every builder these standard parameters, computed from the DAG run:

* ``run_date`` -- the run date printed like a JavaScript date (``Fri Jan 13 2017 10:56:45 GMT-0700``);
* ``interval`` -- the interval text (``2017-01-13T10:00:00.000-0700/2017-01-13T11:00:00.000-0700``);
* ``interval_start`` / ``interval_end`` -- aware ``datetime`` objects;
* ``tz`` -- the report's time zone name;

plus the user's own ``params`` (e.g. ``company``, ``job_name``). The built-in builders
reject parameters they do not know, so a misspelt one fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from contact_center_provider.transforms.reports import abandons, call_detail, presence
from contact_center_provider.transforms.reports.tables import empty_table

__all__ = ["REPORTS", "STANDARD_PARAMS", "ReportSpec", "UnknownReportError", "get_report"]

#: Parameters the render operator always passes to a builder.
STANDARD_PARAMS = frozenset({"run_date", "interval", "interval_start", "interval_end", "tz"})

Builder = Callable[..., dict[str, Any]]


class UnknownReportError(KeyError):
    """Raised for a report name that is not built in; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else super().__str__()


@dataclass(frozen=True)
class ReportSpec:
    """A built-in report.

    :param name: registry name.
    :param template: template file name in the template search path.
    :param builder: ``(tables, **params) -> context``.
    :param inputs: table names that must be given.
    :param optional_inputs: table names that may be omitted (an empty table is used).
    :param extension: file extension of the output (``txt``, ``html``).
    """

    name: str
    template: str
    builder: Builder
    inputs: tuple[str, ...]
    optional_inputs: tuple[str, ...] = field(default=())
    extension: str = "html"

    def complete_tables(self, tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
        """Return ``tables`` with empty optional tables filled in.

        :raises ValueError: when a required table is missing.
        """
        missing = [name for name in self.inputs if name not in tables]
        if missing:
            raise ValueError(
                f"report {self.name!r} needs input tables {list(self.inputs)}; missing {missing}"
            )
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


def build_call_detail(
    tables: Mapping[str, pa.Table],
    *,
    run_date: str,
    interval: str,
    interval_step: str = "PT1H",
    **params: Any,
) -> dict[str, Any]:
    """Builder of the ``call_detail`` report; accepts ``interval_step`` (default ``PT1H``)."""
    _check_params("call_detail", params, set())
    return call_detail.call_detail_context(
        tables["conversations"],
        tables["participants"],
        tables["sessions"],
        tables.get("participant_attributes"),
        run_date=run_date,
        interval=interval,
        interval_step=interval_step,
    )


def build_presence(
    tables: Mapping[str, pa.Table],
    *,
    run_date: str,
    interval_start: datetime,
    interval_end: datetime,
    tz: str = "UTC",
    job_name: str = "Presence Detail Report",
    **params: Any,
) -> dict[str, Any]:
    """Builder of the ``presence`` report; accepts ``job_name``."""
    _check_params("presence", params, set())
    return presence.presence_context(
        tables["presence"],
        tables["routing_status"],
        tables.get("users"),
        tables.get("presence_definitions"),
        interval_start=interval_start,
        interval_end=interval_end,
        tz=tz,
        job_name=job_name,
        run_date=run_date,
    )


REPORTS: dict[str, ReportSpec] = {
    "abandons": ReportSpec(
        name="abandons",
        template=abandons.TEMPLATE,
        builder=build_abandons,
        inputs=("conversations", "participants", "sessions"),
        extension="txt",
    ),
    "call_detail": ReportSpec(
        name="call_detail",
        template=call_detail.TEMPLATE,
        builder=build_call_detail,
        inputs=("conversations", "participants", "sessions"),
        optional_inputs=("participant_attributes",),
    ),
    "presence": ReportSpec(
        name="presence",
        template=presence.TEMPLATE,
        builder=build_presence,
        inputs=("presence", "routing_status"),
        optional_inputs=("users", "presence_definitions"),
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
