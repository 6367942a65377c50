"""Parse, join and open storage URIs (``s3://``, ``gs://``, ``azure://``, ``file://``, local paths).

Everything here resolves an Airflow connection id into the credentials object
smart_open needs (``transport_params``), so callers only ever handle a URI and a
connection id. Cloud SDKs, Airflow hooks and smart_open itself are imported on
first use: this module is safe to import while a DAG file is being parsed.

Supported schemes:

- ``s3://`` / ``s3a://`` / ``s3n://`` through ``S3Hook(aws_conn_id=...)``; an
  ``endpoint_url`` in the AWS connection's extra is honoured (MinIO, moto, ...).
- ``gs://`` through ``GCSHook(gcp_conn_id=...)``.
- ``azure://container/blob`` through ``WasbHook(wasb_conn_id=...)``.
- ``file://`` URIs and plain local paths (absolute or relative).

``conn_id=None`` means "the hook's default connection" (``aws_default``,
``google_cloud_default``, ``wasb_default``); for S3 a missing connection falls
back to boto3's default credential chain.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import unquote

__all__ = [
    "MissingStorageExtraError",
    "clear_client_cache",
    "delete_prefix",
    "delete_uris",
    "exists",
    "is_local",
    "join_uri",
    "list_uris",
    "local_path",
    "open_uri",
    "read_bytes",
    "split_uri",
    "transport_params",
]

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
S3_SCHEMES = frozenset({"s3", "s3a", "s3n"})
GCS_SCHEMES = frozenset({"gs"})
AZURE_SCHEMES = frozenset({"azure"})
# Hidden temp files written by storage.atomic; listings never show them.
TEMP_MARKER = ".tmp-"

_EXTRAS = {
    "s3": ("airflow.providers.amazon.aws.hooks.s3", "apache-airflow-providers-amazon", "s3"),
    "gs": ("airflow.providers.google.cloud.hooks.gcs", "apache-airflow-providers-google", "gcs"),
    "azure": (
        "airflow.providers.microsoft.azure.hooks.wasb",
        "apache-airflow-providers-microsoft-azure",
        "azure",
    ),
}


class MissingStorageExtraError(ImportError):
    """A URI needs an optional cloud provider that is not installed."""


# --------------------------------------------------------------------------- parsing


def split_uri(uri: str) -> tuple[str, str | None, str]:
    """Split a storage URI into ``(scheme, bucket, key_or_path)``.

    Local paths and ``file://`` URIs give ``("file", None, path)`` with the path
    percent-decoded; object-store URIs give the lower-cased scheme, the bucket (or
    container) and the key without a leading slash. Keys are returned verbatim:
    ``?`` and ``#`` are part of an S3 key, not a query or fragment.

    :param uri: the URI or local path.
    :raises ValueError: if ``uri`` is empty.
    """
    if not uri:
        raise ValueError("empty storage URI")
    match = _SCHEME_RE.match(uri)
    if match is None:
        return "file", None, uri
    scheme = match.group(1).lower()
    rest = uri[match.end() :]
    if scheme == "file":
        # file:///tmp/x and file://localhost/tmp/x both name /tmp/x.
        if not rest.startswith("/"):
            _, slash, path = rest.partition("/")
            rest = slash + path
        return "file", None, unquote(rest)
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


def is_local(uri: str) -> bool:
    """Return True for ``file://`` URIs and plain paths."""
    return split_uri(uri)[0] == "file"


def local_path(uri: str) -> str:
    """Return the filesystem path a local URI names.

    :raises ValueError: if ``uri`` is not local.
    """
    scheme, _, path = split_uri(uri)
    if scheme != "file":
        raise ValueError(f"{uri!r} is not a local path or file:// URI")
    return path


def join_uri(base: str, *parts: str) -> str:
    """Join path segments onto a URI or local path without doubling slashes.

    ``join_uri("s3://bucket/", "/raw/", "x.json")`` gives ``s3://bucket/raw/x.json``;
    ``join_uri("file:///tmp/out", "a")`` gives ``file:///tmp/out/a``; relative and
    absolute local paths keep their form. A trailing slash on the last segment is
    kept (handy for prefixes). Empty segments are skipped.

    :raises ValueError: if a joined segment is ``..`` -- a vendor-supplied name must
        never climb out of the base.
    """
    match = _SCHEME_RE.match(base)
    head, rest = (base[: match.end()], base[match.end() :]) if match else ("", base)
    pieces = [rest, *(p for p in parts if p)]
    segments: list[str] = []
    for index, piece in enumerate(pieces):
        for segment in piece.split("/"):
            if not segment:
                continue
            if index > 0 and segment == "..":
                raise ValueError(f"refusing to join '..' onto {base!r}: {parts!r}")
            segments.append(segment)
    leading = "/" if rest.startswith("/") else ""
    trailing = "/" if pieces[-1].endswith("/") and segments else ""
    return f"{head}{leading}{'/'.join(segments)}{trailing}"


# --------------------------------------------------------------------------- credentials


def _family(scheme: str) -> str:
    if scheme in S3_SCHEMES:
        return "s3"
    if scheme in GCS_SCHEMES:
        return "gs"
    if scheme in AZURE_SCHEMES:
        return "azure"
    return scheme


def _import_hook_module(family: str) -> Any:
    module_name, dist, extra = _EXTRAS[family]
    try:
        import importlib

        return importlib.import_module(module_name)
    except ImportError as err:
        raise MissingStorageExtraError(
            f"{family}:// URIs need {dist}: install 'airflow-provider-contact-center[{extra}]'"
        ) from err


_client_cache: dict[tuple[str, str | None, str], Any] = {}
_client_lock = threading.Lock()


def _conn_fingerprint(conn_id: str | None) -> str:
    # An AIRFLOW_CONN_* variable that changes (tests, a rotated secret in the
    # environment) must not be served a client built from the old value.
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", "") if conn_id else ""
    return hashlib.sha256(raw.encode()).hexdigest()


def _build_client(family: str, conn_id: str | None) -> Any:
    module = _import_hook_module(family)
    if family == "s3":
        hook = module.S3Hook() if conn_id is None else module.S3Hook(aws_conn_id=conn_id)
    elif family == "gs":
        hook = module.GCSHook() if conn_id is None else module.GCSHook(gcp_conn_id=conn_id)
    else:
        hook = module.WasbHook() if conn_id is None else module.WasbHook(wasb_conn_id=conn_id)
    # Not get_client_type(): its first positional argument is region_name.
    return hook.get_conn()


def _client(family: str, conn_id: str | None) -> Any:
    key = (family, conn_id, _conn_fingerprint(conn_id))
    with _client_lock:
        client = _client_cache.get(key)
        if client is None:
            client = _build_client(family, conn_id)
            _client_cache[key] = client
        return client


def clear_client_cache() -> None:
    """Forget the cached SDK clients (one per scheme family and connection id).

    Clients are cached because building one means a connection lookup (metadata
    DB or secrets backend) and an SDK client; a task writing hundreds of objects
    should pay that once. Call this after changing a connection in-process.
    """
    with _client_lock:
        _client_cache.clear()


def transport_params(uri: str, conn_id: str | None = None) -> dict[str, Any]:
    """Return smart_open ``transport_params`` carrying the client for ``uri``'s store.

    Local URIs and schemes smart_open handles on its own (``http``...) give ``{}``.

    :param uri: the URI to be opened.
    :param conn_id: Airflow connection id (AWS, Google Cloud or WASB); ``None`` uses
        the hook's default connection.
    :raises MissingStorageExtraError: if the matching Airflow provider is not installed.
    """
    family = _family(split_uri(uri)[0])
    if family in _EXTRAS:
        return {"client": _client(family, conn_id)}
    return {}


# --------------------------------------------------------------------------- I/O


def open_uri(uri: str, mode: str = "rb", *, conn_id: str | None = None, **kw: Any) -> IO[Any]:
    """Open ``uri`` with smart_open, credentials resolved from ``conn_id``.

    Compression follows the extension (``.gz`` etc.) unless ``compression=`` says
    otherwise. Writing through this function is NOT atomic for local files (a
    reader can see a partial file); use :func:`contact_center_provider.storage.atomic_open`
    for outputs. Parent directories are created for local writes.

    :param uri: URI or local path.
    :param mode: any mode smart_open accepts (``rb``, ``r``, ``wb``, ``w``).
    :param conn_id: Airflow connection id for the object store.
    :param kw: passed to ``smart_open.open``; a ``transport_params`` dict is merged
        over the resolved one.
    """
    import smart_open

    params = transport_params(uri, conn_id)
    params.update(kw.pop("transport_params", None) or {})
    target = uri
    if is_local(uri):
        target = local_path(uri)
        if any(flag in mode for flag in "wax"):
            parent = os.path.dirname(target)
            if parent:
                os.makedirs(parent, exist_ok=True)
    return smart_open.open(target, mode, transport_params=params, **kw)


def _is_missing_object(err: OSError) -> bool:
    backend = getattr(err, "backend_error", None) or err.__cause__
    response = getattr(backend, "response", None)
    if not isinstance(response, dict):
        return False
    return response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


def read_bytes(uri: str, conn_id: str | None = None, *, decompress: bool = False) -> bytes:
    """Return the object's bytes exactly as stored (``decompress=True`` to gunzip etc.).

    :raises FileNotFoundError: if there is no object at ``uri``, for every store
        (smart_open reports a missing S3 key as a plain ``OSError``).
    """
    compression = "infer_from_extension" if decompress else "disable"
    try:
        with open_uri(uri, "rb", conn_id=conn_id, compression=compression) as handle:
            data: bytes = handle.read()
            return data
    except FileNotFoundError:
        raise
    except OSError as err:
        if _is_missing_object(err):
            raise FileNotFoundError(f"no object at {uri}") from err
        raise


def exists(uri: str, conn_id: str | None = None) -> bool:
    """Return True if an object (or local file/directory) exists at ``uri``."""
    scheme, bucket, key = split_uri(uri)
    family = _family(scheme)
    if family == "file":
        return os.path.exists(key)
    if family not in _EXTRAS:
        raise ValueError(f"exists() does not support {scheme}:// URIs ({uri!r})")
    client = _client(family, conn_id)
    if family == "s3":
        import botocore.exceptions

        try:
            client.head_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True
    if family == "gs":
        return bool(client.bucket(bucket).blob(key).exists())
    return bool(client.get_blob_client(container=bucket, blob=key).exists())


def _dir_key(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


def _walk_files(root: str) -> Iterator[str]:
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            if name.startswith(".") and TEMP_MARKER in name:
                continue
            yield os.path.join(dirpath, name)


def _iter_object_keys(family: str, client: Any, bucket: str, prefix: str) -> Iterator[str]:
    if family == "s3":
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]
    elif family == "gs":
        for blob in client.list_blobs(bucket, prefix=prefix):
            yield blob.name
    else:
        container = client.get_container_client(bucket)
        for blob in container.list_blobs(name_starts_with=prefix):
            yield blob.name


def list_uris(prefix_uri: str, conn_id: str | None = None) -> list[str]:
    """List every object under a directory-like prefix, sorted, as full URIs.

    The prefix is treated as a directory: ``s3://b/tables/x`` lists
    ``tables/x/...`` but not ``tables/x2/...``. Local listings recurse, keep the
    caller's form (path or ``file://``) and skip in-flight atomic temp files.
    Missing prefixes give ``[]``.
    """
    scheme, bucket, key = split_uri(prefix_uri)
    family = _family(scheme)
    if family == "file":
        if os.path.isfile(key):
            return [prefix_uri]
        if not os.path.isdir(key):
            return []
        return sorted(
            join_uri(prefix_uri, os.path.relpath(path, key).replace(os.sep, "/")) for path in _walk_files(key)
        )
    if family not in _EXTRAS:
        raise ValueError(f"list_uris() does not support {scheme}:// URIs ({prefix_uri!r})")
    client = _client(family, conn_id)
    return sorted(
        f"{scheme}://{bucket}/{name}"
        for name in _iter_object_keys(family, client, bucket or "", _dir_key(key))
        if not name.endswith("/")
    )


def delete_prefix(prefix_uri: str, conn_id: str | None = None) -> int:
    """Delete every object under a directory-like prefix; return how many went.

    Used to clear a partition before it is rewritten. Same prefix semantics as
    :func:`list_uris`. A missing prefix deletes nothing.

    :raises ValueError: for a bucket root or the filesystem root (almost certainly
        a templating mistake, and unrecoverable).
    :raises OSError: if the store reports a failed deletion (the key is named).
    """
    scheme, bucket, key = split_uri(prefix_uri)
    family = _family(scheme)
    if family == "file":
        path = os.path.abspath(key)
        if path == os.path.abspath(os.sep):
            raise ValueError(f"refusing to delete the filesystem root ({prefix_uri!r})")
        if os.path.isfile(path):
            os.unlink(path)
            return 1
        if not os.path.isdir(path):
            return 0
        count = sum(1 for _ in _walk_files(path))
        shutil.rmtree(path)
        return count
    if family not in _EXTRAS:
        raise ValueError(f"delete_prefix() does not support {scheme}:// URIs ({prefix_uri!r})")
    if not key.strip("/"):
        raise ValueError(f"refusing to delete a whole bucket ({prefix_uri!r}); give a prefix")
    client = _client(family, conn_id)
    keys = list(_iter_object_keys(family, client, bucket or "", _dir_key(key)))
    _delete_keys(family, client, bucket or "", keys)
    return len(keys)


def _delete_keys(family: str, client: Any, bucket: str, keys: list[str]) -> None:
    """Delete keys of one bucket or container (S3 in batches of 1,000)."""
    if family == "s3":
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            response = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise OSError(
                    f"could not delete s3://{bucket}/{first.get('Key')}: {first.get('Code')} "
                    f"({len(errors)} failures in this batch)"
                )
    elif family == "gs":
        gcs_bucket = client.bucket(bucket)
        for name in keys:
            gcs_bucket.blob(name).delete()
    else:
        container = client.get_container_client(bucket)
        for name in keys:
            container.delete_blob(name)


def delete_uris(uris: list[str], conn_id: str | None = None) -> int:
    """Delete the given objects (local files or keys in one store); return how many were given.

    Missing objects are not an error. Used to drop files a re-rendered report no longer links to.

    :raises OSError: if the store reports a failed deletion (the key is named).
    """
    by_bucket: dict[tuple[str, str | None], list[str]] = {}
    for uri in uris:
        scheme, bucket, key = split_uri(uri)
        if _family(scheme) == "file":
            if os.path.isfile(key):
                os.unlink(key)
            continue
        if not key or key.endswith("/"):
            raise ValueError(f"delete_uris() deletes objects, not prefixes ({uri!r})")
        by_bucket.setdefault((scheme, bucket), []).append(key)
    for (scheme, bucket), keys in by_bucket.items():
        family = _family(scheme)
        if family not in _EXTRAS:
            raise ValueError(f"delete_uris() does not support {scheme}:// URIs")
        _delete_keys(family, _client(family, conn_id), bucket or "", keys)
    return len(uris)
