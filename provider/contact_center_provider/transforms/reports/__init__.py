"""Builders, formatting and rendering of the Open Data Exporter reports (pure, no Airflow).

``abandons`` (flat text), ``call_detail`` (HTML) and ``presence`` (HTML) are built from
the Genesys tables of :mod:`contact_center_provider.transforms.genesys_schemas` and
rendered with the Jinja2 templates in ``include/templates/`` (shipped in the package
as ``contact_center_provider/templates``). See :mod:`.registry` for the builder contract.
"""

from __future__ import annotations

from contact_center_provider.transforms.reports.registry import (
    REPORTS,
    ReportSpec,
    UnknownReportError,
    get_report,
)
from contact_center_provider.transforms.reports.render import default_template_dir, make_environment, render

__all__ = [
    "REPORTS",
    "ReportSpec",
    "UnknownReportError",
    "default_template_dir",
    "get_report",
    "make_environment",
    "render",
]
