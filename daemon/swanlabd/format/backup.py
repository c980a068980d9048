"""A run's backup file: protobuf `Record`s in the LevelDB log format (docs/backup-format.md).

    BackupError
    ├── BackupLocked        another process holds the file open for append (flock)
    ├── StorageError        a write or fsync failed: nothing past it may be acked
    │   └── DiskFull        a write found no space: nothing of it is in the file; append again later
    └── BackupFormatError   not a swanlabd backup, or a newer format version (also a ValueError)

The file is the run's queue (docs/backup-format.md): `BackupWriter` appends Records (one write()
per `append`, so an append is in the page cache, "acked", when it returns), and any number of
readers follow it with `read_records` from their own cursor. Each Record's payload is its
serialized bytes plus a masked CRC32C of them, so fragments of different records that damage
brought together are never taken for a record. Seq numbers are dense (0 = FileHeader, then
1, 2, 3 ...), which lets the reader name exactly which records a damaged range held.
"""

from __future__ import annotations

import enum
import errno
import fcntl
import os
import struct
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import google_crc32c
from google.protobuf.message import DecodeError

from swanlabd import __version__
from swanlabd.format import pieces, protowire, scalarcodec
from swanlabd.format.logformat import HEADER_SIZE
from swanlabd.format.logreader import LogReader
from swanlabd.format.logwriter import LogWriter, mask_crc
from swanlabd.format.pieces import PieceLoss
from swanlabd_pb import records_pb2 as pb

BACKUP_FILENAME = "backup.swanlab"
MAGIC = "swanlabd-backup"
FORMAT_VERSION = 2
"""What `create` writes; readers read every version up to it. Format 1 has scalar rows as packed
columns only; format 2 may hold them compact too (scalarcodec.py), both in one file."""
COMPACT_VERSION = 2  # the first format whose files may hold compact scalar rows

_CRC = struct.Struct("<I")
_ROWS_FIELD = {kind: pb.Record.DESCRIPTOR.fields_by_name[kind].number for kind in pieces.SCALAR_KINDS}
StrPath = str | os.PathLike[str]


class BackupError(Exception):
    """Base of the errors of this module; each carries the file's `path`."""

    def __init__(self, path: StrPath, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {message}")


class BackupLocked(BackupError):
    """Another BackupWriter (this or another process) has the file open for append."""


class StorageError(BackupError):
    """A write or fsync failed. After a failed fsync the writer refuses every later call:
    the kernel may have dropped the unwritten pages, so nothing written since the last good
    fsync can be trusted to reach the disk."""


class DiskFull(StorageError):
    """A write found no space (ENOSPC, or EDQUOT: the quota is used up). Nothing of that append is
    in the file and the writer stays usable: append the same records again once space is freed."""


# What a full disk looks like to write(): unlike EIO, it says nothing about the data already written.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class BackupFormatError(BackupError, ValueError):
    """The file is not a swanlabd backup, or was written by a newer format version."""


class LossReason(enum.StrEnum):
    """Drops the Record layer adds to the framing's `logreader.Reason`s."""

    RECORD_CHECKSUM_MISMATCH = "record checksum mismatch"  # fragments of different records joined
    UNPARSEABLE_RECORD = "unparseable record"
    OUT_OF_ORDER = "record out of order"  # an intact record behind a later one (moved blocks)
    MISSING_SEQS = "missing seq numbers"  # a gap in seq with no damaged bytes seen
    MISSING_PIECES = "missing record pieces"  # pieces of a record missing with no damaged bytes seen


class Reporter(Protocol):
    """Told about each damaged stretch of the file, once, in file order.

    A stretch is everything between two intact records (or pieces of one) that could not be
    returned: `nbytes` bytes from `offset`, `reason` for the first drop in it (a
    `logreader.Reason` or a `LossReason`). `seqs` is the inclusive range of seq numbers lost
    whole there, known from the records on both sides; None if no seq is missing or, after the
    last intact record, when nothing follows to tell how many records the damage held.
    `pieces` names the records the stretch took pieces of but that were returned, shorter.
    """

    def lost(
        self, nbytes: int, reason: str, offset: int, seqs: tuple[int, int] | None, pieces: tuple[PieceLoss, ...] = ()
    ) -> None: ...


def describe_loss(
    nbytes: int, reason: str, offset: int, seqs: tuple[int, int] | None, pieces: tuple[PieceLoss, ...] = ()
) -> str:
    """One line saying what a `Reporter.lost` report lost, for logs, upload rejections and verify."""
    what = [f"{nbytes} bytes at offset {offset} ({reason})"]
    if seqs is not None:
        count = seqs[1] - seqs[0] + 1
        what.append(f"seqs {seqs[0]}..{seqs[1]} lost ({count} record{'s' if count > 1 else ''})")
    what.extend(str(p) for p in pieces)
    if seqs is None and not pieces:
        what.append("no whole record known lost (the records after it, if damage ends the file)")
    return "; ".join(what)


def encode_payload(record: pb.Record) -> bytes:
    """A Record's log payload: its serialized bytes and their masked CRC32C (4 bytes LE)."""
    return _with_crc(record.SerializeToString())


def _with_crc(data: bytes) -> bytes:
    return data + _CRC.pack(mask_crc(google_crc32c.value(data)))


def _decode_payload(payload: bytes) -> pb.Record | pieces.Piece | LossReason:
    """The Record in a log payload, the piece of one it holds, or why it holds neither."""
    data = payload[:-4]
    if len(payload) < 4 or _CRC.unpack_from(payload, len(data))[0] != mask_crc(google_crc32c.value(data)):
        return LossReason.RECORD_CHECKSUM_MISMATCH
    if data.startswith(pieces.PART_TAG):
        # Not parsed here: the pieces of a record are parsed once, together, when joined.
        return pieces.peek(data) or LossReason.UNPARSEABLE_RECORD
    return _parse(data) or LossReason.UNPARSEABLE_RECORD


def _parse(data: bytes) -> pb.Record | None:
    record = pb.Record()
    try:
        record.ParseFromString(data)
    except DecodeError:
        return None
    return record


class BackupReader:
    """Iterates over the intact Records of a backup file as (record, end_offset).

    `end_offset` is the byte offset just after the record: pass it back as `offset` to resume.
    A torn tail ends the iteration cleanly, so a growing file can be read again and again
    from the last offset. `next_seq` is the seq the record at `offset` should carry (0 at
    offset 0); it lets a resumed read name the records lost right at its start.
    A record stored as pieces (pieces.py) comes back joined; one that lost pieces to damage
    comes back with the rows or lines of the others, and the reporter names the lost pieces.
    After iterating, `torn_tail` is (offset, nbytes) of an incomplete record at the end, or None.
    """

    def __init__(
        self, path: StrPath, offset: int = 0, reporter: Reporter | None = None, *, next_seq: int | None = None
    ) -> None:
        self.path = Path(path)
        self.offset = offset
        self.reporter = reporter
        self.next_seq = 0 if next_seq is None and offset == 0 else next_seq
        self.end_offset = offset
        self.torn_tail: tuple[int, int] | None = None
        self._stretch: list[int] = []  # [start, end] of the damaged stretch being collected
        self._reason = ""
        self._piece_losses: list[PieceLoss] = []  # pieces lost in the stretch being collected

    def corruption(self, nbytes: int, reason: str, offset: int) -> None:
        """The framing reader's Reporter: collect the drop into the current stretch."""
        if not self._stretch:
            self._stretch = [offset, offset + nbytes]
            self._reason = reason
        else:
            self._stretch[1] = max(self._stretch[1], offset + nbytes)

    def __iter__(self) -> Iterator[tuple[pb.Record, int]]:
        # The pieces read so far of a record stored as pieces, and where the first one began.
        held: list[pieces.Piece] = []
        held_start = held_end = 0
        # Read from an offset past 0 (a block boundary), the first pieces may belong to a record
        # begun before it: not ours to return or report, as the framing skips such fragments.
        skip_seq = None if self.offset > 0 else -1
        with open(self.path, "rb") as file:
            log = LogReader(file, self, self.offset)
            while (payload := log.read_record()) is not None:
                start, end = log.last_record_offset, log.end_offset
                item = _decode_payload(payload)
                if isinstance(item, LossReason):
                    # A single-fragment record that fails here cannot come from damage (its
                    # framing checksum holds), so the file was written by something else.
                    if start == 0 and end == len(payload) + HEADER_SIZE:
                        raise BackupFormatError(self.path, "not a swanlabd backup (its first record is not ours)")
                    self.corruption(end - start, item, start)
                    continue
                if start == 0 and isinstance(item, pb.Record) and item.WhichOneof("kind") == "header":
                    self._check_header(item)
                part = item.part if isinstance(item, pieces.Piece) else 0
                if skip_seq is None:
                    skip_seq = item.seq if part > 1 and not self._stretch else -1
                if part > 1 and item.seq == skip_seq:
                    continue
                if held and isinstance(item, pieces.Piece) and item.seq == held[0].seq and part > held[-1].part:
                    if part > held[-1].part + 1:
                        self._piece_losses.append(pieces.gap(held[-1], item))
                    self._flush(start, None)
                    held.append(item)
                    held_end = end
                    if not item.more:
                        yield from self._joined(held, held_start, held_end)
                        held = []
                    continue
                if held:
                    # The rest of the held record is lost: return what came of it.
                    self._piece_losses.append(pieces.gap(held[-1], None))
                    yield from self._joined(held, held_start, held_end)
                    held = []
                seq = item.seq
                expected = self.next_seq
                if expected is not None and seq < expected:
                    # Only moved blocks put an intact record behind a later one; its seq was
                    # already counted lost when the gap before the later one was reported.
                    self.corruption(end - start, LossReason.OUT_OF_ORDER, start)
                    continue
                if part > 1:
                    assert isinstance(item, pieces.Piece)
                    self._piece_losses.append(pieces.gap(None, item))
                self._flush(start, (expected, seq - 1) if expected is not None and seq > expected else None)
                self.next_seq = seq + 1
                if isinstance(item, pb.Record):
                    self.end_offset = end
                    yield item, end
                elif item.more:
                    held, held_start, held_end = [item], start, end
                else:
                    yield from self._joined([item], start, end)
            if held and not self._stretch:
                # The file ends inside a record stored as pieces with nothing damaged: its
                # writer died in the one write() of them (so it never acked it). A torn tail.
                self.torn_tail = (held_start, log.file_end - held_start)
            else:
                if held:
                    # Damage took the held record's last pieces: return what came of it.
                    self._piece_losses.append(pieces.gap(held[-1], None))
                    yield from self._joined(held, held_start, held_end)
                self.torn_tail = log.torn_tail
            self._flush(log.end_offset, None)

    def _joined(self, held: list[pieces.Piece], start: int, end: int) -> Iterator[tuple[pb.Record, int]]:
        record = pieces.join(held)
        if record is None:  # our writer's pieces always parse; something else wrote these
            self.corruption(end - start, LossReason.UNPARSEABLE_RECORD, start)
            return
        self.end_offset = end
        yield record, end

    def _check_header(self, record: pb.Record) -> None:
        if record.header.magic != MAGIC:
            raise BackupFormatError(self.path, f"not a swanlabd backup (header magic {record.header.magic!r})")
        if record.header.format_version > FORMAT_VERSION:
            raise BackupFormatError(
                self.path,
                f"format version {record.header.format_version} is newer than this swanlabd reads ({FORMAT_VERSION})",
            )

    def _flush(self, at: int, seqs: tuple[int, int] | None) -> None:
        lost_pieces = tuple(self._piece_losses)
        self._piece_losses = []
        if self._stretch:
            start, end = self._stretch
            self._stretch = []
            if self.reporter is not None:
                self._tell(end - start, self._reason, start, seqs, lost_pieces)
        elif (seqs is not None or lost_pieces) and self.reporter is not None:
            reason = LossReason.MISSING_SEQS if seqs is not None else LossReason.MISSING_PIECES
            self._tell(0, reason, at, seqs, lost_pieces)

    def _tell(
        self, nbytes: int, reason: str, offset: int, seqs: tuple[int, int] | None, lost: tuple[PieceLoss, ...]
    ) -> None:
        assert self.reporter is not None
        if lost:
            self.reporter.lost(nbytes, reason, offset, seqs, lost)
        else:  # so a reporter written before pieces existed (four arguments) still works
            self.reporter.lost(nbytes, reason, offset, seqs)


def read_records(
    path: StrPath, offset: int = 0, reporter: Reporter | None = None, *, next_seq: int | None = None
) -> Iterator[tuple[pb.Record, int]]:
    """Yield each intact Record of the file from `offset` with the offset just after it.

    Damage goes to `reporter` (see `Reporter`); a torn tail is a clean end. See `BackupReader`.
    """
    return iter(BackupReader(path, offset, reporter, next_seq=next_seq))


class BackupWriter:
    """The one appender of a backup file, holding an exclusive flock on it.

    Not thread-safe. Use `create` for a new file and `open` to continue one after any crash.
    With `compact_rows`, scalar rows that come as packed columns are stored compact
    (scalarcodec.py): the daemon's writers do that, a client's fallback file does not (it would
    cost the training process CPU). A file of format 1 is continued in format 1's own form, so
    the swanlabd that wrote it can still read it.
    """

    def __init__(
        self,
        path: Path,
        fd: int,
        size: int,
        run_id: str,
        last_seq: int,
        client_seqs: dict[int, int],
        *,
        format_version: int = FORMAT_VERSION,
        compact_rows: bool = False,
        journal_ends: dict[int, int] | None = None,
    ) -> None:
        self.path = path
        self.run_id = run_id
        self.format_version = format_version
        """The version in the file's header."""
        self.compact_rows = compact_rows and format_version >= COMPACT_VERSION
        self.size = size
        """The file's length: every byte of it is an intact record or block trailer."""
        self.last_seq = last_seq
        self.client_seqs = client_seqs
        """For each writer id, the highest client_seq in the file."""
        self.journal_ends: dict[int, int] = dict(journal_ends or {})
        """For each writer id with a journal, the highest `journal_end` in the file (docs/journal.md)."""
        self.tail_cut: tuple[int, int] | None = None
        """(offset, nbytes) that `open` cut off the end (a torn or damaged tail), or None."""
        self._fd: int | None = fd
        self._failed: OSError | None = None
        # A failed write's bytes are still at the end of the file (the disk was too full even to
        # cut them off): the next append cuts them first. Readers take them for a torn tail.
        self._torn = False
        self._pending = bytearray()  # one append's framed records: written in one write()
        self._log = LogWriter(self._pending.extend, size)

    @classmethod
    def create(cls, path: StrPath, run_id: str, *, compact_rows: bool = False) -> BackupWriter:
        """Create a new backup file holding its FileHeader record (seq 0), durably.

        Never overwrites: an existing file raises FileExistsError (other OSErrors pass too).
        """
        path = Path(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        writer = cls(path, _lock(path, fd), 0, run_id, -1, {}, compact_rows=compact_rows)
        header = pb.FileHeader(
            magic=MAGIC, format_version=FORMAT_VERSION, run_id=run_id, created_by=f"swanlabd {__version__}"
        )
        try:
            writer.append([pb.Record(time_ms=int(time.time() * 1000), header=header)])
            writer.sync()
            _fsync_dir(path)
        except BaseException:
            writer._release()
            raise
        return writer

    @classmethod
    def open(cls, path: StrPath, reporter: Reporter | None = None, *, compact_rows: bool = False) -> BackupWriter:
        """Reopen a backup file for append, after a clean close or any crash.

        Everything after the last intact record is cut off: a torn tail silently, a damaged
        tail after telling `reporter`. So records appended now are always readable.
        Recovers `last_seq`, `client_seqs`, `journal_ends` and `run_id`.
        """
        path = Path(path)
        fd = _lock(path, os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC))
        try:
            reader = BackupReader(path, 0, reporter)
            run_id = None
            version = FORMAT_VERSION
            last_seq = -1
            client_seqs: dict[int, int] = {}
            journal_ends: dict[int, int] = {}
            for record, _ in reader:
                if record.seq == 0 and record.WhichOneof("kind") == "header":
                    run_id, version = record.header.run_id, record.header.format_version
                last_seq = record.seq
                if record.client_seq and record.client_seq > client_seqs.get(record.writer, 0):
                    client_seqs[record.writer] = record.client_seq
                if record.journal_end > journal_ends.get(record.writer, 0):
                    journal_ends[record.writer] = record.journal_end
            if run_id is None:
                raise BackupFormatError(path, "the FileHeader record is missing or damaged")
            size = os.fstat(fd).st_size
            if reader.end_offset < size:
                try:
                    os.ftruncate(fd, reader.end_offset)
                    os.fsync(fd)
                except OSError as exc:
                    raise StorageError(path, f"cannot cut the tail after offset {reader.end_offset}: {exc}") from exc
        except BaseException:
            os.close(fd)
            raise
        writer = cls(
            path,
            fd,
            reader.end_offset,
            run_id,
            last_seq,
            client_seqs,
            format_version=version,
            compact_rows=compact_rows,
            journal_ends=journal_ends,
        )
        if reader.end_offset < size:
            writer.tail_cut = (reader.end_offset, size - reader.end_offset)
        return writer

    def append(self, records: Sequence[pb.Record]) -> int:
        """Set each record's seq, frame and write them all in one write(); the new file size.

        On a failed write the file is cut back to where it was and StorageError raised (DiskFull
        for no space: then the writer stays usable); none of the records is then in the file.
        """
        fd = self._check()
        if self._torn:
            self._cut(fd)
        seq = self.last_seq
        block_offset = self._log.block_offset
        pending = self._pending
        pending.clear()
        for record in records:
            seq += 1
            record.seq = seq
            data = self._serialize(record)
            parts = pieces.split(record, data) if len(data) > pieces.PIECE_BYTES else None
            # Stored as pieces, a damaged block costs the pieces in it, not the whole record.
            for part in parts or (data,):
                self._log.add_record(_with_crc(part))
        try:
            _write_all(fd, pending)
        except OSError as exc:
            self._log.block_offset = block_offset
            full = exc.errno in DISK_FULL_ERRNOS
            try:
                os.ftruncate(fd, self.size)
            except OSError:
                if not full:
                    self._failed = exc
                self._torn = full
            if full:
                raise DiskFull(self.path, f"write failed: {exc}") from exc
            raise StorageError(self.path, f"write failed: {exc}") from exc
        self.last_seq = seq
        self.size += len(pending)
        for record in records:
            if record.client_seq and record.client_seq > self.client_seqs.get(record.writer, 0):
                self.client_seqs[record.writer] = record.client_seq
            if record.journal_end > self.journal_ends.get(record.writer, 0):
                self.journal_ends[record.writer] = record.journal_end
        return self.size

    def _serialize(self, record: pb.Record) -> bytes:
        """The record's bytes as stored: scalar rows compact if this writer compacts them.

        Scalar rows always go last, after the record's other fields (`journal_end`, field 24,
        included, which protobuf would put after them): pieces.split cuts only a record laid out
        so, and copies those fields onto every piece.
        """
        kind = record.WhichOneof("kind")
        if kind not in pieces.SCALAR_KINDS:
            return record.SerializeToString()
        rows = getattr(record, kind)
        compact = self.compact_rows and not rows.blocks and bool(rows.steps)
        if not compact and not record.journal_end:
            return record.SerializeToString()
        # A record being appended has these fields and its rows, nothing else (pieces are cut
        # after this); the rows go last, as protobuf orders them.
        head = pb.Record(
            seq=record.seq,
            time_ms=record.time_ms,
            writer=record.writer,
            client_seq=record.client_seq,
            journal_end=record.journal_end,
        )
        body = scalarcodec.compact(rows) if compact else rows.SerializeToString()
        # Written even when empty (protowire.field would leave out an empty field): a record of
        # zero rows (a journal range of KEY entries only) is still a `scalars` record.
        return head.SerializeToString() + protowire.tag(_ROWS_FIELD[kind]) + protowire.varint(len(body)) + body

    def _cut(self, fd: int) -> None:
        """Cut a failed write's bytes off the end; DiskFull again while that still fails."""
        try:
            os.ftruncate(fd, self.size)
        except OSError as exc:
            if exc.errno not in DISK_FULL_ERRNOS:
                self._failed = exc
                raise StorageError(self.path, f"cannot cut a failed write off: {exc}") from exc
            raise DiskFull(self.path, f"cannot cut a failed write off yet: {exc}") from exc
        self._torn = False

    def sync(self) -> None:
        """fsync the file. If that fails, this writer refuses every later call."""
        fd = self._check()
        try:
            os.fsync(fd)
        except OSError as exc:
            self._failed = exc
            raise StorageError(self.path, f"fsync failed: {exc}") from exc

    def close(self) -> None:
        """fsync and close (idempotent). Raises StorageError if the data is not durable."""
        if self._fd is None:
            return
        try:
            if self._failed is None:
                self.sync()
        finally:
            self._release()
        if self._failed is not None:
            raise StorageError(self.path, f"closed after a failed write or fsync: {self._failed}")

    def _release(self) -> None:
        """Close the file (which drops the flock) without syncing."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> BackupWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check(self) -> int:
        if self._fd is None:
            raise ValueError(f"{self.path}: BackupWriter is closed")
        if self._failed is not None:
            raise StorageError(self.path, f"refusing writes after a failed write or fsync: {self._failed}")
        return self._fd


def _lock(path: Path, fd: int) -> int:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise BackupLocked(path, "another writer has it open for append") from exc
        raise StorageError(path, f"flock failed: {exc}") from exc
    return fd


def _write_all(fd: int, data: bytes | bytearray) -> None:
    # No memoryview: one kept alive by a traceback would stop the bytearray from being reused.
    written = os.write(fd, data)
    while written < len(data):
        written += os.write(fd, data[written:])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        raise StorageError(path, f"fsync of the folder failed: {exc}") from exc
    finally:
        os.close(fd)
