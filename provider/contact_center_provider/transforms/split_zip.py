"""Split-zip sets: their part names, when a set is complete, and rejoining one into a normal zip.

CDDS's "File Split Size" produces an Info-ZIP split archive, each part S/MIME-encrypted on
its own: ``export-<id>.z01.smime`` … ``export-<id>.zNN.smime`` plus ``export-<id>.zip.smime``
(the last part, holding the central directory). Without the option there is one
``export-<id>.zip.smime``.

Concatenating the decrypted parts is *not* a zip: every central-directory entry records
the part ("disk") its member starts on and an offset relative to that part, so a reader
that sees one file lists the members but cannot read them (tested: Python's ``zipfile``
fails with "Bad magic number for file header"; ``zip -s 0`` produced a truncated archive).
:class:`SplitZipJoiner` therefore appends the parts in order and then *rewrites* the
central directory — disk numbers to 0, offsets made absolute, ZIP64 fields and records
included — so the result is an ordinary single-file zip any reader opens.

No Airflow import.
"""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from contact_center_provider.transforms.artifact_errors import (
    ArchiveLimitError,
    CorruptArtifactError,
    MissingPartError,
)

__all__ = [
    "JoinedArchive",
    "PartName",
    "SplitSet",
    "SplitZipJoiner",
    "group_parts",
    "parse_part_name",
]

_PART_RE = re.compile(r"^(?P<base>.+)\.(?P<ext>zip|z(?P<num>\d{2,}))(?P<suffix>\.smime)?$", re.IGNORECASE)

_EOCD = b"PK\x05\x06"
_EOCD64 = b"PK\x06\x06"
_LOCATOR64 = b"PK\x06\x07"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
#: Written at the start of the first part of a split (or spanned) archive.
_SPLIT_MARKERS = (b"PK\x07\x08", b"PK00")
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF
_CENTRAL_FIXED = struct.Struct("<4sHHHHHHIIIHHHHHII")
_ZIP64_EXTRA = 0x0001
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
#: A central directory larger than this is refused rather than read into memory.
DEFAULT_MAX_CENTRAL_DIRECTORY = 512 * 1024 * 1024


# --------------------------------------------------------------------------- names


@dataclass(frozen=True)
class PartName:
    """One artifact file name, understood.

    :param name: the file name as the vendor gave it.
    :param base: the name without ``.zNN``/``.zip`` and ``.smime`` (``export-<id>``).
    :param number: ``NN`` of a ``.zNN`` part; ``None`` for the final ``.zip`` part.
    """

    name: str
    base: str
    number: int | None
    suffix: str = ""

    @property
    def is_final(self) -> bool:
        return self.number is None


def parse_part_name(name: str) -> PartName | None:
    """Understand ``export-<id>.z07.smime`` / ``export-<id>.zip.smime`` (``None`` for other names)."""
    match = _PART_RE.match(os.path.basename(name))
    if match is None:
        return None
    digits = match.group("num")
    return PartName(
        name=os.path.basename(name),
        base=match.group("base"),
        number=int(digits) if digits else None,
        suffix=match.group("suffix") or "",
    )


@dataclass
class SplitSet:
    """The parts of one export seen so far (``.z01`` … and the final ``.zip``)."""

    base: str
    numbered: dict[int, PartName] = field(default_factory=dict)
    final: PartName | None = None

    def _expected_name(self, number: int | None) -> str:
        sample = self.final or next(iter(self.numbered.values()), None)
        suffix = sample.suffix if sample else ".smime"
        # Info-ZIP numbers parts with at least two digits: .z01 … .z99, .z100 …
        ext = "zip" if number is None else f"z{number:02d}"
        return f"{self.base}.{ext}{suffix}"

    def missing(self) -> list[str]:
        """Names of the parts a complete set must still show (gaps before the highest ``.zNN``, the ``.zip``).

        A missing *trailing* ``.zNN`` cannot be seen from names alone; the rejoin finds it from
        the archive's own part count.
        """
        top = max(self.numbered, default=0)
        gaps = [self._expected_name(n) for n in range(1, top + 1) if n not in self.numbered]
        if self.final is None:
            gaps.append(self._expected_name(None))
        return gaps

    @property
    def complete(self) -> bool:
        return not self.missing()

    def ordered(self) -> list[PartName]:
        """The parts in archive order: ``.z01`` … ``.zNN``, then ``.zip``."""
        parts = [self.numbered[n] for n in sorted(self.numbered)]
        if self.final is not None:
            parts.append(self.final)
        return parts

    def name_of_disk(self, disk: int) -> str:
        """The file name holding 0-based disk ``disk`` of an archive with ``disks`` parts."""
        return self._expected_name(disk + 1)


def group_parts(names: Iterable[str]) -> tuple[dict[str, SplitSet], list[str]]:
    """Group artifact names by export; return the sets and the names that are not parts at all."""
    sets: dict[str, SplitSet] = {}
    others: list[str] = []
    for name in names:
        part = parse_part_name(name)
        if part is None:
            others.append(name)
            continue
        split = sets.setdefault(part.base, SplitSet(part.base))
        if part.number is None:
            split.final = part
        else:
            split.numbered[part.number] = part
    return sets, others


# --------------------------------------------------------------------------- rejoin


@dataclass(frozen=True)
class JoinedArchive:
    """The result of a rejoin: an ordinary zip at ``path``.

    :param path: the rewritten single-file zip.
    :param parts: name and decrypted size of each part, in order.
    :param entries: members listed in the central directory.
    :param zip64: whether the source (and so the result) uses ZIP64 records.
    :param marker: bytes of split marker dropped from the start of the first part.
    """

    path: str
    parts: tuple[tuple[str, int], ...]
    entries: int
    zip64: bool
    marker: int = 0

    def part_of(self, offset: int, end: int | None = None) -> str:
        """The part(s) holding bytes ``[offset, end)`` of the joined zip, to name them in errors."""
        names = [name for name, _size in self.parts]
        first = _part_index([s for _n, s in self.parts], self.marker, offset)
        last = _part_index([s for _n, s in self.parts], self.marker, max(offset, (end or offset + 1) - 1))
        return names[first] if first == last else f"{names[first]} … {names[last]}"


def _part_index(sizes: list[int], marker: int, offset: int) -> int:
    running = -marker
    for index, size in enumerate(sizes):
        running += size
        if offset < running:
            return index
    return len(sizes) - 1


class _PartSink(io.RawIOBase):
    """Appends one part to the joined file; drops the split marker at the very start of part 1."""

    def __init__(self, out: BinaryIO, strip_marker: bool) -> None:
        super().__init__()
        self._out = out
        self._pending = b"" if strip_marker else None
        self.size = 0
        self.marker = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = bytes(data)
        self.size += len(chunk)
        if self._pending is not None:
            self._pending += chunk
            if len(self._pending) < 4:
                return len(chunk)
            head, self._pending = self._pending, None
            if head[:4] in _SPLIT_MARKERS and head[4:8] in (_LOCAL, b""):
                self.marker = 4
                head = head[4:]
            self._out.write(head)
            return len(chunk)
        self._out.write(chunk)
        return len(chunk)

    def finish(self) -> None:
        if self._pending:  # a first part shorter than 4 bytes: not a zip, the parser says so
            self._out.write(self._pending)
        self._pending = None


@dataclass
class _Eocd:
    position: int
    this_disk: int
    cd_disk: int
    entries: int
    cd_size: int
    cd_offset: int
    comment: bytes
    zip64: bool
    records_start: int  # where the ZIP64 EOCD record (or the EOCD) begins


class SplitZipJoiner:
    """Rejoin an Info-ZIP split (or single) archive, part by part, into one ordinary zip.

    Usage::

        joiner = SplitZipJoiner(out_path, [p.name for p in split_set.ordered()], split_set)
        for part in split_set.ordered():
            with joiner.part(part.name) as sink:
                decrypt_file(local_path, sink, key, name=part.name)
        archive = joiner.finish()

    :param path: where the joined zip is written (created/truncated).
    :param names: the part names in archive order (for error messages).
    :param split_set: the set the names came from (to name a missing part).
    :param max_central_directory: refuse larger central directories (bytes).
    """

    def __init__(
        self,
        path: str,
        names: list[str],
        split_set: SplitSet | None = None,
        *,
        max_central_directory: int = DEFAULT_MAX_CENTRAL_DIRECTORY,
    ) -> None:
        if not names:
            raise ValueError("a split archive needs at least one part")
        self.path = path
        self.names = list(names)
        self.split_set = split_set
        self.max_central_directory = max_central_directory
        self._out: BinaryIO = open(path, "w+b")  # noqa: SIM115 - closed by finish()/close()
        self._sizes: list[int] = []
        self._marker = 0

    def close(self) -> None:
        if not self._out.closed:
            self._out.close()

    def __enter__(self) -> SplitZipJoiner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _last_name(self) -> str:
        return self.names[-1]

    def part(self, name: str) -> _PartContext:
        """Context manager yielding the sink for the next part (must come in archive order)."""
        index = len(self._sizes)
        if index >= len(self.names) or self.names[index] != name:
            expected = self.names[index] if index < len(self.names) else "no more parts"
            raise ValueError(f"parts must be added in archive order: got {name}, expected {expected}")
        return _PartContext(self, index)

    def _part_done(self, sink: _PartSink, index: int) -> None:
        sink.finish()
        if index == 0:
            self._marker = sink.marker
        self._sizes.append(sink.size)

    # -- finishing ------------------------------------------------------------------------

    def _disk_start(self, disk: int) -> int:
        """Absolute position in the joined file of byte 0 of ``disk``."""
        return sum(self._sizes[:disk]) - self._marker

    def _corrupt(self, problem: str) -> CorruptArtifactError:
        return CorruptArtifactError(
            self._last_name,
            f"the decrypted archive is not a valid zip ({problem})",
            "Download the parts again; if it persists, the export is damaged at the source",
        )

    def _read_at(self, position: int, size: int) -> bytes:
        self._out.seek(position)
        data = self._out.read(size)
        if len(data) != size:
            raise self._corrupt(f"{size} bytes expected at offset {position}, found {len(data)}")
        return data

    def _find_eocd(self, total: int) -> _Eocd:
        tail_size = min(total, _EOCD_SIZE + _MAX_COMMENT)
        tail = self._read_at(total - tail_size, tail_size)
        index = tail.rfind(_EOCD)
        while index != -1:
            if index + _EOCD_SIZE <= len(tail):
                comment_len = struct.unpack_from("<H", tail, index + 20)[0]
                if index + _EOCD_SIZE + comment_len == len(tail):
                    break
            index = tail.rfind(_EOCD, 0, index)
        if index == -1:
            raise self._corrupt("no end-of-central-directory record in the last part")
        position = total - tail_size + index
        (_, this_disk, cd_disk, _on_disk, entries, cd_size, cd_offset, comment_len) = struct.unpack_from(
            "<4sHHHHIIH", tail, index
        )
        comment = tail[index + _EOCD_SIZE : index + _EOCD_SIZE + comment_len]
        eocd = _Eocd(position, this_disk, cd_disk, entries, cd_size, cd_offset, comment, False, position)
        locator_at = position - 20
        if locator_at >= 0 and self._read_at(locator_at, 4) == _LOCATOR64:
            _, eocd64_disk, eocd64_offset, total_disks = struct.unpack(
                "<4sIQI", self._read_at(locator_at, 20)
            )
            if not 1 <= total_disks <= len(self._sizes) + 10_000:
                raise self._corrupt(f"ZIP64 locator claims {total_disks} parts")
            self._check_disk_count(total_disks - 1)
            record_at = self._disk_start(eocd64_disk) + eocd64_offset
            if record_at < 0 or record_at + 56 > locator_at:
                raise self._corrupt("ZIP64 end-of-central-directory record out of range")
            record = self._read_at(record_at, 56)
            if record[:4] != _EOCD64:
                raise self._corrupt("bad ZIP64 end-of-central-directory signature")
            (_, _, _, _, this64, cd_disk64, _, entries64, cd_size64, cd_offset64) = struct.unpack(
                "<4sQHHIIQQQQ", record
            )
            eocd = _Eocd(
                position, this64, cd_disk64, entries64, cd_size64, cd_offset64, comment, True, record_at
            )
        return eocd

    def _check_disk_count(self, last_disk: int) -> None:
        parts = len(self._sizes)
        if last_disk + 1 > parts:
            missing = (
                [self.split_set.name_of_disk(d) for d in range(parts - 1, last_disk)]
                if self.split_set is not None
                else [f"part {d + 1}" for d in range(parts - 1, last_disk)]
            )
            raise MissingPartError(
                missing[0],
                f"the archive has {last_disk + 1} parts but only {parts} were supplied "
                f"(missing: {', '.join(missing)})",
                "Wait until CDDS lists every part of the export (or collect the missing part from "
                "the drop location), then run the task again",
            )
        if last_disk + 1 < parts:
            raise self._corrupt(
                f"the archive says it has {last_disk + 1} parts but {parts} were supplied; "
                "the set may mix parts of different exports"
            )

    def finish(self) -> JoinedArchive:
        """Rewrite the central directory so the joined file is an ordinary zip; close it.

        :raises MissingPartError: the archive counts more parts than were supplied (names the first).
        :raises CorruptArtifactError: the structure does not add up (names the last part).
        :raises ArchiveLimitError: the central directory is larger than allowed.
        """
        if len(self._sizes) != len(self.names):
            raise ValueError(f"{len(self.names) - len(self._sizes)} parts were never added")
        try:
            total = self._out.seek(0, os.SEEK_END)
            if total < _EOCD_SIZE:
                raise self._corrupt(f"only {total} bytes in all")
            eocd = self._find_eocd(total)
            if not eocd.zip64:
                self._check_disk_count(eocd.this_disk)
            cd_start = self._disk_start(eocd.cd_disk) + eocd.cd_offset
            if (
                eocd.cd_disk >= len(self._sizes)
                or cd_start < 0
                or cd_start + eocd.cd_size > eocd.records_start
            ):
                raise self._corrupt("central directory out of range")
            if eocd.cd_size > self.max_central_directory:
                raise ArchiveLimitError(
                    self._last_name,
                    f"central directory of {eocd.cd_size} bytes exceeds the limit of {self.max_central_directory}",
                )
            central = self._read_at(cd_start, eocd.cd_size)
            rewritten, count = self._rewrite_central(central, cd_start)
            if count != eocd.entries:
                raise self._corrupt(
                    f"central directory holds {count} entries, the end record says {eocd.entries}"
                )
            self._out.seek(cd_start)
            self._out.truncate()
            self._out.write(rewritten)
            self._write_end_records(cd_start, len(rewritten), count, eocd.comment, eocd.zip64)
            self._out.flush()
            os.fsync(self._out.fileno())
        finally:
            self.close()
        return JoinedArchive(
            path=self.path,
            parts=tuple(zip(self.names, self._sizes, strict=True)),
            entries=eocd.entries,
            zip64=eocd.zip64 or cd_start >= _U32 or eocd.entries >= _U16,
            marker=self._marker,
        )

    def _rewrite_central(self, central: bytes, cd_start: int) -> tuple[bytes, int]:
        out = bytearray()
        position = 0
        count = 0
        while position < len(central):
            if central[position : position + 4] != _CENTRAL:
                raise self._corrupt(f"bad central-directory signature in entry {count + 1}")
            if position + _CENTRAL_FIXED.size > len(central):
                raise self._corrupt("truncated central directory")
            fields = list(_CENTRAL_FIXED.unpack_from(central, position))
            name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
            end = position + _CENTRAL_FIXED.size + name_len + extra_len + comment_len
            if end > len(central):
                raise self._corrupt(f"central-directory entry {count + 1} overruns the directory")
            name_at = position + _CENTRAL_FIXED.size
            name = central[name_at : name_at + name_len]
            extra = central[name_at + name_len : name_at + name_len + extra_len]
            comment = central[name_at + name_len + extra_len : end]
            zip64_values, other_extra = _split_zip64_extra(extra)
            values = iter(zip64_values)
            try:
                usize = next(values) if fields[9] == _U32 else fields[9]
                csize = next(values) if fields[8] == _U32 else fields[8]
                offset = next(values) if fields[16] == _U32 else fields[16]
                disk = next(values) if fields[13] == _U16 else fields[13]
            except StopIteration:
                raise self._corrupt(f"entry {count + 1} lacks its ZIP64 extra field") from None
            if disk >= len(self._sizes):
                raise self._corrupt(f"entry {count + 1} starts on part {disk + 1} of {len(self._sizes)}")
            absolute = self._disk_start(disk) + offset
            if absolute < 0 or absolute + 30 > cd_start or self._read_at(absolute, 4) != _LOCAL:
                label = name.decode("utf-8", "replace")
                raise CorruptArtifactError(
                    self._part_holding(absolute),
                    f"member {label!r} has no local header where the central directory points",
                    "Download the parts again; if it persists, the export is damaged at the source",
                )
            new_extra = bytearray()
            wide: list[int] = []
            if fields[9] == _U32:
                wide.append(usize)
            if fields[8] == _U32:
                wide.append(csize)
            if absolute >= _U32:
                wide.append(absolute)
                fields[16] = _U32
            else:
                fields[16] = absolute
            if wide:
                new_extra += struct.pack("<HH", _ZIP64_EXTRA, 8 * len(wide))
                new_extra += struct.pack(f"<{len(wide)}Q", *wide)
            new_extra += other_extra
            fields[11] = len(new_extra)
            fields[13] = 0
            out += _CENTRAL_FIXED.pack(*fields) + name + bytes(new_extra) + comment
            position = end
            count += 1
        return bytes(out), count

    def _part_holding(self, absolute: int) -> str:
        return self.names[_part_index(self._sizes, self._marker, absolute)]

    def _write_end_records(
        self, cd_start: int, cd_size: int, entries: int, comment: bytes, zip64: bool
    ) -> None:
        needs64 = zip64 or entries >= _U16 or cd_start >= _U32 or cd_size >= _U32
        if needs64:
            record_at = cd_start + cd_size
            self._out.write(
                struct.pack("<4sQHHIIQQQQ", _EOCD64, 44, 45, 45, 0, 0, entries, entries, cd_size, cd_start)
            )
            # One disk in all: readers (Python's zipfile among them) refuse multi-disk locators.
            self._out.write(struct.pack("<4sIQI", _LOCATOR64, 0, record_at, 1))
        self._out.write(
            struct.pack(
                "<4sHHHHIIH",
                _EOCD,
                0,
                0,
                min(entries, _U16),
                min(entries, _U16),
                min(cd_size, _U32),
                min(cd_start, _U32),
                len(comment),
            )
            + comment
        )


def _split_zip64_extra(extra: bytes) -> tuple[list[int], bytes]:
    """Return the ZIP64 extra field's 8/4-byte values and the other extra blocks unchanged."""
    values: list[int] = []
    others = bytearray()
    position = 0
    while position + 4 <= len(extra):
        header_id, size = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + size]
        if header_id == _ZIP64_EXTRA:
            # usize, csize, offset are 8 bytes; the disk number (last) is 4.
            quads = len(body) // 8
            values.extend(struct.unpack_from(f"<{quads}Q", body))
            if len(body) - quads * 8 == 4:
                values.append(struct.unpack_from("<I", body, quads * 8)[0])
        else:
            others += extra[position : position + 4 + size]
        position += 4 + size
    return values, bytes(others)


class _PartContext:
    def __init__(self, joiner: SplitZipJoiner, index: int) -> None:
        self._joiner = joiner
        self._index = index
        self._sink: _PartSink | None = None

    def __enter__(self) -> BinaryIO:
        out = self._joiner._out
        out.seek(0, os.SEEK_END)
        self._sink = _PartSink(out, strip_marker=self._index == 0)
        return self._sink  # type: ignore[return-value]

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._sink is not None
        if exc_type is None:
            self._joiner._part_done(self._sink, self._index)
