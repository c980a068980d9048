"""The one fixture of the backup-format tests, after LevelDB's db/log_test.cc.

`Log` writes payloads into memory with the real LogWriter, reads them back with the real
LogReader while collecting every report, and damages bytes at named offsets (`flip_byte`,
`set_byte`, `truncate`, `fix_checksum`). The backup-level helpers write Records to a real
file and read them back with `backup.BackupReader`.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import google_crc32c

from swanlabd.format import backup
from swanlabd.format.logformat import BLOCK_SIZE, HEADER_SIZE
from swanlabd.format.logreader import LogReader
from swanlabd.format.logwriter import LogWriter, mask_crc
from swanlabd_pb import records_pb2 as pb


def big(pattern: str, n: int) -> bytes:
    """n bytes made of `pattern` repeated (LevelDB's BigString)."""
    return (pattern.encode() * (n // len(pattern) + 1))[:n]


@dataclass
class Reports:
    """Collects the framing reader's reports: (offset, nbytes, reason) in call order."""

    items: list[tuple[int, int, str]] = field(default_factory=list)

    def corruption(self, nbytes: int, reason: str, offset: int) -> None:
        self.items.append((offset, nbytes, str(reason)))

    @property
    def dropped(self) -> int:
        return sum(n for _, n, _ in self.items)

    @property
    def reasons(self) -> list[str]:
        return [r for _, _, r in self.items]


class Log:
    """A log in memory: write with LogWriter, damage it, read it back with LogReader."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.writer = LogWriter(self.data.extend)
        self.reports = Reports()
        self.reader: LogReader | None = None

    def write(self, *payloads: bytes) -> None:
        for payload in payloads:
            self.writer.add_record(payload)

    def read_all(self, offset: int = 0) -> list[bytes]:
        """Every record from `offset`; reports land in `self.reports`, the reader in `self.reader`."""
        self.reports = Reports()
        self.reader = LogReader(io.BytesIO(bytes(self.data)), self.reports, offset)
        return list(self.reader)

    def flip_byte(self, offset: int, bits: int = 0x01) -> None:
        self.data[offset] ^= bits

    def set_byte(self, offset: int, value: int) -> None:
        self.data[offset] = value

    def truncate(self, nbytes: int) -> None:
        """Drop the last `nbytes` bytes (LevelDB's ShrinkSize)."""
        del self.data[len(self.data) - nbytes :]

    def fix_checksum(self, header_offset: int) -> None:
        """Recompute the checksum of the physical record at `header_offset` after editing it."""
        (length,) = struct.unpack_from("<H", self.data, header_offset + 4)
        covered = bytes(self.data[header_offset + 6 : header_offset + HEADER_SIZE + length])
        struct.pack_into("<I", self.data, header_offset, mask_crc(google_crc32c.value(covered)))


def physical_records(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, type, length) of every physical record of an undamaged log, walking headers."""
    out = []
    pos = 0
    while pos < len(data):
        if BLOCK_SIZE - pos % BLOCK_SIZE < HEADER_SIZE:
            pos += BLOCK_SIZE - pos % BLOCK_SIZE
            continue
        (length,) = struct.unpack_from("<H", data, pos + 4)
        out.append((pos, data[pos + 6], length))
        pos += HEADER_SIZE + length
    return out


@dataclass
class Losses:
    """A backup.Reporter collecting (offset, nbytes, reason, seqs)."""

    items: list[tuple[int, int, str, tuple[int, int] | None]] = field(default_factory=list)
    pieces: list[backup.PieceLoss] = field(default_factory=list)

    def lost(
        self,
        nbytes: int,
        reason: str,
        offset: int,
        seqs: tuple[int, int] | None,
        pieces: tuple[backup.PieceLoss, ...] = (),
    ) -> None:
        self.items.append((offset, nbytes, str(reason), seqs))
        self.pieces.extend(pieces)

    @property
    def seqs(self) -> list[int]:
        return [s for _, _, _, r in self.items if r for s in range(r[0], r[1] + 1)]


def scalar_record(i: int, rows: int = 3, *, writer: int = 1) -> pb.Record:
    """A ScalarRows record whose size grows with `rows` (about 26 bytes a row)."""
    return pb.Record(
        time_ms=1_700_000_000_000 + i,
        writer=writer,
        client_seq=i,
        scalars=pb.ScalarRows(
            steps=range(i * rows, (i + 1) * rows),
            row_sizes=[2] * rows,
            key_ids=[0, 1] * rows,
            values=[i + r / 7 for r in range(2 * rows)],
        ),
    )


def console_record(i: int, size: int) -> pb.Record:
    """A record of about `size` bytes of incompressible-looking text (for multi-block records)."""
    return pb.Record(
        time_ms=1_700_000_000_000 + i,
        writer=1,
        client_seq=i,
        console=pb.ConsoleLines(lines=[pb.ConsoleLine(line_no=i, text=big(f"{i}-line ", size).decode())]),
    )


def write_backup(
    path: Path, records: list[pb.Record], run_id: str = "run-test", *, compact_rows: bool = False
) -> list[int]:
    """A backup file holding header + `records`; the end offset of every record (header first).
    With `compact_rows`, scalar rows are stored compact, as the daemon stores them."""
    with backup.BackupWriter.create(path, run_id, compact_rows=compact_rows) as writer:
        ends = [writer.size]
        for record in records:
            ends.append(writer.append([record]))
    return ends


def read_backup(
    path: Path | str, offset: int = 0, **kw: int
) -> tuple[list[pb.Record], list[int], Losses, backup.BackupReader]:
    """(records, end offsets, losses, reader) of a whole read."""
    losses = Losses()
    reader = backup.BackupReader(path, offset, losses, **kw)
    records, ends = [], []
    for record, end in reader:
        records.append(record)
        ends.append(end)
    return records, ends, losses, reader


def record_starts(ends: list[int]) -> list[int]:
    """The start offset of each record, given the end offsets of all records in order."""
    starts = []
    prev = 0
    for end in ends:
        starts.append(prev if BLOCK_SIZE - prev % BLOCK_SIZE >= HEADER_SIZE else prev + BLOCK_SIZE - prev % BLOCK_SIZE)
        prev = end
    return starts


def short_tmpdir() -> Path:
    """A short temp dir (a Unix socket path must fit in 107 bytes); on tmpfs when there is one,
    as fsync is cheap there."""
    import tempfile

    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else "/tmp"
    return Path(tempfile.mkdtemp(prefix="sd-", dir=base))
