"""Landing vendor responses in the raw zone, page by page, with a manifest written last.

A landing first clears its partition (a re-run must not keep stale pages of a
longer earlier export), writes each page atomically as it arrives (never the whole
export in memory), and finally writes ``_manifest.json``. Readers go through the
manifest, so they only ever see a complete set of pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from contact_center_provider.storage.atomic import write_bytes
from contact_center_provider.storage.manifest import Manifest, ManifestEntry, write_manifest
from contact_center_provider.storage.manifest import read_manifest as read_manifest_file
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
    manifest: Manifest = field(default_factory=Manifest)

    @property
    def records(self) -> int:
        return self.manifest.total_rows()

    @property
    def pages(self) -> list[str]:
        return self.manifest.uris()

    def clear(self) -> None:
        delete_prefix(self.prefix, self.conn_id)

    def write_page(self, raw: bytes, records: int) -> str:
        uri = join_uri(self.prefix, f"page-{len(self.manifest.entries):05d}{self.extension}")
        size = write_bytes(uri, raw, conn_id=self.conn_id)
        self.manifest.add(ManifestEntry(uri, records, size, self.extension.lstrip(".")))
        return uri

    def finish(self, **extra: Any) -> dict[str, Any]:
        """Write the manifest (last) and return its :func:`summary`."""
        self.manifest.extra.update(extra, prefix=self.prefix)
        write_manifest(join_uri(self.prefix, MANIFEST_NAME), self.manifest, self.conn_id)
        return summary(self.manifest)


def summary(manifest: Manifest) -> dict[str, Any]:
    """A landing as a flat dict: its ``extra`` plus ``prefix``, ``pages`` (URIs), ``records``, ``bytes``."""
    return {
        **manifest.extra,
        "pages": manifest.uris(),
        "records": manifest.total_rows(),
        "bytes": manifest.total_bytes(),
    }


def for_xcom(landing: dict[str, Any]) -> dict[str, Any]:
    """What travels through XCom: the summary without the (possibly long) page list."""
    small = {k: v for k, v in landing.items() if k != "pages"}
    small["pages"] = len(landing["pages"])
    small["manifest_uri"] = join_uri(landing["prefix"], MANIFEST_NAME)
    return small


def read_manifest(prefix: str, conn_id: str | None = None) -> dict[str, Any]:
    """The :func:`summary` of a finished landing; a missing manifest means it never completed."""
    uri = join_uri(prefix, MANIFEST_NAME)
    try:
        return summary(read_manifest_file(uri, conn_id))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"No complete raw landing at {prefix}: {MANIFEST_NAME} is missing") from exc


def iter_pages(manifest: dict[str, Any], conn_id: str | None = None) -> Iterator[bytes]:
    """The landed pages' bytes, in landing order, one at a time."""
    for uri in manifest["pages"]:
        yield read_bytes(uri, conn_id)
