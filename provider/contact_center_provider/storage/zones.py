"""Where things land: the raw, tables and reports zones under one base URI.

```
{base}/raw/{vendor}/{dataset}/{partition}/...     exactly what the vendor returned
{base}/tables/{vendor}/{table}/{partition}/...    Parquet / CSV with explicit schemas
{base}/reports/{report}/{partition}/...           rendered reports
```

``{partition}`` is Hive-style and derived from the run's data interval only
(``interval_start=20240501T000000Z``), so re-running or backfilling an interval
rewrites the same objects and three intervals give three partitions. Exports of the
same dataset with different selections (the abandon and call-detail DAGs both export
conversations) are told apart by a named level before it: ``export=abandons/``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from contact_center_provider.storage.uri import join_uri


def partition(interval_start: datetime, export: str | None = None) -> str:
    """The Hive-style partition, e.g. ``export=abandons/interval_start=20240501T000000Z``."""
    interval = "interval_start=" + interval_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if not export:
        return interval
    if "/" in export or "=" in export or export in {".", ".."}:
        raise ValueError(f"Export name {export!r} must not contain '/' or '='")
    return f"export={export}/{interval}"


def raw_prefix(
    base: str, vendor: str, dataset: str, interval_start: datetime, export: str | None = None
) -> str:
    return join_uri(base, "raw", vendor, dataset, partition(interval_start, export))


def table_prefix(
    base: str, vendor: str, table: str, interval_start: datetime, export: str | None = None
) -> str:
    return join_uri(base, "tables", vendor, table, partition(interval_start, export))


def table_uri(
    base: str,
    vendor: str,
    table: str,
    interval_start: datetime,
    fmt: str = "parquet",
    export: str | None = None,
) -> str:
    return join_uri(table_prefix(base, vendor, table, interval_start, export), f"part-00000.{fmt}")


def report_uri(base: str, report: str, interval_start: datetime, filename: str) -> str:
    return join_uri(base, "reports", report, partition(interval_start), filename)
