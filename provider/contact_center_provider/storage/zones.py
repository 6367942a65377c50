"""Where things land: the raw, tables and reports zones under one base URI.

```
{base}/raw/{vendor}/{dataset}/{partition}/...     exactly what the vendor returned
{base}/tables/{vendor}/{table}/{partition}/...    Parquet / CSV with explicit schemas
{base}/reports/{report}/{partition}/...           rendered reports
```

``{partition}`` is Hive-style and derived from the run's data interval only
(``interval_start=20240501T000000Z``), so re-running or backfilling an interval
rewrites the same objects and three intervals give three partitions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from contact_center_provider.storage.uri import join_uri


def partition(interval_start: datetime) -> str:
    """The Hive-style partition of an interval, e.g. ``interval_start=20240501T000000Z``."""
    return "interval_start=" + interval_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def raw_prefix(base: str, vendor: str, dataset: str, interval_start: datetime) -> str:
    return join_uri(base, "raw", vendor, dataset, partition(interval_start))


def table_prefix(base: str, vendor: str, table: str, interval_start: datetime) -> str:
    return join_uri(base, "tables", vendor, table, partition(interval_start))


def table_uri(base: str, vendor: str, table: str, interval_start: datetime, fmt: str = "parquet") -> str:
    return join_uri(table_prefix(base, vendor, table, interval_start), f"part-00000.{fmt}")


def report_uri(base: str, report: str, interval_start: datetime, filename: str) -> str:
    return join_uri(base, "reports", report, partition(interval_start), filename)
