"""Apache Airflow 3 provider for contact-center data exports."""

from __future__ import annotations

__version__ = "0.1.0"
