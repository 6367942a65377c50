"""How the emulated GMS names, renders and writes export files (no HTTP).

The document fixes the name pattern (``<file_prefix><yyyyMMdd_HHmmss_SSS>_services.csv``
and the same for ``states`` and ``tasks``), the formats (``csv`` default, ``json``), the
separator (default ``,``) and the compressions (``uncompressed``, ``zip``, ``gzip``, "with
the accurate file extension"). It does NOT document the CSV columns, a header row (its
sample rows have none), quoting, the JSON layout or the exact compressed extension; the
choices below are settings where they matter, and the CSV column order is the one this
provider documents as its assumption (``docs/genesys_context_services.md``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from .data import ATTACHED_DATA_KEYS
from .settings import GmsSettings

#: Environment variable naming the export folder of a sandbox without ``export_dir``.
EXPORT_DIR_ENV = "CC_SANDBOX_GMS_EXPORT_DIR"

_EVENT = (
    "timestamp",
    "interaction_id",
    "application_type",
    "application_id",
    "resource_type",
    "resource_id",
    "media_type",
)
_STARTED_SERVICE = ("timestamp", "session_id", *_EVENT[1:])

#: The column order the emulated server writes (the provider's documented assumption).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "services": (
        "service_id",
        "service_type",
        "customer_id",
        "contact_key",
        "active",
        "est_duration",
        *(f"started.{f}" for f in _STARTED_SERVICE),
        *(f"completed.{f}" for f in _EVENT),
    ),
    "states": (
        "service_id",
        "state_id",
        "state_type",
        "active",
        "est_duration",
        *(f"started.{f}" for f in _EVENT),
        *(f"completed.{f}" for f in _EVENT),
    ),
    "tasks": (
        "service_id",
        "state_id",
        "task_id",
        "task_type",
        "active",
        "est_duration",
        *(f"started.{f}" for f in _EVENT),
        *(f"completed.{f}" for f in _EVENT),
    ),
}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_export_dir(root_url: str) -> str:
    """The export folder of a sandbox reached at ``root_url`` (``http://127.0.0.1:8765``).

    ``CC_SANDBOX_GMS_EXPORT_DIR`` when set (one folder shared with the Airflow side, e.g. a
    volume in the compose stack); otherwise ``<tmp>/cc-sandbox-gms/<host>-<port>``, so two
    sandboxes on different ports never share files and the connection built for a sandbox
    points where that sandbox writes.
    """
    configured = os.environ.get(EXPORT_DIR_ENV)
    if configured:
        return configured
    authority = root_url.split("://", 1)[-1].split("/", 1)[0]
    return os.path.join(
        tempfile.gettempdir(), "cc-sandbox-gms", _UNSAFE.sub("-", authority.replace(":", "-"))
    )


def file_names(
    prefix_name: str, token: str, fmt: str, compression: str, settings: GmsSettings
) -> dict[str, str]:
    """File name per type, e.g. ``{"services": "cc_20140902_125024_170_services.csv.gz"}``."""
    names = {}
    for kind in ("services", "states", "tasks"):
        ext = fmt.upper() if settings.upper_case_extension else fmt
        base = f"{prefix_name}{token}_{kind}"
        if compression == "uncompressed":
            names[kind] = f"{base}.{ext}"
            continue
        suffix = "gz" if compression == "gzip" else "zip"
        names[kind] = (
            f"{base}.{ext}.{suffix}" if settings.compressed_extension == "append" else f"{base}.{suffix}"
        )
    return names


def _flat(record: dict[str, Any], column: str) -> Any:
    if column == "active":
        return "completed" not in record
    head, _, tail = column.partition(".")
    value = record.get(head)
    if tail:
        return value.get(tail) if isinstance(value, dict) else None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_rows(kind: str, records: Iterable[dict[str, Any]], settings: GmsSettings) -> Iterable[list[str]]:
    columns = CSV_COLUMNS[kind]
    extra = ATTACHED_DATA_KEYS[kind] if settings.csv_attached_data else ()
    for record in records:
        yield [_cell(_flat(record, c)) for c in columns] + [_cell(record.get(key)) for key in extra]


def render_csv(kind: str, records: Sequence[dict[str, Any]], separator: str, settings: GmsSettings) -> bytes:
    """No header row (the document's samples have none); UTF-8."""
    terminator = "\r\n" if settings.line_terminator == "crlf" else "\n"
    out = io.StringIO()
    if settings.csv_quoting == "minimal" and len(separator) == 1:
        writer = csv.writer(out, delimiter=separator, quotechar='"', lineterminator=terminator)
        writer.writerows(_csv_rows(kind, records, settings))
    else:
        for row in _csv_rows(kind, records, settings):
            out.write(separator.join(row) + terminator)
    return out.getvalue().encode("utf-8")


def render_json(records: Sequence[dict[str, Any]], settings: GmsSettings) -> bytes:
    if settings.json_layout == "lines":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    return json.dumps(list(records), ensure_ascii=False, indent=1).encode("utf-8")


def compress(data: bytes, compression: str, inner_name: str) -> bytes:
    """Wrap ``data``: gzip with a fixed mtime (reproducible bytes), or a one-member zip."""
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo(inner_name, date_time=(2014, 9, 2, 12, 50, 24))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
        return buffer.getvalue()
    return data


def inner_name(name: str, compression: str, fmt: str) -> str:
    """The member name inside a zip: the file name without the compression suffix."""
    stem = re.sub(r"\.(zip|gz)$", "", name, flags=re.IGNORECASE)
    return stem if stem.lower().endswith(f".{fmt}") else f"{stem}.{fmt}"


def write_file(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def append_file(path: str, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)
