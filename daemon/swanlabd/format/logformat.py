"""What the log writer and reader share: block and header sizes, and the record types.

The format is LevelDB's log format, unchanged; docs/backup-format.md is the spec. This module
holds constants only, as LevelDB's db/log_format.h does.
"""

from __future__ import annotations

import enum

BLOCK_SIZE = 32768
"""The file is a sequence of blocks of this size; only the last one may be shorter."""

HEADER_SIZE = 7
"""checksum (4 bytes) + length (2 bytes, little-endian) + type (1 byte)."""

MASK_DELTA = 0xA282EAD8
"""Added to the rotated CRC (LevelDB's crc32c::Mask), so a CRC over data holding CRCs stays strong."""


class RecordType(enum.IntEnum):
    """The type byte of a physical record: where its fragment sits in its logical record."""

    ZERO = 0  # never written; reserved by LevelDB for preallocated (zero-filled) space
    FULL = 1
    FIRST = 2
    MIDDLE = 3
    LAST = 4
