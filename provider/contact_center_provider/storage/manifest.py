"""Manifests: what a task wrote, as JSON-native data for XCom and as a JSON file.

Between tasks only URIs travel (DESIGN.md "Data zones"); a :class:`Manifest`
is that list of URIs plus row and byte counts and free-form JSON ``extra``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MANIFEST_VERSION", "Manifest", "ManifestEntry", "read_manifest", "write_manifest"]

MANIFEST_VERSION = 1


@dataclass
class ManifestEntry:
    """One object written by a task.

    :param uri: where the object is.
    :param rows: data rows in it (``None`` when not meaningful, e.g. raw artifacts).
    :param bytes: stored size in bytes (after compression), ``None`` if unknown.
    :param format: ``"parquet"``, ``"csv"``, ``"jsonl"``, ``"json"``, ``"html"``, ...
    :param table: logical table (or dataset/report) name the object belongs to.
    """

    uri: str
    rows: int | None
    bytes: int | None
    format: str
    table: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "rows": self.rows,
            "bytes": self.bytes,
            "format": self.format,
            "table": self.table,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ManifestEntry:
        return cls(
            uri=str(data["uri"]),
            rows=None if data.get("rows") is None else int(data["rows"]),
            bytes=None if data.get("bytes") is None else int(data["bytes"]),
            format=str(data["format"]),
            table=None if data.get("table") is None else str(data["table"]),
        )


@dataclass
class Manifest:
    """Objects written by one task run, with extra JSON metadata."""

    entries: list[ManifestEntry] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, *entries: ManifestEntry) -> None:
        """Append entries (e.g. the results of writers' ``close()``)."""
        self.entries.extend(entries)

    def uris(self, table: str | None = None) -> list[str]:
        """URIs in insertion order, optionally only those of ``table``."""
        return [e.uri for e in self.entries if table is None or e.table == table]

    def total_rows(self, table: str | None = None) -> int:
        """Sum of rows (entries without a row count add 0), optionally for one table."""
        return sum(e.rows or 0 for e in self.entries if table is None or e.table == table)

    def total_bytes(self, table: str | None = None) -> int:
        """Sum of stored bytes, optionally for one table."""
        return sum(e.bytes or 0 for e in self.entries if table is None or e.table == table)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-native dict (safe for XCom).

        :raises TypeError: if ``extra`` holds something JSON cannot represent.
        """
        data = {
            "version": MANIFEST_VERSION,
            "entries": [e.to_dict() for e in self.entries],
            "extra": self.extra,
        }
        # Round-trip so tuples become lists and a non-JSON value fails here, in
        # the task that produced it, not later in XCom serialisation.
        result: dict[str, Any] = json.loads(json.dumps(data, allow_nan=False))
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Rebuild a manifest from :meth:`to_dict` output.

        :raises ValueError: for a manifest written by a newer, incompatible version.
        """
        version = int(data.get("version", MANIFEST_VERSION))
        if version > MANIFEST_VERSION:
            raise ValueError(f"manifest version {version} is newer than supported ({MANIFEST_VERSION})")
        return cls(
            entries=[ManifestEntry.from_dict(e) for e in data.get("entries", [])],
            extra=dict(data.get("extra") or {}),
        )


def write_manifest(uri: str, manifest: Manifest, conn_id: str | None = None) -> ManifestEntry:
    """Store ``manifest`` as pretty JSON at ``uri``, atomically; return its own entry."""
    from contact_center_provider.storage.atomic import write_bytes

    payload = json.dumps(manifest.to_dict(), indent=2, sort_keys=True).encode("utf-8") + b"\n"
    size = write_bytes(uri, payload, conn_id)
    return ManifestEntry(uri=uri, rows=None, bytes=size, format="json", table=None)


def read_manifest(uri: str, conn_id: str | None = None) -> Manifest:
    """Load a manifest written by :func:`write_manifest`."""
    from contact_center_provider.storage.uri import read_bytes

    return Manifest.from_dict(json.loads(read_bytes(uri, conn_id, decompress=True)))
