"""Frames payloads as LevelDB log records (spec: docs/backup-format.md).

`LogWriter.add_record` splits a payload into fragments so that no physical record crosses a
32 KiB block boundary, pads a block trailer of fewer than 7 bytes with zeros, and heads each
fragment with a masked CRC32C of its type byte and data. It resumes at any file length, as
LevelDB's `log::Writer(dest, dest_length)` does. It knows nothing of what the payload holds.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import google_crc32c

from swanlabd.format.logformat import BLOCK_SIZE, HEADER_SIZE, MASK_DELTA, RecordType

_HEADER = struct.Struct("<IHB")
# The CRC of each type byte alone, extended over the fragment: saves hashing the type per record.
_TYPE_CRC = {t: google_crc32c.value(bytes([t])) for t in RecordType}
_ZEROS = bytes(HEADER_SIZE - 1)


def mask_crc(crc: int) -> int:
    """LevelDB's crc32c::Mask: rotate right by 15 bits and add a constant."""
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """The inverse of `mask_crc`."""
    rot = (masked - MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


class LogWriter:
    """Frames payloads into LevelDB log records, passing the bytes to `write`.

    `length` is the current length of the destination: a writer resumes mid-block after a
    reopen exactly where the previous one stopped.
    """

    def __init__(self, write: Callable[[bytes], object], length: int = 0) -> None:
        self._write = write
        self.block_offset = length % BLOCK_SIZE

    def add_record(self, payload: bytes) -> None:
        """Frame one payload and hand all its bytes to `write` in one call.

        `block_offset` advances as if they were written; a caller whose write failed and was
        undone sets it back.
        """
        parts: list[bytes] = []
        left = len(payload)
        pos = 0
        begin = True
        # A do-while, as in LevelDB: an empty payload still yields one zero-length FULL record.
        while True:
            leftover = BLOCK_SIZE - self.block_offset
            if leftover < HEADER_SIZE:
                # Too small for a header: fill the trailer with zeros and switch to a new block.
                if leftover:
                    parts.append(_ZEROS[:leftover])
                self.block_offset = 0
            # With exactly 7 bytes left this is 0, so a zero-length FIRST record fills the block.
            avail = BLOCK_SIZE - self.block_offset - HEADER_SIZE
            n = min(left, avail)
            end = n == left
            if begin:
                rtype = RecordType.FULL if end else RecordType.FIRST
            else:
                rtype = RecordType.LAST if end else RecordType.MIDDLE
            fragment = payload[pos : pos + n]  # CPython returns the object itself for a full slice
            crc = mask_crc(google_crc32c.extend(_TYPE_CRC[rtype], fragment))
            parts.append(_HEADER.pack(crc, n, rtype))
            parts.append(fragment)
            self.block_offset += HEADER_SIZE + n
            pos += n
            left -= n
            begin = False
            if left == 0:
                self._write(b"".join(parts))
                return
