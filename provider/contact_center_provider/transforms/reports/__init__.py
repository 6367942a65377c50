"""Builders, formatting and rendering of the Open Data Exporter reports (pure, no Airflow).

``abandons`` (flat text), ``call_detail`` (HTML) and ``presence`` (HTML) are built from
the Genesys tables of :mod:`contact_center_provider.transforms.genesys_schemas` and
rendered with the Jinja2 templates in ``include/templates/`` (shipped in the package
as ``contact_center_provider/templates``). See :mod:`.registry` for the builder contracts
and :mod:`.output` for reports made of several files.
"""

from __future__ import annotations

from contact_center_provider.transforms.reports.output import ReportFile, content_name, files_dir
from contact_center_provider.transforms.reports.registry import (
    REPORTS,
    ReportSpec,
    UnknownReportError,
    arrow_sources,
    get_report,
    render_files,
)
from contact_center_provider.transforms.reports.render import (
    default_template_dir,
    make_environment,
    make_renderer,
    render,
)
from contact_center_provider.transforms.reports.sources import ArrowSource, ParquetSource, TableSource

__all__ = [
    "REPORTS",
    "ArrowSource",
    "ParquetSource",
    "ReportFile",
    "ReportSpec",
    "TableSource",
    "UnknownReportError",
    "arrow_sources",
    "content_name",
    "default_template_dir",
    "files_dir",
    "get_report",
    "make_environment",
    "make_renderer",
    "render",
    "render_files",
]
