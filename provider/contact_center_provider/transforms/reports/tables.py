"""Small helpers to read report inputs from Arrow tables as ordered Python rows."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from contact_center_provider.transforms.genesys_schemas import ALL_TABLES

__all__ = ["conversation_order", "empty_table", "group_rows", "rows_of"]

Row = dict[str, Any]


def rows_of(table: pa.Table | None) -> list[Row]:
    """Return the table's rows as dicts (an absent table has no rows)."""
    return [] if table is None else table.to_pylist()


def empty_table(name: str) -> pa.Table:
    """Return an empty table with the fixed schema of the Genesys table ``name``."""
    return ALL_TABLES[name].empty_table()


def group_rows(rows: Iterable[Row], key: str | tuple[str, ...], order_by: str) -> dict[Hashable, list[Row]]:
    """Group rows by ``key`` (one column or a tuple of columns), each group sorted by ``order_by``.

    The sort is stable, so rows with equal (or null, sorted last) ordinals keep table order.
    """
    groups: dict[Hashable, list[Row]] = {}
    for row in rows:
        k = tuple(row.get(c) for c in key) if isinstance(key, tuple) else row.get(key)
        groups.setdefault(k, []).append(row)
    for members in groups.values():
        members.sort(key=lambda r: (r.get(order_by) is None, r.get(order_by) or 0))
    return groups


def conversation_order(conversations: pa.Table) -> list[Row]:
    """Return conversations ordered by ``conversation_start`` ascending, then ``conversation_id``.

    A conversation without a start time sorts last. Duplicate ids keep their first row.
    """
    seen: set[str] = set()
    unique = []
    for row in rows_of(conversations):
        if row["conversation_id"] not in seen:
            seen.add(row["conversation_id"])
            unique.append(row)

    def key(row: Row) -> tuple[bool, datetime | int, str]:
        start = row.get("conversation_start")
        return (start is None, start if start is not None else 0, row["conversation_id"])

    return sorted(unique, key=key)
