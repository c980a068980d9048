"""Reads LevelDB log records back, following LevelDB's recovery rules (docs/backup-format.md).

`LogReader.read_record` returns one logical record (its fragments joined) at a time, starting
at a byte offset, and exposes where each record began (`last_record_offset`) and ended
(`end_offset`, the point to resume from). Damaged data is never raised and never logged: each
drop goes to the caller's `Reporter` as a byte range and a short fixed `Reason`, and the caller
decides what a drop means. A file that simply ends early (a torn tail) is a clean end of file,
described by `torn_tail`. The reader knows nothing of what payloads hold.

Ranges in reports are exact and in file order: `offset` is where the dropped bytes start and
`nbytes` how many there are, so ranges of consecutive drops touch (up to a block trailer).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator
from typing import BinaryIO, Protocol

import google_crc32c

from swanlabd.format.logformat import BLOCK_SIZE, HEADER_SIZE, RecordType
from swanlabd.format.logwriter import unmask_crc

_HEADER = struct.Struct("<IHB")
_TYPE_CRC = {t: google_crc32c.value(bytes([t])) for t in range(256)}
_EOF = -1
_BAD = -2


class Reason(enum.StrEnum):
    """Why the reader dropped bytes (LevelDB's wording)."""

    CHECKSUM_MISMATCH = "checksum mismatch"
    BAD_RECORD_LENGTH = "bad record length"
    UNKNOWN_RECORD_TYPE = "unknown record type"
    MISSING_START = "missing start of fragmented record"
    PARTIAL_RECORD = "partial record without end"


class Reporter(Protocol):
    """Told about every dropped byte range; the reader itself never raises for damaged data."""

    def corruption(self, nbytes: int, reason: Reason, offset: int) -> None: ...


class LogReader:
    """Reads logical records from `file`, starting at byte `offset`.

    `offset` must be 0, a block boundary, or an `end_offset` an earlier reader returned: the
    reader parses a record header right there (or at the next block, if only a trailer is
    left), so a resumed read never reports damage that lies before its start. Fragments that
    continue a record begun before `offset` are skipped silently, as LevelDB does.
    """

    def __init__(self, file: BinaryIO, reporter: Reporter | None = None, offset: int = 0) -> None:
        self._file = file
        self._reporter = reporter
        in_block = offset % BLOCK_SIZE
        block_start = offset - in_block
        if BLOCK_SIZE - in_block < HEADER_SIZE:
            block_start += BLOCK_SIZE
            in_block = 0
        file.seek(block_start)
        self._block_start = block_start
        self._buf = file.read(BLOCK_SIZE)
        self._eof = len(self._buf) < BLOCK_SIZE
        self._pos = in_block
        # Started past 0, we may be inside a record that began earlier (LevelDB's resyncing).
        self._resyncing = offset > 0
        self._consumed = offset  # end of the last record returned or range reported
        self.last_record_offset = offset
        """Where the last record returned began (its first header)."""
        self.end_offset = offset
        """Just after the last record returned: the offset to resume reading from."""
        self.torn_tail: tuple[int, int] | None = None
        """(offset, nbytes) of the incomplete record the file ends with, once read_record returned None."""

    @property
    def file_end(self) -> int:
        """Where the file ended when read_record last reached it (valid once that returned None)."""
        return self._block_start + len(self._buf)

    def __iter__(self) -> Iterator[bytes]:
        while (payload := self.read_record()) is not None:
            yield payload

    def read_record(self) -> bytes | None:
        """The next intact logical record, or None at the end of the file."""
        in_fragmented = False
        frag_start = frag_end = 0
        parts: list[bytes] = []
        while True:
            kind, start, end, data, reason = self._read_physical()
            if self._resyncing:
                # The tail of a record that began before `offset` is not ours to report.
                if kind in (RecordType.MIDDLE, RecordType.LAST):
                    self._resyncing = kind == RecordType.MIDDLE
                    self._consumed = end
                    continue
                self._resyncing = False
            if kind == RecordType.FULL:
                if in_fragmented:
                    self._report(frag_start, frag_end - frag_start, Reason.PARTIAL_RECORD)
                return self._returned(start, end, data)
            if kind == RecordType.FIRST:
                if in_fragmented:
                    self._report(frag_start, frag_end - frag_start, Reason.PARTIAL_RECORD)
                in_fragmented, frag_start, frag_end, parts = True, start, end, [data]
            elif kind in (RecordType.MIDDLE, RecordType.LAST):
                if not in_fragmented:
                    self._report(start, end - start, Reason.MISSING_START)
                    continue
                parts.append(data)
                frag_end = end
                if kind == RecordType.LAST:
                    return self._returned(frag_start, end, b"".join(parts))
            elif reason is not None:
                # A record cut by a bad fragment is lost with it; fragments are never joined
                # across dropped bytes.
                if in_fragmented:
                    self._report(frag_start, end - frag_start, reason)
                    in_fragmented = False
                else:
                    self._report(start, end - start, reason)
            else:
                # End of file. A record whose fragments stop here was being written when the
                # writer died: that is a torn tail, not corruption. It runs from the end of
                # what was read before it (so a trailer the same write began is part of it).
                if in_fragmented or start >= 0:
                    self.torn_tail = (self._consumed, self.file_end - self._consumed)
                return None

    def _read_physical(self) -> tuple[int, int, int, bytes, Reason | None]:
        """(type, start, end, data, None) of the next physical record.

        A dropped range is (_BAD, start, end, b"", reason). The end of the file is
        (_EOF, start, 0, b"", None) with `start` >= 0 if the file ends inside a record.
        """
        while True:
            buf, pos = self._buf, self._pos
            left = len(buf) - pos
            if left < HEADER_SIZE:
                if not self._eof:
                    # Fewer than 7 bytes left in a full block: a zero trailer, skip it.
                    self._block_start += BLOCK_SIZE
                    self._buf = self._file.read(BLOCK_SIZE)
                    self._eof = len(self._buf) < BLOCK_SIZE
                    self._pos = 0
                    continue
                self._pos = len(buf)
                # A partial header at the end of the file is a writer that died mid-write.
                return _EOF, (self._block_start + pos if left > 0 else -1), 0, b"", None
            crc, length, rtype = _HEADER.unpack_from(buf, pos)
            start = self._block_start + pos
            block_end = self._block_start + len(buf)
            if HEADER_SIZE + length > left:
                self._pos = len(buf)
                if self._eof and pos + HEADER_SIZE + length <= BLOCK_SIZE:
                    # The record would fit in its block but the file ends first: the writer
                    # died in the middle of writing it. End of file, not corruption.
                    return _EOF, start, 0, b"", None
                # Longer than its block can hold: the length is damaged; drop the whole rest.
                return _BAD, start, block_end, b"", Reason.BAD_RECORD_LENGTH
            data = buf[pos + HEADER_SIZE : pos + HEADER_SIZE + length]
            if google_crc32c.extend(_TYPE_CRC[rtype], data) != unmask_crc(crc):
                # Drop the rest of the block, not just this record: the length itself may be
                # damaged, and trusting it could land on bytes that merely look like a record.
                self._pos = len(buf)
                return _BAD, start, block_end, b"", Reason.CHECKSUM_MISMATCH
            end = start + HEADER_SIZE + length
            self._pos = pos + HEADER_SIZE + length
            if not RecordType.FULL <= rtype <= RecordType.LAST:
                # The checksum holds, so the length is trustworthy: drop only this record.
                return _BAD, start, end, b"", Reason.UNKNOWN_RECORD_TYPE
            return rtype, start, end, data, None

    def _returned(self, start: int, end: int, payload: bytes) -> bytes:
        self.last_record_offset = start
        self.end_offset = self._consumed = end
        return payload

    def _report(self, offset: int, nbytes: int, reason: Reason) -> None:
        self._consumed = offset + nbytes
        if self._reporter is not None:
            self._reporter.corruption(nbytes, reason, offset)
