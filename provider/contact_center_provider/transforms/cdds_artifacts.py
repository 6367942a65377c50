"""From a CDDS export's encrypted parts to verified JSON Lines files: decrypt, rejoin, extract.

:func:`open_export` runs the three steps for one export in a private working directory:

1. every part is decrypted (:mod:`.smime`) straight into the joined archive, in order;
2. the split set is rejoined into an ordinary zip (:mod:`.split_zip`), which also proves
   no part is missing;
3. every member is extracted under the limits and its CRC checked (:mod:`.safe_extract`).

It returns only when all three succeeded for every part and member; otherwise it raises
an :class:`~.artifact_errors.ArtifactError` naming the file and leaves nothing behind in
the working directory. Nothing is published by this module: callers publish tables only
after it returned.

No Airflow import.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from contact_center_provider.transforms.artifact_errors import ArtifactError, MissingPartError
from contact_center_provider.transforms.safe_extract import ExtractedMember, ExtractLimits, extract_archive
from contact_center_provider.transforms.smime import DEFAULT_MAX_IN_MEMORY, SmimeKey, decrypt_file
from contact_center_provider.transforms.split_zip import SplitZipJoiner, group_parts

__all__ = ["ArtifactPart", "OpenedExport", "PartReport", "open_export", "private_workdir"]


@dataclass(frozen=True)
class ArtifactPart:
    """One downloaded part: its vendor file name and the local path of its (encrypted) bytes."""

    name: str
    path: str


@dataclass(frozen=True)
class PartReport:
    """What happened to one part: sizes and the decryptor used (``"none"`` for a plain part)."""

    name: str
    encrypted_bytes: int
    plaintext_bytes: int
    method: str


@dataclass(frozen=True)
class OpenedExport:
    """A verified, extracted export.

    :param export: the export's base name (``export-<id>``).
    :param directory: where its members were extracted.
    :param members: the extracted files (all CRC-checked).
    :param parts: one report per part, in archive order.
    :param zip64: whether the archive used ZIP64.
    """

    export: str
    directory: str
    members: tuple[ExtractedMember, ...]
    parts: tuple[PartReport, ...]
    zip64: bool


@contextlib.contextmanager
def private_workdir(prefix: str = "cdds-") -> Iterator[str]:
    """A directory only this user can read (mode 0700), removed with everything in it afterwards."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def open_export(
    parts: Sequence[ArtifactPart],
    key: SmimeKey,
    workdir: str,
    *,
    limits: ExtractLimits | None = None,
    max_in_memory: int = DEFAULT_MAX_IN_MEMORY,
    openssl: str = "openssl",
) -> OpenedExport:
    """Decrypt, rejoin and extract the parts of ONE export into ``workdir``.

    Parts named ``*.smime`` are decrypted; parts without that suffix (a drop location that
    holds already-decrypted files) are taken as they are.

    :param parts: every part of the export, any order (``.z01`` … ``.zNN`` and ``.zip``).
    :param key: the private key and certificate (:func:`.smime.load_smime_key`).
    :param workdir: a private directory (:func:`private_workdir`; created 0700 if missing).
    :param limits: extraction limits (zip-bomb protection).
    :param max_in_memory: parts above this size are decrypted by streaming through openssl.
    :param openssl: the openssl command.
    :raises ArtifactError: naming the part or member; ``workdir`` keeps nothing of this export.
    """
    os.makedirs(workdir, mode=0o700, exist_ok=True)
    by_name = {part.name: part for part in parts}
    sets, others = group_parts(by_name)
    if others:
        raise ArtifactError(
            others[0], "is not a part of a CDDS export (expected *.zNN[.smime] or *.zip[.smime])"
        )
    if len(sets) != 1:
        raise ArtifactError(
            ", ".join(sorted(sets)) or "(no parts)",
            f"expected the parts of exactly one export, got {len(sets)} exports",
        )
    (split_set,) = sets.values()
    missing = split_set.missing()
    if missing:
        raise MissingPartError(
            missing[0],
            f"the export {split_set.base} is incomplete (missing: {', '.join(missing)})",
            "Wait until every part is listed, then run the task again",
        )
    ordered = split_set.ordered()
    joined_path = os.path.join(workdir, f"{split_set.base}.joined.zip")
    target = os.path.join(workdir, split_set.base)
    reports: list[PartReport] = []
    try:
        with SplitZipJoiner(joined_path, [p.name for p in ordered], split_set) as joiner:
            for part in ordered:
                source = by_name[part.name]
                encrypted = os.path.getsize(source.path)
                with joiner.part(part.name) as sink:
                    if part.suffix:
                        result = decrypt_file(
                            source.path,
                            sink,
                            key,
                            name=part.name,
                            max_in_memory=max_in_memory,
                            openssl=openssl,
                        )
                        reports.append(PartReport(part.name, encrypted, result.bytes_out, result.method))
                    else:
                        with open(source.path, "rb") as handle:
                            shutil.copyfileobj(handle, sink)
                        reports.append(PartReport(part.name, encrypted, encrypted, "none"))
            archive = joiner.finish()
        members = extract_archive(
            archive.path, target, archive_name=f"{split_set.base}.zip", limits=limits, locate=archive.part_of
        )
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(joined_path)
    return OpenedExport(
        export=split_set.base,
        directory=target,
        members=tuple(members),
        parts=tuple(reports),
        zip64=archive.zip64,
    )
