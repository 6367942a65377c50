"""Settings of the GMS Context Services sandbox (``PATCH /_sandbox/vendors/genesys_context_services/settings``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FILE_TYPES = ("services", "states", "tasks")

PartialWrite = Literal["off", "hold", "timed"]


@dataclass(frozen=True)
class GmsSettings:
    """Knobs of the Context Services emulation; defaults mirror the vendor document where it speaks.

    :param export_dir: the folder that stands for the GMS server's export directory: every
        file an export writes lands here, whatever directory ``file_prefix`` names (only its
        last path segment is used as the file-name prefix). ``None``: the environment variable
        ``CC_SANDBOX_GMS_EXPORT_DIR``, else ``<tmp>/cc-sandbox-gms/<host>-<port>`` of the
        address the client used (see :func:`~.files.default_export_dir`), which is also what
        the VendorSpec's connection points ``files_base_url`` at.
    :param clock: the server's "now" as ISO-8601 (``None``: the wall clock). ``filter_state``
        is evaluated against it, and only events at or before it exist.
    :param require_auth: answer 401 without HTTP Basic credentials. Any username is accepted
        unless ``required_username`` is set; the password ``wrong-password`` never is.
    :param required_username: when set, only this username is accepted.
    :param required_password: when set, only this password is accepted.
    :param services_per_hour: synthetic services that start in each UTC hour.
    :param files_status: the status of a successful export: the document's table says 200, its
        worked example shows 202.
    :param partial_write: ``off``: files are complete when the answer is sent. ``hold``: each
        file holds only its first half until ``POST .../finish-writes``. ``timed``: the rest is
        written ``write_seconds`` after the answer.
    :param write_seconds: delay of the rest of a file in ``timed`` mode.
    :param missing_files: file types (``services``, ``states``, ``tasks``) listed in the
        answer but never written (a full disk, a server crash, a wrong share).
    :param compressed_extension: ``append`` names a gzip file ``..._services.csv.gz`` and a zip
        ``..._services.csv.zip``; ``replace`` names them ``..._services.gz`` / ``.zip``. The
        document only says "the accurate file extension".
    :param upper_case_extension: ``.CSV`` / ``.JSON`` as in the document's worked example.
    :param csv_attached_data: append the attached-data values of the fixed key list
        (:data:`~.data.ATTACHED_DATA_KEYS`) to every CSV row, after the documented-by-us columns.
    :param csv_quoting: ``minimal`` quotes a value holding the separator, a quote or a line
        break (RFC 4180); ``none`` writes values raw, so such a value shifts the row.
    :param line_terminator: ``lf`` or ``crlf`` (a Windows GMS).
    :param json_layout: ``array``: one JSON array per file; ``lines``: one object per line.
    """

    export_dir: str | None = None
    clock: str | None = None
    require_auth: bool = True
    required_username: str | None = None
    required_password: str | None = None
    services_per_hour: int = 30
    files_status: int = 200
    partial_write: PartialWrite = "off"
    write_seconds: float = 1.0
    missing_files: tuple[str, ...] = ()
    compressed_extension: Literal["append", "replace"] = "append"
    upper_case_extension: bool = False
    csv_attached_data: bool = True
    csv_quoting: Literal["minimal", "none"] = "minimal"
    line_terminator: Literal["lf", "crlf"] = "lf"
    json_layout: Literal["array", "lines"] = "array"

    def __post_init__(self) -> None:
        missing = tuple(self.missing_files)
        unknown = sorted(set(missing) - set(FILE_TYPES))
        if unknown:
            raise ValueError(f"missing_files: unknown file type(s) {unknown}; known: {list(FILE_TYPES)}")
        object.__setattr__(self, "missing_files", missing)
        if self.services_per_hour < 0:
            raise ValueError("services_per_hour must be >= 0")
        if self.files_status not in (200, 202):
            raise ValueError("files_status must be 200 or 202")
        if self.write_seconds < 0:
            raise ValueError("write_seconds must be >= 0")
