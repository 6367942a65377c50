"""Atomic publication of one object: readers see the whole object or nothing.

Guarantees by store:

- **Local files**: data goes to a hidden temp file in the target directory
  (``.<name>.tmp-<random>``), is fsync'ed, then ``os.replace``-d onto the final
  name (atomic on POSIX within one filesystem); on error the temp file is
  removed. Parent directories are created.
- **S3** (and S3-compatible stores): smart_open's multipart upload (or single
  PUT with ``multipart_upload=False``). The object only appears when the upload
  is completed on success; on error the upload is aborted (``terminate()``), so
  no object and no dangling parts are left. smart_open 9 does the same inside its
  own ``with`` block, but a plain ``close()`` -- which the garbage collector calls
  on an unclosed writer -- *completes* the upload, so we drive the raw writer
  ourselves and never let it be closed on an error path.
- **Azure**: staged blocks are committed only on success; ``terminate()`` drops them.
- **GCS** (best effort): the resumable upload is finalised only on success; on
  error we do not finalise it (and disarm the writer so garbage collection cannot
  finalise it); GCS expires the unfinished session. Chunks already sent are
  never visible as an object.

Compression follows the final name's extension (``.gz``, ``.bz2``, ``.xz``,
``.zst``) and sits above the atomic layer, so a compressed object is atomic too.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import secrets
from collections.abc import Iterator
from pathlib import PurePosixPath
from types import TracebackType
from typing import IO, Any, cast

from contact_center_provider.storage.uri import TEMP_MARKER, is_local, local_path, split_uri
from contact_center_provider.storage.uri import transport_params as resolve_transport_params

__all__ = ["AtomicWriter", "atomic_open", "write_bytes"]

INFER = "infer_from_extension"
# gzip.open defaults to level 9: several times slower than 6 for ~1% smaller files.
_DEFAULT_COMPRESSION_KWARGS: dict[str, dict[str, Any]] = {".gz": {"compresslevel": 6}}


class _CountingStream(io.BufferedIOBase):
    """The layer between compression/text wrappers and the store's raw writer.

    Counts stored bytes, and its ``close()`` never closes the raw writer: only
    :class:`AtomicWriter` decides between commit and abort.
    """

    def __init__(self, raw: Any, name: str) -> None:
        super().__init__()
        self._raw = raw
        self.name = name
        self.bytes_written = 0
        self._discard = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed storage stream")
        size = memoryview(data).nbytes
        if not self._discard:
            self._raw.write(data)
        self.bytes_written += size
        return size

    def tell(self) -> int:
        return self.bytes_written

    def flush(self) -> None:
        if not self.closed and not self._discard:
            self._raw.flush()

    def discard(self) -> None:
        """Drop any further writes (used while tearing down after an error)."""
        self._discard = True


class _LocalSink:
    def __init__(self, path: str) -> None:
        self.final = os.path.abspath(path)
        self.directory = os.path.dirname(self.final)
        os.makedirs(self.directory, exist_ok=True)
        name = os.path.basename(self.final)
        self.tmp = os.path.join(self.directory, f".{name}{TEMP_MARKER}{secrets.token_hex(6)}")
        # "x": never clobber another writer's temp file. Normal umask permissions,
        # unlike mkstemp's 0600, so the published file looks like any other.
        self.raw: IO[bytes] = open(self.tmp, "xb")  # noqa: SIM115 - closed by commit/abort

    def commit(self) -> None:
        self.raw.flush()
        os.fsync(self.raw.fileno())
        self.raw.close()
        os.replace(self.tmp, self.final)
        # Make the rename itself durable; not possible on every platform/filesystem.
        with contextlib.suppress(OSError):
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.raw.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


class _RemoteSink:
    def __init__(self, uri: str, params: dict[str, Any]) -> None:
        import smart_open

        opened = smart_open.open(uri, "wb", compression="disable", transport_params=params)
        # smart_open wraps the transport writer in a proxy; we need the writer itself
        # (MultipartWriter, SinglepartWriter, azure Writer, GCS BlobWriter).
        self.raw: Any = getattr(opened, "__wrapped__", opened)

    def commit(self) -> None:
        self.raw.close()

    def abort(self) -> None:
        terminate = getattr(self.raw, "terminate", None)
        if terminate is not None:
            terminate()
        else:
            # GCS BlobWriter has no terminate(); make sure nothing (including the
            # io finaliser at garbage collection) can finalise the upload.
            self.raw.close = _noop


def _noop() -> None:
    return None


class AtomicWriter:
    """One object being written; published by :meth:`commit`, discarded by :meth:`abort`.

    Use :func:`atomic_open` unless the lifetime spans several calls (as in the
    table writers). Write to :attr:`stream`. A writer that is garbage-collected
    without commit or abort is aborted, never published.

    :param uri: final URI or local path.
    :param mode: ``"wb"`` (bytes) or ``"w"`` (text).
    :param conn_id: Airflow connection id for the object store.
    :param encoding: text encoding (``"w"`` mode; default UTF-8). Passing it with
        ``"wb"`` switches to text, as in smart_open.
    :param newline: as for :func:`open` in text mode (use ``""`` for the csv module).
    :param compression: ``"infer_from_extension"`` (default), ``"disable"`` or an
        extension such as ``".gz"``.
    :param compression_kwargs: passed to the compressor (default gzip level 6).
    :param transport_params: extra smart_open transport params merged over the
        resolved client (e.g. ``min_part_size``, ``client_kwargs`` for SSE).
    """

    def __init__(
        self,
        uri: str,
        mode: str = "wb",
        *,
        conn_id: str | None = None,
        encoding: str | None = None,
        newline: str | None = None,
        compression: str = INFER,
        compression_kwargs: dict[str, Any] | None = None,
        transport_params: dict[str, Any] | None = None,
    ) -> None:
        if mode not in {"wb", "w", "wt"}:
            raise ValueError(f"atomic writes support modes 'wb' and 'w', not {mode!r} ({uri!r})")
        self.uri = uri
        self._state = "new"
        _, _, key = split_uri(uri)
        name = posixpath.basename(key.rstrip("/"))
        if not name:
            raise ValueError(f"{uri!r} names a directory or bucket, not an object")
        if is_local(uri):
            sink: _LocalSink | _RemoteSink = _LocalSink(local_path(uri))
        else:
            params = resolve_transport_params(uri, conn_id)
            params.update(transport_params or {})
            sink = _RemoteSink(uri, params)
        self._sink = sink
        self._state = "open"
        self._counter = _CountingStream(sink.raw, name)
        try:
            self.stream: IO[Any] = self._wrap(name, mode, encoding, newline, compression, compression_kwargs)
        except BaseException:
            self.abort()
            raise

    def _wrap(
        self,
        name: str,
        mode: str,
        encoding: str | None,
        newline: str | None,
        compression: str,
        compression_kwargs: dict[str, Any] | None,
    ) -> IO[Any]:
        from smart_open import compression as so_compression

        ext = PurePosixPath(name).suffix.lower() if compression == INFER else compression
        kwargs = (
            compression_kwargs if compression_kwargs is not None else _DEFAULT_COMPRESSION_KWARGS.get(ext)
        )
        layer: IO[Any] = so_compression.compression_wrapper(
            cast(IO[Any], self._counter), "wb", compression, filename=name, compression_kwargs=kwargs
        )
        if mode != "wb" or encoding is not None:
            layer = io.TextIOWrapper(layer, encoding=encoding or "utf-8", newline=newline)
        return layer

    @property
    def bytes_written(self) -> int:
        """Bytes handed to the store so far (after compression)."""
        return self._counter.bytes_written

    @property
    def state(self) -> str:
        """``"open"``, ``"committed"`` or ``"aborted"``."""
        return self._state

    def commit(self) -> None:
        """Flush every layer and publish the object at :attr:`uri`.

        If publishing fails the write is aborted before the error propagates.
        """
        if self._state != "open":
            raise ValueError(f"cannot commit {self.uri!r}: writer is {self._state}")
        try:
            self.stream.close()
            self._sink.commit()
        except BaseException:
            self.abort()
            raise
        self._state = "committed"

    def abort(self) -> None:
        """Discard everything written; nothing appears at :attr:`uri`. Idempotent."""
        if self._state != "open":
            return
        self._state = "aborted"
        counter = getattr(self, "_counter", None)
        if counter is not None:
            counter.discard()
        stream = getattr(self, "stream", None)
        if stream is not None:
            # Closing the wrappers only flushes into the discarding counter; it
            # spares us "Exception ignored in __del__" noise later.
            with contextlib.suppress(Exception):
                stream.close()
        self._sink.abort()

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def __del__(self) -> None:
        if getattr(self, "_state", None) == "open":
            with contextlib.suppress(Exception):
                self.abort()


@contextlib.contextmanager
def atomic_open(
    uri: str,
    mode: str = "wb",
    *,
    conn_id: str | None = None,
    encoding: str | None = None,
    newline: str | None = None,
    compression: str = INFER,
    compression_kwargs: dict[str, Any] | None = None,
    transport_params: dict[str, Any] | None = None,
) -> Iterator[IO[Any]]:
    """Open ``uri`` for writing; publish on normal exit, discard if the block raises.

    A reader never sees a partial object at ``uri`` (see the module docstring for
    the per-store guarantee). Closing the yielded stream inside the block is
    allowed; publication still happens only when the block exits cleanly.
    Parameters are those of :class:`AtomicWriter`.

    Example::

        with atomic_open("s3://bucket/raw/page-1.json.gz", "w", conn_id="aws_exports") as f:
            f.write(payload)
    """
    writer = AtomicWriter(
        uri,
        mode,
        conn_id=conn_id,
        encoding=encoding,
        newline=newline,
        compression=compression,
        compression_kwargs=compression_kwargs,
        transport_params=transport_params,
    )
    try:
        yield writer.stream
    except BaseException:
        writer.abort()
        raise
    writer.commit()


def write_bytes(
    uri: str,
    data: bytes,
    conn_id: str | None = None,
    *,
    compression: str = INFER,
    transport_params: dict[str, Any] | None = None,
) -> int:
    """Atomically write ``data`` to ``uri`` (compressed if the extension says so).

    :returns: the number of bytes stored (after compression).
    """
    writer = AtomicWriter(
        uri, "wb", conn_id=conn_id, compression=compression, transport_params=transport_params
    )
    with writer:
        writer.stream.write(data)
    return writer.bytes_written
