"""Read a table of the tables zone back: one partition, or the union of many (Arrow or pandas).

Analysts read unions of partitions ("all of November"); each row comes back with its
partition's ``interval_start``, ``interval_end`` (and ``export``) as columns, the way a
Hive-aware engine (Athena, Spark, DuckDB) would show them. Only published files are read
(``part-*.parquet``; temporary names of a write in progress are skipped).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from contact_center_provider.storage.uri import join_uri, list_uris, read_bytes

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_LEVEL = re.compile(r"/(export|interval_start|interval_end)=([^/]+)")


def _levels(uri: str) -> dict[str, str]:
    return dict(_LEVEL.findall(uri))


def read_table(
    base: str,
    vendor: str,
    table: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    export: str | None = None,
    conn_id: str | None = None,
) -> pa.Table:
    """The union of a table's partitions whose intervals lie within ``[start, end)``.

    :param base: base URI of the zones.
    :param vendor: vendor key, e.g. ``"genesys_cloud"``.
    :param table: table name, e.g. ``"conversations"``.
    :param start: keep partitions starting at or after this instant (default: all).
    :param end: keep partitions ending at or before this instant (default: all).
    :param export: keep only this export's partitions (default: partitions of any export).
    :param conn_id: storage connection.
    :raises FileNotFoundError: when no partition matches.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    pieces = []
    for uri in list_uris(join_uri(base, "tables", vendor, table), conn_id):
        name = uri.rsplit("/", 1)[-1]
        if not (name.startswith("part-") and name.endswith(".parquet")):
            continue
        levels = _levels(uri)
        begins = datetime.strptime(levels["interval_start"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        ends = datetime.strptime(levels["interval_end"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if (start and begins < start) or (end and ends > end) or (export and levels.get("export") != export):
            continue
        piece = pq.read_table(pa.BufferReader(read_bytes(uri, conn_id)))
        for column, value in (("interval_start", begins), ("interval_end", ends)):
            piece = piece.append_column(
                column, pa.array([value] * piece.num_rows, pa.timestamp("s", tz="UTC"))
            )
        piece = piece.append_column("export", pa.array([levels.get("export")] * piece.num_rows, pa.string()))
        pieces.append(piece)
    if not pieces:
        raise FileNotFoundError(f"No partition of {vendor}/{table} under {base} matches")
    return pa.concat_tables(pieces, promote_options="permissive")


def read_frame(
    base: str,
    vendor: str,
    table: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    export: str | None = None,
    conn_id: str | None = None,
) -> pd.DataFrame:
    """:func:`read_table` as a pandas DataFrame (Arrow-backed dtypes, so nulls stay nulls)."""
    import pandas as pd

    arrow = read_table(base, vendor, table, start=start, end=end, export=export, conn_id=conn_id)
    return arrow.to_pandas(types_mapper=pd.ArrowDtype)
