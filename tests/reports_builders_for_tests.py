"""A user-style report builder, imported by dotted path in the RenderReportOperator tests."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


def count_users(tables: dict[str, pa.Table], *, interval: str, who: str, **_standard: Any) -> dict[str, Any]:
    return {"n": len(set(tables["presence"].column("user_id").to_pylist())), "interval": interval, "who": who}
