"""Errors raised while decrypting, rejoining and extracting encrypted export artifacts.

Every error names the file at fault (an artifact part such as
``export-2b71….z03.smime``, or a member inside the archive) first, then the problem,
then what to do. None of them carries key material or file contents.
"""

from __future__ import annotations

__all__ = [
    "ArchiveLimitError",
    "ArtifactError",
    "CorruptArtifactError",
    "DecryptError",
    "MissingPartError",
    "UnsafeMemberError",
    "UnsupportedArchiveError",
    "UnsupportedCipherError",
    "WrongKeyError",
]


class ArtifactError(ValueError):
    """An artifact could not be turned into data; the raw zone still holds it unchanged.

    :param file: the artifact part or archive member at fault.
    :param problem: what is wrong with it.
    :param hint: what to check or do next (optional).
    """

    def __init__(self, file: str, problem: str, hint: str = "") -> None:
        self.file = file
        self.problem = problem
        self.hint = hint
        super().__init__(f"{file}: {problem}" + (f". {hint}" if hint else ""))


class DecryptError(ArtifactError):
    """An S/MIME part could not be decrypted."""


class WrongKeyError(DecryptError):
    """The part was not encrypted to the configured certificate (or the key does not fit it)."""


class UnsupportedCipherError(DecryptError):
    """The part uses a content cipher nothing available here can decrypt."""


class CorruptArtifactError(ArtifactError):
    """A part or a member is damaged: bad S/MIME structure, bad zip structure or a CRC mismatch."""


class MissingPartError(ArtifactError):
    """A split archive lacks one of its parts (``file`` names the missing part)."""


class UnsafeMemberError(ArtifactError):
    """An archive member would be written outside the target (``../``, absolute path, link)."""


class ArchiveLimitError(ArtifactError):
    """An archive exceeds a size, count or compression-ratio limit (zip bomb protection)."""


class UnsupportedArchiveError(ArtifactError):
    """The archive uses a feature this provider refuses (encrypted members, unknown methods...)."""
