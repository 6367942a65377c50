"""Pure logic of a GMS Context Services file export: parameters, file names, completeness.

``POST /genesys/1/cs/maintenance/services/files`` makes the GMS server write one file per
data type (``services``, ``states``, ``tasks``) on ITS OWN file system and answer their
paths. The hook then waits until every listed file is visible at the collection location
(``files_base_url`` on the connection) and complete. Nothing here does I/O: the hook looks
at the files and this module judges what it saw, so the worker and the triggerer judge alike.

What "complete" means is not documented (the document does not say whether the answer
comes before or after the files are written; its table says 200, its example 202 Accepted).
We decide, per export (``completion``):

* ``"size_stable"``: the size is the same on two consecutive looks (and the file exists).
* ``"valid_end"``: the file ends as a finished file of its kind: a zip's end-of-central-
  directory record matches the file's length; a gzip stream decompresses to its trailer;
  an uncompressed JSON file ends with ``]`` or ``}``; an uncompressed CSV file ends with
  a line break (or is empty).
* ``"both"`` (default): both rules. A writer that pauses mid-file fools the size rule; a
  CSV cut exactly at a line end fools the end rule; together they rarely are.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from contact_center_provider.jobs import JobOutcome

FileType = Literal["services", "states", "tasks"]
FILE_TYPES: tuple[FileType, ...] = ("services", "states", "tasks")
Format = Literal["json", "csv"]
Compression = Literal["uncompressed", "zip", "gzip"]
FilterEvents = Literal["any", "started", "completed"]
FilterState = Literal["any", "active", "inactive"]
Completion = Literal["both", "size_stable", "valid_end"]

EXPORT_PATH = "/genesys/1/cs/maintenance/services/files"
STREAM_PATH = "/genesys/1/cs/maintenance/services/stream"
#: Default wait for a listed file that does not appear at the collection location.
DEFAULT_MISSING_FILE_TIMEOUT = 30 * 60.0
DEFAULT_FILE_NAME_PREFIX = "airflow_"
#: Storage schemes the collection location may use (through ``storage/uri.py``).
SUPPORTED_SCHEMES = ("file", "s3", "s3a", "s3n", "gs", "azure")
#: Bytes read from the end of a file for the ``valid_end`` rule (zip comment may be 64 KiB).
TAIL_BYTES = 22 + 65_535

_TYPE_RE = re.compile(r"_(services|states|tasks)(?:\.|$)", re.IGNORECASE)
_NAME_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]*$")


def format_instant(value: datetime) -> str:
    """``2014-09-02T08:00:00.000Z``, the document's date/time form."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _check(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


@dataclass(frozen=True)
class ExportOptions:
    """What one export asks GMS for and how the hook waits for its files.

    :param filter_events: ``any`` (a start or an end event in the range), ``started`` or
        ``completed``.
    :param filter_state: ``any``, ``active`` or ``inactive`` -- evaluated by GMS on each
        service's state at export time, NOT over the range (see the docs page).
    :param format: ``json`` (preferred: self-describing) or ``csv`` (no header row, columns
        undocumented).
    :param compression: ``uncompressed``, ``zip`` or ``gzip``.
    :param separator: CSV column separator (default ``,``).
    :param file_name_prefix: start of the file names; the interval is appended so exports of
        different intervals never share a name.
    :param completion: the rule deciding that a file is complete (module docstring).
    :param missing_file_timeout: seconds after submission past which a listed file that is
        still absent fails the export.
    """

    filter_events: FilterEvents = "any"
    filter_state: FilterState = "any"
    format: Format = "json"
    compression: Compression = "uncompressed"
    separator: str = ","
    file_name_prefix: str = DEFAULT_FILE_NAME_PREFIX
    completion: Completion = "both"
    missing_file_timeout: float = DEFAULT_MISSING_FILE_TIMEOUT

    def __post_init__(self) -> None:
        _check("filter_events", self.filter_events, get_args(FilterEvents))
        _check("filter_state", self.filter_state, get_args(FilterState))
        _check("format", self.format, get_args(Format))
        _check("compression", self.compression, get_args(Compression))
        _check("completion", self.completion, get_args(Completion))
        if not self.separator or "\n" in self.separator or "\r" in self.separator or '"' in self.separator:
            raise ValueError(
                f"separator must be non-empty, without quotes or line breaks; got {self.separator!r}"
            )
        if not _NAME_PREFIX_RE.match(self.file_name_prefix):
            raise ValueError(
                f"file_name_prefix may hold only letters, digits, '.', '_' and '-'; got {self.file_name_prefix!r}"
            )
        if self.missing_file_timeout < 0:
            raise ValueError(f"missing_file_timeout must be >= 0; got {self.missing_file_timeout!r}")

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> ExportOptions:
        """Build from operator parameters; an unknown key is an error naming it."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown export parameter(s) {unknown}; known: {sorted(known)}")
        values = dict(params)
        if "missing_file_timeout" in values:
            values["missing_file_timeout"] = float(values["missing_file_timeout"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def join_server_path(server_dir: str, name: str) -> str:
    """Join a directory of the GMS host (``/var/gms/export`` or ``C:\\export``) and a name."""
    if not server_dir:
        return name
    sep = "\\" if "\\" in server_dir and "/" not in server_dir else "/"
    return server_dir.rstrip("/\\") + sep + name


def name_prefix(options: ExportOptions, start: datetime, end: datetime) -> str:
    """``airflow_20240501T000000Z-20240502T000000Z_``: the interval makes names unique per export."""
    fmt = "%Y%m%dT%H%M%SZ"
    return f"{options.file_name_prefix}{start.astimezone(UTC):{fmt}}-{end.astimezone(UTC):{fmt}}_"


def request_params(
    options: ExportOptions, start: datetime, end: datetime, server_export_dir: str
) -> dict[str, str]:
    """The URI parameters of the export request."""
    return {
        "time_from": format_instant(start),
        "time_to": format_instant(end),
        "filter_events": options.filter_events,
        "filter_state": options.filter_state,
        "file_prefix": join_server_path(server_export_dir, name_prefix(options, start, end)),
        "compression": options.compression,
        "separator": options.separator,
        "format": options.format,
    }


def basename(server_path: str) -> str:
    """The file name of a server path, Windows (``C:\\x\\y``) or POSIX."""
    return server_path.replace("\\", "/").rsplit("/", 1)[-1]


def compression_of(name: str) -> Compression:
    """By extension, case-insensitive (the document: "the accurate file extension")."""
    lower = name.lower()
    if lower.endswith((".gz", ".gzip")):
        return "gzip"
    if lower.endswith(".zip"):
        return "zip"
    return "uncompressed"


def parse_answer(payload: Any) -> list[str]:
    """The answer's body: ``String[]``, the server paths of the files written.

    :raises ValueError: for anything else (the caller names the request).
    """
    if not isinstance(payload, list) or not all(isinstance(p, str) and p for p in payload):
        shown = type(payload).__name__ if not isinstance(payload, list) else "a list with non-string items"
        raise ValueError(f"expected a JSON array of file paths (String[]), got {shown}")
    return list(payload)


def describe_files(paths: Sequence[str], expected_prefix: str) -> list[dict[str, str]]:
    """One JSON-native entry per listed file: ``path``, ``name``, ``type``, ``compression``.

    :raises ValueError: when a name is not one of ours (does not start with the prefix we
        sent) or does not say which data type it holds.
    """
    files = []
    for path in paths:
        name = basename(path)
        if not name.startswith(expected_prefix):
            raise ValueError(
                f"GMS listed {path!r}, whose name does not start with the file_prefix sent "
                f"({expected_prefix!r}); refusing to collect a file this export did not write"
            )
        match = _TYPE_RE.search(name[len(expected_prefix) :])
        if match is None:
            raise ValueError(f"GMS listed {path!r}: its name holds none of _services, _states, _tasks")
        files.append(
            {"path": path, "name": name, "type": match.group(1).lower(), "compression": compression_of(name)}
        )
    return files


def export_token(files: Sequence[Mapping[str, str]], prefix: str) -> str:
    """The job id: the prefix plus GMS's ``yyyyMMdd_HHmmss_SSS`` stamp of the first file."""
    if not files:
        return prefix.rstrip("_")
    name = files[0]["name"]
    match = _TYPE_RE.search(name)
    return name[: match.start()] if match else name


def check_location(uri: str) -> str:
    """Validate ``files_base_url``; return it without a trailing slash.

    :raises ValueError: for a scheme the storage layer cannot read (``sftp://`` included:
        ``storage/uri.py`` has no SFTP support yet), or a password inside the URI.
    """
    if not uri:
        raise ValueError("files_base_url is not set: give the URI where the GMS export directory can be read")
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else "file"
    if scheme in ("sftp", "ssh", "scp"):
        raise ValueError(
            f"files_base_url {scheme}:// is not supported yet: the provider's storage layer "
            "(contact_center_provider.storage.uri) cannot list or stat SFTP files. Mount the GMS "
            "export directory (file://) or have it synced to object storage (s3://, gs://, azure://)."
        )
    if scheme not in SUPPORTED_SCHEMES:
        raise ValueError(f"files_base_url scheme {scheme!r} is not supported; use one of {SUPPORTED_SCHEMES}")
    if scheme != "file" and urlsplit(uri).password:
        raise ValueError("files_base_url must not hold a password; put credentials in files_conn_id")
    return uri.rstrip("/")


# --------------------------------------------------------------------------- completeness


@dataclass(frozen=True)
class Look:
    """What one look at a file saw: whether it exists, its size, and (when checked) its end."""

    exists: bool
    size: int | None = None
    valid_end: bool | None = None


def needs_end_check(completion: Completion, previous_size: int | None, size: int) -> bool:
    """Whether a look must check the file's end (reading it: gzip is decompressed whole).

    With ``both`` only once the size is stable, so a growing file is never re-read.
    """
    if completion == "size_stable":
        return False
    return completion == "valid_end" or previous_size == size


def zip_end_ok(tail: bytes, size: int) -> bool:
    """A zip ends with an end-of-central-directory record consistent with the file's length."""
    pos = tail.rfind(b"PK\x05\x06")
    while pos != -1:
        if pos + 22 <= len(tail):
            cd_size, cd_offset, comment = (int(v) for v in struct.unpack("<IIH", tail[pos + 12 : pos + 22]))
            eocd_at = size - len(tail) + pos
            if eocd_at + 22 + comment == size:
                if cd_offset == 0xFFFFFFFF:  # ZIP64: the locator sits right before the record
                    return pos >= 20 and tail[pos - 20 : pos - 16] == b"PK\x06\x07"
                return cd_offset + cd_size == eocd_at
        pos = tail.rfind(b"PK\x05\x06", 0, pos)
    return False


def gzip_complete(chunks: Iterable[bytes]) -> bool:
    """Every gzip member decompresses to its trailer: no stream is cut short."""
    decomp = zlib.decompressobj(wbits=31)
    seen = inside = False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                seen = inside = True
                decomp.decompress(data)
                if not decomp.eof:
                    break
                inside = False
                data = decomp.unused_data
                decomp = zlib.decompressobj(wbits=31)
    except zlib.error:
        return False
    return seen and not inside


def plain_end_ok(tail: bytes, size: int, fmt: str) -> bool:
    """Uncompressed: JSON ends with ``]``/``}``; CSV with a line break. Empty counts as whole."""
    if size == 0:
        return True
    if fmt == "json":
        return tail.rstrip().endswith((b"]", b"}"))
    return tail.endswith(b"\n")


@dataclass(frozen=True)
class Verdict:
    """The judgement of one look at every file of an export."""

    outcome: JobOutcome
    vendor_state: str
    message: str | None
    files: dict[str, str]


def judge(
    files: Sequence[Mapping[str, str]],
    looks: Mapping[str, Look],
    previous: Mapping[str, int],
    completion: Completion,
    *,
    now: float,
    missing_deadline: float,
    location: str,
) -> Verdict:
    """Decide RUNNING, SUCCEEDED or FAILED from one look at every file.

    :param previous: each file's size on the previous look (absent on the first).
    :param missing_deadline: epoch seconds past which an absent file fails the export.
    """
    states: dict[str, str] = {}
    for entry in files:
        name = entry["name"]
        look = looks[name]
        if not look.exists:
            states[name] = "missing"
            continue
        stable = previous.get(name) == look.size
        if completion == "size_stable":
            done = stable
        elif completion == "valid_end":
            done = bool(look.valid_end)
        else:
            done = stable and bool(look.valid_end)
        states[name] = "complete" if done else "writing"
    missing = [name for name, state in states.items() if state == "missing"]
    complete = sum(1 for state in states.values() if state == "complete")
    summary = f"{complete}/{len(files)} files complete"
    if missing and now >= missing_deadline:
        return Verdict(
            JobOutcome.FAILED,
            summary,
            f"GMS listed {', '.join(missing)} but {'it is' if len(missing) == 1 else 'they are'} not at "
            f"{location} past the missing_file_timeout. Check that files_base_url shows the directory "
            "GMS writes to (server_export_dir) and that the GMS host has room to write.",
            states,
        )
    if complete == len(files):
        return Verdict(JobOutcome.SUCCEEDED, summary, None, states)
    return Verdict(JobOutcome.RUNNING, summary, None, states)
