"""Extract a zip without trusting it: no entry leaves the target, no bomb fills the disk.

Everything that can be checked from the central directory is checked for *every* member
before the first byte is written (names, links, encryption, methods, declared sizes,
compression ratio, overlapping entries); then each member is streamed out while its
actual size is counted against the same limits, and ``zipfile`` verifies its CRC-32 at
the end of the stream. Any failure removes everything extracted so far: the target is
either complete and verified, or empty.

No Airflow import.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from contact_center_provider.transforms.artifact_errors import (
    ArchiveLimitError,
    CorruptArtifactError,
    UnsafeMemberError,
    UnsupportedArchiveError,
)

__all__ = ["ExtractLimits", "ExtractedMember", "check_member_name", "extract_archive"]

_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
_SUPPORTED_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_GIB = 1024**3


@dataclass(frozen=True)
class ExtractLimits:
    """Limits against zip bombs and runaway archives (all configurable from the operator).

    :param max_members: members an archive may list.
    :param max_member_bytes: uncompressed size of one member.
    :param max_total_bytes: uncompressed size of all members together.
    :param max_ratio: uncompressed / compressed size of one member. JSON Lines compress
        about 5-20x; a bomb reaches 1000x and more.
    :param ratio_floor_bytes: members smaller than this are exempt from the ratio check
        (a small file of repeated characters is harmless).
    """

    max_members: int = 10_000
    max_member_bytes: int = 16 * _GIB
    max_total_bytes: int = 64 * _GIB
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("max_members", "max_member_bytes", "max_total_bytes", "max_ratio"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ExtractLimits.{name} must be positive")


@dataclass(frozen=True)
class ExtractedMember:
    """One extracted file.

    :param name: its name inside the archive.
    :param path: where it was written.
    :param size: bytes written (equal to the declared size; the CRC matched).
    """

    name: str
    path: str
    size: int


def check_member_name(name: str, archive: str) -> list[str]:
    """Return the safe path components of a member name, or raise naming the member.

    Refused: empty names, NUL, backslashes (a path separator on Windows), absolute paths,
    drive letters and any ``..`` component.

    :raises UnsafeMemberError: naming ``archive`` and the member.
    """
    problem = None
    if not name or "\x00" in name:
        problem = "has an empty name or a NUL byte"
    elif "\\" in name:
        problem = "uses backslashes, which are path separators on Windows"
    elif name.startswith("/") or _DRIVE.match(name):
        problem = "is an absolute path"
    else:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            problem = "climbs out of the target directory with '..'"
        elif not parts:
            problem = "names no file"
        else:
            return parts
    raise UnsafeMemberError(
        f"{archive} member {name!r}",
        f"refused: the entry {problem}",
        "Nothing was extracted; the artifact is kept unchanged in the raw zone for inspection",
    )


#: ``(start, end) -> part name(s)``: where bytes ``[start, end)`` of the archive came from.
Locate = Callable[[int, int], str]


def _label(archive_name: str, info: zipfile.ZipInfo, locate: Locate) -> str:
    # Local header (30 bytes + name + extra, which may differ from the central copy) then data.
    end = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + info.compress_size
    return f"{archive_name} member {info.filename!r} (in {locate(info.header_offset, end)})"


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def _plan(
    archive: zipfile.ZipFile, archive_name: str, limits: ExtractLimits, locate: Locate
) -> list[tuple[zipfile.ZipInfo, list[str]]]:
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveLimitError(
            archive_name, f"lists {len(infos)} members, more than the limit of {limits.max_members}"
        )
    plan: list[tuple[zipfile.ZipInfo, list[str]]] = []
    seen_names: set[str] = set()
    seen_offsets: set[int] = set()
    total = 0
    for info in infos:
        parts = check_member_name(info.filename, archive_name)
        label = _label(archive_name, info, locate)
        if _is_link(info):
            raise UnsafeMemberError(label, "refused: the entry is a symbolic link")
        key = "/".join(parts)
        if key in seen_names:
            raise UnsafeMemberError(label, "refused: a second entry with the same name")
        seen_names.add(key)
        if info.header_offset in seen_offsets:
            raise ArchiveLimitError(
                label, "refused: it shares its data with another entry (a zip-bomb technique)"
            )
        seen_offsets.add(info.header_offset)
        if info.is_dir():
            plan.append((info, parts))
            continue
        if info.flag_bits & 0x1:
            raise UnsupportedArchiveError(
                label, "is password-encrypted inside the zip, which CDDS never does"
            )
        if info.compress_type not in _SUPPORTED_METHODS:
            raise UnsupportedArchiveError(
                label, f"uses compression method {info.compress_type}, which is not supported"
            )
        if info.file_size > limits.max_member_bytes:
            raise ArchiveLimitError(
                label, f"declares {info.file_size} bytes, more than the limit of {limits.max_member_bytes}"
            )
        if info.file_size >= limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ArchiveLimitError(
                label,
                f"expands {ratio:.0f}x ({info.compress_size} -> {info.file_size} bytes), above the "
                f"compression-ratio limit of {limits.max_ratio:g}x (zip-bomb protection)",
                "If the export is genuine, raise max_ratio on the operator",
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveLimitError(
                archive_name, f"expands to more than the limit of {limits.max_total_bytes} bytes in all"
            )
        plan.append((info, parts))
    return plan


def extract_archive(
    zip_path: str,
    target_dir: str,
    *,
    archive_name: str,
    limits: ExtractLimits | None = None,
    locate: Locate | None = None,
) -> list[ExtractedMember]:
    """Extract every member of ``zip_path`` under ``target_dir`` (created; must not exist yet).

    :param zip_path: an ordinary zip (a split set rejoined by :mod:`.split_zip`).
    :param target_dir: directory to create and fill.
    :param archive_name: how to name the archive in errors (the artifact's name).
    :param limits: size, count and ratio limits (defaults: :class:`ExtractLimits`).
    :param locate: names the part(s) holding bytes ``[start, end)`` of the zip, for errors.
    :returns: the extracted files, in archive order.
    :raises UnsafeMemberError: a member would escape the target, is a link or a duplicate.
    :raises ArchiveLimitError: a limit is exceeded (declared or while streaming).
    :raises CorruptArtifactError: bad structure or a CRC mismatch (names the member and part).
    """
    limits = limits or ExtractLimits()
    where: Locate = locate or (lambda _start, _end: archive_name)
    os.makedirs(target_dir)
    root = os.path.realpath(target_dir)
    try:
        try:
            archive = zipfile.ZipFile(zip_path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise CorruptArtifactError(archive_name, f"is not a readable zip ({exc})") from None
        with archive:
            plan = _plan(archive, archive_name, limits, where)
            return _extract(archive, plan, root, archive_name, limits, where)
    except BaseException:
        shutil.rmtree(target_dir, ignore_errors=True)
        raise


def _extract(
    archive: zipfile.ZipFile,
    plan: list[tuple[zipfile.ZipInfo, list[str]]],
    root: str,
    archive_name: str,
    limits: ExtractLimits,
    where: Locate,
) -> list[ExtractedMember]:
    extracted: list[ExtractedMember] = []
    total = 0
    for info, parts in plan:
        destination = os.path.join(root, *parts)
        # Belt and braces: the name check already refused '..'; this also catches links made
        # by earlier members of the same archive (none can exist: links are refused).
        if os.path.commonpath([root, os.path.realpath(destination)]) != root:
            raise UnsafeMemberError(
                f"{archive_name} member {info.filename!r}", "refused: it resolves outside the target"
            )
        if info.is_dir():
            os.makedirs(destination, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        label = _label(archive_name, info, where)
        written = 0
        try:
            with archive.open(info) as source, open(destination, "xb") as sink:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    total += len(chunk)
                    if written > limits.max_member_bytes or total > limits.max_total_bytes:
                        raise ArchiveLimitError(label, "expands beyond the size limits while extracting")
                    if written >= limits.ratio_floor_bytes and written > limits.max_ratio * max(
                        info.compress_size, 1
                    ):
                        raise ArchiveLimitError(
                            label,
                            f"expands more than {limits.max_ratio:g}x while extracting (zip-bomb protection)",
                        )
                    sink.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            reason = "its CRC-32 does not match" if "CRC" in str(exc) else f"it cannot be read ({exc})"
            raise CorruptArtifactError(
                label,
                reason,
                "Download the parts again; if it persists, the export is damaged at the source",
            ) from None
        extracted.append(ExtractedMember(info.filename, destination, written))
    return extracted
