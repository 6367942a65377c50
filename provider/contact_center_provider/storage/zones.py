"""Where things land: the raw, tables and reports zones under one base URI.

```
{base}/raw/{vendor}/{dataset}/{partition}/...     exactly what the vendor returned
{base}/tables/{vendor}/{table}/{partition}/...    Parquet / CSV with explicit schemas
{base}/reports/{report}/{partition}/...           rendered reports
```

``{partition}`` is the ONE place a partition is computed, from the data interval's start
*and end*: ``interval_start=20240501T000000Z/interval_end=20240501T010000Z``. Both are
Hive-style levels, so query engines see them as columns; an hourly and a daily run that
start at the same instant land apart instead of overwriting each other. Re-running or
backfilling an interval rewrites the same objects. Exports of the same dataset with
different selections (the abandon and call-detail DAGs both export conversations) are
told apart by a named level before it: ``export=abandons/``.

Every operator and the example DAGs use :class:`Partition`; nothing else formats one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contact_center_provider.storage.uri import join_uri

_STAMP = "%Y%m%dT%H%M%SZ"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"Partition bound {value.isoformat()} has no time zone")
    utc = value.astimezone(UTC)
    # A plain datetime (not a pendulum one from the context) so equality and hashing are simple.
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )


def _check_export(export: str | None) -> None:
    if export is not None and ("/" in export or "=" in export or export in {"", ".", ".."}):
        raise ValueError(f"Export name {export!r} must be non-empty and contain neither '/' nor '='")


@dataclass(frozen=True)
class Partition:
    """The partition of one data interval ``[start, end)``, optionally of a named export.

    :param start: interval start (any zone; stored in UTC).
    :param end: interval end, after ``start``.
    :param export: names a selection when several exports share a dataset (``export=<name>``).
    """

    start: datetime
    end: datetime
    export: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))
        if self.end <= self.start:
            raise ValueError(
                f"Partition interval end {self.end.isoformat()} is not after its start {self.start.isoformat()}"
            )
        _check_export(self.export)

    @property
    def path(self) -> str:
        """The relative path, e.g. ``export=abandons/interval_start=.../interval_end=...``."""
        interval = f"interval_start={self.start.strftime(_STAMP)}/interval_end={self.end.strftime(_STAMP)}"
        return f"export={self.export}/{interval}" if self.export else interval

    @property
    def interval(self) -> str:
        """``start/end`` in ISO-8601 (the form manifests and XCom carry)."""
        return (
            f"{self.start.isoformat().replace('+00:00', 'Z')}/{self.end.isoformat().replace('+00:00', 'Z')}"
        )

    def with_export(self, export: str | None) -> Partition:
        return Partition(self.start, self.end, export)

    def to_dict(self) -> dict[str, Any]:
        return {"interval": self.interval, "export": self.export}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Partition:
        return cls.parse(str(data["interval"]), data.get("export"))

    @classmethod
    def parse(cls, interval: str, export: str | None = None) -> Partition:
        """Build from ``"start/end"`` ISO-8601 text (``Z`` or an offset required)."""
        try:
            start_text, end_text = interval.split("/")
            start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
            end = datetime.fromisoformat(end_text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"Not an interval 'start/end' in ISO-8601: {interval!r}") from exc
        return cls(start, end, export)


def raw_prefix(base: str, vendor: str, dataset: str, partition: Partition) -> str:
    """``{base}/raw/{vendor}/{dataset}/{partition}``."""
    return join_uri(base, "raw", vendor, dataset, partition.path)


def table_prefix(base: str, vendor: str, table: str, partition: Partition) -> str:
    """``{base}/tables/{vendor}/{table}/{partition}``."""
    return join_uri(base, "tables", vendor, table, partition.path)


def table_uri(base: str, vendor: str, table: str, partition: Partition, fmt: str = "parquet") -> str:
    """The one object of a table partition: ``{table_prefix}/part-00000.{fmt}``."""
    return join_uri(table_prefix(base, vendor, table, partition), f"part-00000.{fmt}")


def report_prefix(base: str, report: str, partition: Partition) -> str:
    """``{base}/reports/{report}/{partition}`` (a report has no export level: its name is its own)."""
    return join_uri(base, "reports", report, partition.with_export(None).path)
