"""The LevelDB-style framing that the official SwanLab SDK and W&B write their run files in.

Both tools borrowed LevelDB's log format (32 KiB blocks, 7-byte headers, FULL/FIRST/MIDDLE/LAST
fragments; docs/backup-format.md describes ours) with two changes: a 7-byte file header
(`<4sHB`: ident, magic, version; `:SWL` 0xE1D6 2 for SwanLab 0.10.3, `:W&B` 0xBEE1 0 for W&B),
and the checksum is zlib's CRC-32 of the data seeded with the CRC-32 of the type byte, not
masked CRC32C. Our own reader (swanlabd/format/logreader.py) is fixed to CRC32C, so this is a
second, smaller reader with the same recovery rules and the same habit: it reports each
dropped byte range to the caller and never raises or logs for damaged data.

What differs from our reader, and why: a source file is still being written by its tool while
`swanlabctl sync` reads it, with Python's buffered writes, so anything cut off at the end of
the file (a header or payload that runs past it) is not read and not reported: the next sync
reads it from the same offset once it is complete.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

BLOCK_SIZE = 32768
HEADER_SIZE = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_HEADER = struct.Struct("<IHB")
_FILE_HEADER = struct.Struct("<4sHB")
_TYPE_CRC = [zlib.crc32(bytes([t])) for t in range(256)]


@dataclass(frozen=True)
class FileHeader:
    """The 7 bytes a tool's file starts with."""

    ident: bytes
    magic: int
    version: int


SWANLAB = FileHeader(b":SWL", 0xE1D6, 2)
WANDB = FileHeader(b":W&B", 0xBEE1, 0)


class Reporter(Protocol):
    def damaged(self, offset: int, nbytes: int, reason: str) -> None:
        """`nbytes` from `offset` were dropped (a short fixed `reason`)."""


class FramingError(ValueError):
    """The file does not start with the header its tool writes (not that tool's file, or a
    version this reader does not know)."""


def check_header(file: BinaryIO, expected: FileHeader) -> None:
    """Raise FramingError unless `file` starts with `expected` (an empty file is not yet one)."""
    file.seek(0)
    raw = file.read(HEADER_SIZE)
    if len(raw) < HEADER_SIZE:
        raise FramingError(f"{len(raw)} bytes: no file header yet")
    got = FileHeader(*_FILE_HEADER.unpack(raw))
    if got.ident != expected.ident or got.magic != expected.magic:
        raise FramingError(f"file header {got.ident!r} {got.magic:#x} is not {expected.ident!r} {expected.magic:#x}")
    if got.version != expected.version:
        raise FramingError(f"format version {got.version} (this reader knows {expected.version})")


def read_payloads(file: BinaryIO, offset: int, reporter: Reporter) -> Iterator[tuple[bytes, int]]:
    """Yield (payload, end offset) from `offset` (HEADER_SIZE, or an end offset yielded before).

    Recovery rules, as LevelDB's: a bad checksum or a length past its block drops the rest of
    the block (the length itself may be the damaged part); an unknown type drops that record;
    fragments are never joined across dropped bytes.
    """
    pos = offset
    parts: list[bytes] = []
    parts_start = 0
    while True:
        in_block = pos % BLOCK_SIZE
        block_end = pos - in_block + BLOCK_SIZE
        if BLOCK_SIZE - in_block < HEADER_SIZE:
            pos = block_end  # the trailer: too small for a header, written as zeros
            continue
        file.seek(pos)
        header = file.read(HEADER_SIZE)
        if len(header) < HEADER_SIZE:
            return  # end of file, or a header still being written
        crc, length, kind = _HEADER.unpack(header)
        if in_block + HEADER_SIZE + length > BLOCK_SIZE:
            if parts:
                reporter.damaged(parts_start, pos - parts_start, "partial record without end")
                parts = []
            reporter.damaged(pos, block_end - pos, "bad record length")
            pos = block_end
            continue
        data = file.read(length)
        if len(data) < length:
            return  # a payload still being written: read again next time from the last end offset
        if zlib.crc32(data, _TYPE_CRC[kind]) != crc:
            if parts:
                reporter.damaged(parts_start, pos - parts_start, "partial record without end")
                parts = []
            reporter.damaged(pos, block_end - pos, "checksum mismatch")
            pos = block_end
            continue
        end = pos + HEADER_SIZE + length
        if kind == FULL or kind == FIRST:
            if parts:
                reporter.damaged(parts_start, pos - parts_start, "partial record without end")
                parts = []
            if kind == FULL:
                yield data, end
            else:
                parts, parts_start = [data], pos
        elif kind == MIDDLE or kind == LAST:
            if not parts:
                reporter.damaged(pos, end - pos, "missing start of fragmented record")
            elif kind == MIDDLE:
                parts.append(data)
            else:
                parts.append(data)
                payload, parts = b"".join(parts), []
                yield payload, end
        else:
            reporter.damaged(pos, end - pos, "unknown record type")
        pos = end
