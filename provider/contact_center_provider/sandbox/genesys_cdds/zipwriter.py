"""Write zip archives the way Info-ZIP's ``zip -s <size>`` does, split into numbered parts.

Layout of a split archive (APPNOTE 8.5, Info-ZIP 3.0 behaviour checked with ``zip -s``):
the first part starts with the spanning signature ``PK\\x07\\x08``; member data flows
across part boundaries freely, but no header (local header, central-directory record,
end record) straddles two parts — a header that does not fit closes the part early;
every central-directory record stores the part ("disk") its member starts on and an
offset relative to that part; the end record names the last part and the part where
the central directory starts. The parts are returned in order: ``.z01`` … ``.zNN`` and,
last, the ``.zip``. Without a split size the result is one ordinary zip.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

SPLIT_MARKER = b"PK\x07\x08"
#: Info-ZIP refuses split sizes under 64 KiB; the sandbox allows small ones to make many parts.
MIN_SPLIT_SIZE = 1024


@dataclass(frozen=True)
class Member:
    """One file to store: its name in the archive, bytes and modification time."""

    name: str
    data: bytes
    modified: datetime


def _dos_time(moment: datetime) -> tuple[int, int]:
    year = max(1980, moment.year)
    date = ((year - 1980) << 9) | (moment.month << 5) | moment.day
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    return time, date


class _Segments:
    def __init__(self, split_size: int | None) -> None:
        self.split_size = split_size
        self.parts: list[bytearray] = [bytearray()]

    @property
    def position(self) -> tuple[int, int]:
        return len(self.parts) - 1, len(self.parts[-1])

    def header(self, data: bytes) -> tuple[int, int]:
        size = self.split_size
        if size is not None and self.parts[-1] and len(self.parts[-1]) + len(data) > size:
            self.parts.append(bytearray())
        where = self.position
        self.parts[-1] += data
        return where

    def data(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            room = len(view) if self.split_size is None else self.split_size - len(self.parts[-1])
            if room <= 0:
                self.parts.append(bytearray())
                continue
            self.parts[-1] += view[:room]
            view = view[room:]


def write_zip(members: Sequence[Member], split_size: int | None = None) -> list[bytes]:
    """Build the archive; return its parts (one element without ``split_size``).

    :param members: files to store (deflated).
    :param split_size: bytes per part, like ``zip -s``; ``None`` for one ordinary zip.
    """
    if split_size is not None and split_size < MIN_SPLIT_SIZE:
        raise ValueError(f"split_size must be at least {MIN_SPLIT_SIZE} bytes")
    out = _Segments(split_size)
    if split_size is not None:
        out.data(SPLIT_MARKER)
    central: list[bytes] = []
    for member in members:
        name = member.name.encode("utf-8")
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = compressor.compress(member.data) + compressor.flush()
        crc = zlib.crc32(member.data)
        time, date = _dos_time(member.modified)
        flags = 0x0800  # names are UTF-8
        local = struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            20,
            flags,
            8,
            time,
            date,
            crc,
            len(packed),
            len(member.data),
            len(name),
            0,
        )
        disk, offset = out.header(local + name)
        out.data(packed)
        central.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                0x031E,  # made by: Unix, spec 3.0 (as Info-ZIP on Linux)
                20,
                flags,
                8,
                time,
                date,
                crc,
                len(packed),
                len(member.data),
                len(name),
                0,
                0,
                disk,
                0,
                0o100644 << 16,
                offset,
            )
            + name
        )
    cd_disk, cd_offset = None, 0
    for record in central:
        disk, offset = out.header(record)
        if cd_disk is None:
            cd_disk, cd_offset = disk, offset
    if cd_disk is None:
        cd_disk, cd_offset = out.position
    cd_size = sum(len(r) for r in central)
    eocd_size = 22
    if split_size is not None and len(out.parts[-1]) + eocd_size > split_size:
        out.parts.append(bytearray())
    last = len(out.parts) - 1
    on_last = sum(1 for r, d in _record_disks(central, cd_disk, cd_offset, split_size) if d == last and r)
    out.header(
        struct.pack("<4sHHHHIIH", b"PK\x05\x06", last, cd_disk, on_last, len(central), cd_size, cd_offset, 0)
    )
    return [bytes(part) for part in out.parts]


def _record_disks(
    central: Sequence[bytes], cd_disk: int, cd_offset: int, split_size: int | None
) -> list[tuple[bytes, int]]:
    """Replay where each central-directory record landed (same rule as :meth:`_Segments.header`)."""
    disk, used = cd_disk, cd_offset
    placed = []
    for record in central:
        if split_size is not None and used and used + len(record) > split_size:
            disk, used = disk + 1, 0
        placed.append((record, disk))
        used += len(record)
    return placed


def part_suffixes(count: int) -> list[str]:
    """File suffixes of a ``count``-part archive: ``z01`` … ``z99``, ``z100`` … and ``zip`` last (Info-ZIP)."""
    return [f"z{n:02d}" for n in range(1, count)] + ["zip"]
