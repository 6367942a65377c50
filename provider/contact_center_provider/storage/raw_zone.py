"""Landing vendor output in the raw zone: each attempt apart, the manifest published last.

Layout of one landing (``prefix`` is ``{base}/raw/{vendor}/{dataset}/{partition}``)::

    {prefix}/_manifest.json                      the pointer readers follow (written last)
    {prefix}/_attempts/{attempt}/page-00000.json exactly what the vendor sent, one object a page

Each attempt writes under its own ``_attempts/{attempt}/`` prefix, so a re-run that
fails half-way leaves the previous complete landing (its manifest and its pages)
readable. Only after every page is written does :meth:`RawLanding.publish` replace
``_manifest.json`` (atomically) and then delete the older attempts. Readers go through
the manifest (:func:`read_manifest`, :func:`iter_pages`), never by listing the prefix.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contact_center_provider.storage.atomic import AtomicWriter, write_bytes
from contact_center_provider.storage.manifest import Manifest, ManifestEntry, write_manifest
from contact_center_provider.storage.manifest import read_manifest as read_manifest_file
from contact_center_provider.storage.uri import delete_prefix, join_uri, list_uris, read_bytes

MANIFEST_NAME = "_manifest.json"
ATTEMPTS_DIR = "_attempts"


def new_attempt_id() -> str:
    """A sortable, unique attempt id: ``20261201T141500Z-3f9a1c``."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass
class RawLanding:
    """Writes the output of one export attempt under ``{prefix}/_attempts/{attempt}/``.

    :param prefix: partition URI in the raw zone.
    :param conn_id: storage connection (e.g. an AWS connection for ``s3://``).
    :param extension: default file extension of each page (``.json``, ``.jsonl``, ``.csv``...).
    :param attempt: the attempt id (a new one by default).
    """

    prefix: str
    conn_id: str | None = None
    extension: str = ".json"
    attempt: str = field(default_factory=new_attempt_id)
    manifest: Manifest = field(default_factory=Manifest)

    @property
    def attempt_prefix(self) -> str:
        return join_uri(self.prefix, ATTEMPTS_DIR, self.attempt)

    @property
    def records(self) -> int:
        return self.manifest.total_rows()

    @property
    def pages(self) -> list[str]:
        return self.manifest.uris()

    def _next_uri(self, extension: str | None) -> str:
        ext = extension if extension is not None else self.extension
        return join_uri(self.attempt_prefix, f"page-{len(self.manifest.entries):05d}{ext}")

    def staging_uri(self, name: str) -> str:
        """A URI inside this attempt for something staged before landing (e.g. a result body)."""
        return join_uri(self.attempt_prefix, "_staged", name)

    def read_staged(self, uri: str) -> bytes:
        """The bytes staged at ``uri`` (by the poll trigger) for this landing."""
        return read_bytes(uri, self.conn_id)

    def write_page(self, raw: bytes, records: int | None, *, extension: str | None = None) -> str:
        """Write one page exactly as the vendor sent it; return its URI."""
        uri = self._next_uri(extension)
        # The raw zone keeps the vendor's bytes: no compression inferred from a name like .gz.
        size = write_bytes(uri, raw, conn_id=self.conn_id, compression="disable")
        self.manifest.add(ManifestEntry(uri, records, size, uri.rsplit(".", 1)[-1]))
        return uri

    def write_stream(
        self,
        chunks: Iterable[bytes],
        records: int | Callable[[], int | None] | None = None,
        *,
        extension: str | None = None,
    ) -> str:
        """Write one object from chunks (a large download) without holding it in memory.

        ``records`` may be a callable, asked once the stream is consumed (a count made on the way).
        """
        uri = self._next_uri(extension)
        writer = AtomicWriter(uri, "wb", conn_id=self.conn_id, compression="disable")
        with writer:
            for chunk in chunks:
                writer.stream.write(chunk)
        rows = records() if callable(records) else records
        self.manifest.add(ManifestEntry(uri, rows, writer.bytes_written, uri.rsplit(".", 1)[-1]))
        return uri

    def publish(self, **extra: Any) -> dict[str, Any]:
        """Publish this attempt (manifest last), drop older attempts, return the :func:`summary`."""
        self.manifest.extra.update(extra, prefix=self.prefix, attempt=self.attempt)
        write_manifest(join_uri(self.prefix, MANIFEST_NAME), self.manifest, self.conn_id)
        self._drop_other_attempts()
        return summary(self.manifest)

    def _drop_other_attempts(self) -> None:
        root = join_uri(self.prefix, ATTEMPTS_DIR)
        keep = self.attempt_prefix.rstrip("/") + "/"
        stale = {
            uri[: uri.index("/", len(root) + 1) + 1]
            for uri in list_uris(root, self.conn_id)
            if not uri.startswith(keep) and "/" in uri[len(root) + 1 :]
        }
        for attempt_prefix in sorted(stale):
            delete_prefix(attempt_prefix, self.conn_id)


def summary(manifest: Manifest) -> dict[str, Any]:
    """A landing as a flat dict: its ``extra`` plus ``pages`` (URIs), ``records``, ``bytes``."""
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


def manifest_prefix(manifest: dict[str, Any] | str) -> str:
    """The landing prefix of an upstream task's result (its ``prefix``) or of a manifest URI."""
    if isinstance(manifest, str):
        return manifest.removesuffix("/" + MANIFEST_NAME)
    return str(manifest["prefix"])


def read_manifest(prefix: str, conn_id: str | None = None) -> dict[str, Any]:
    """The :func:`summary` of a published landing; a missing manifest means none was published."""
    uri = join_uri(prefix, MANIFEST_NAME)
    try:
        return summary(read_manifest_file(uri, conn_id))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"No complete raw landing at {prefix}: {MANIFEST_NAME} is missing") from exc


def iter_pages(manifest: dict[str, Any], conn_id: str | None = None) -> Iterator[bytes]:
    """The landed pages' bytes, in landing order, one at a time."""
    for uri in manifest["pages"]:
        yield read_bytes(uri, conn_id)
