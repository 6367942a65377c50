"""Landing vendor responses in the raw zone, page by page, with a manifest written last.

A landing first clears its partition (a re-run must not keep stale pages of a
longer earlier export), writes each page atomically as it arrives (never the whole
export in memory), and finally writes ``_manifest.json``. Readers go through the
manifest, so they only ever see a complete set of pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from contact_center_provider.storage.atomic import write_bytes
from contact_center_provider.storage.uri import delete_prefix, join_uri, read_bytes

MANIFEST_NAME = "_manifest.json"


@dataclass
class RawLanding:
    """Writes the pages of one export into ``prefix``.

    :param prefix: partition URI in the raw zone.
    :param conn_id: storage connection (e.g. an AWS connection for ``s3://``).
    :param extension: file extension of each page (``.json``, ``.jsonl``, ``.csv``...).
    """

    prefix: str
    conn_id: str | None = None
    extension: str = ".json"
    pages: list[str] = field(default_factory=list)
    records: int = 0
    total_bytes: int = 0

    def clear(self) -> None:
        delete_prefix(self.prefix, self.conn_id)

    def write_page(self, raw: bytes, records: int) -> str:
        uri = join_uri(self.prefix, f"page-{len(self.pages):05d}{self.extension}")
        write_bytes(uri, raw, conn_id=self.conn_id)
        self.pages.append(uri)
        self.records += records
        self.total_bytes += len(raw)
        return uri

    def finish(self, **extra: Any) -> dict[str, Any]:
        """Write the manifest (last) and return it; it is small and JSON-native, fit for XCom."""
        manifest = {
            "prefix": self.prefix,
            "pages": self.pages,
            "records": self.records,
            "bytes": self.total_bytes,
            **extra,
        }
        write_bytes(
            join_uri(self.prefix, MANIFEST_NAME),
            json.dumps(manifest, indent=1).encode(),
            conn_id=self.conn_id,
        )
        return manifest


def read_manifest(prefix: str, conn_id: str | None = None) -> dict[str, Any]:
    """The manifest of a finished landing; a missing one means the landing never completed."""
    uri = join_uri(prefix, MANIFEST_NAME)
    try:
        data: dict[str, Any] = json.loads(read_bytes(uri, conn_id))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"No complete raw landing at {prefix}: {MANIFEST_NAME} is missing") from exc
    return data


def iter_pages(manifest: dict[str, Any], conn_id: str | None = None) -> Iterator[bytes]:
    """The landed pages' bytes, in landing order, one at a time."""
    for uri in manifest["pages"]:
        yield read_bytes(uri, conn_id)
