"""BackupWriter: create/open/append/sync/close, the flock, failed writes and fsyncs, and
reopening after a torn or damaged tail."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from logfixture import Losses, console_record, read_backup, scalar_record, write_backup

from swanlabd.format import backup
from swanlabd.format.logformat import BLOCK_SIZE
from swanlabd.format.logreader import Reason
from swanlabd_pb import records_pb2 as pb


def test_create_writes_the_header_as_seq_0(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    with backup.BackupWriter.create(path, "abc123") as writer:
        assert writer.last_seq == 0 and writer.size == path.stat().st_size and writer.run_id == "abc123"
    ((record, end),) = list(backup.read_records(path))
    assert record.seq == 0 and record.writer == 0 and record.client_seq == 0
    assert record.header.magic == "swanlabd-backup" and record.header.format_version == 2
    assert record.header.run_id == "abc123" and record.header.created_by.startswith("swanlabd ")
    assert end == path.stat().st_size


def test_create_never_overwrites(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    backup.BackupWriter.create(path, "a").close()
    with pytest.raises(FileExistsError):
        backup.BackupWriter.create(path, "b")


def test_append_numbers_records_densely_and_returns_the_size(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    with backup.BackupWriter.create(path, "r") as writer:
        batch = [scalar_record(i) for i in range(1, 4)]
        size = writer.append(batch)
        assert [r.seq for r in batch] == [1, 2, 3]
        assert size == path.stat().st_size == writer.size
        assert writer.append([console_record(4, 70000)]) == path.stat().st_size
        assert writer.last_seq == 4
    assert [r.seq for r, _ in backup.read_records(path)] == [0, 1, 2, 3, 4]


def test_one_write_per_append(tmpdir_short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    writer = backup.BackupWriter.create(path, "r")
    calls = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: calls.append(len(data)) or real_write(fd, data))
    writer.append([scalar_record(i) for i in range(1, 501)] + [console_record(501, 100000)])
    assert len(calls) == 1 and calls[0] > 3 * BLOCK_SIZE
    monkeypatch.undo()
    writer.close()


def test_open_recovers_last_seq_client_seqs_and_run_id(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    records = [scalar_record(i, writer=1) for i in range(1, 6)] + [scalar_record(i, writer=2) for i in range(1, 3)]
    records.append(pb.Record(time_ms=1, system=pb.ScalarRows(steps=[1], row_sizes=[1], key_ids=[0], values=[1.0])))
    write_backup(path, records, run_id="xyz")
    with backup.BackupWriter.open(path) as writer:
        assert (writer.last_seq, writer.client_seqs, writer.run_id) == (8, {1: 5, 2: 2}, "xyz")
        writer.append([scalar_record(6, writer=1)])
        assert writer.client_seqs == {1: 6, 2: 2} and writer.last_seq == 9


def test_second_writer_gets_backup_locked(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    with backup.BackupWriter.create(path, "r"):
        with pytest.raises(backup.BackupLocked):
            backup.BackupWriter.open(path)
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from swanlabd.format import backup; backup.BackupWriter.open(sys.argv[1])",
                str(path),
            ],
            capture_output=True,
            text=True,
        )
        assert other.returncode != 0 and "BackupLocked" in other.stderr
    backup.BackupWriter.open(path).close()  # released on close


def test_failed_fsync_refuses_every_later_call(tmpdir_short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    writer = backup.BackupWriter.create(path, "r")
    writer.append([scalar_record(1)])

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(backup.StorageError, match="fsync failed"):
        writer.sync()
    monkeypatch.undo()
    with pytest.raises(backup.StorageError):
        writer.append([scalar_record(2)])
    with pytest.raises(backup.StorageError):
        writer.sync()
    with pytest.raises(backup.StorageError):
        writer.close()
    backup.BackupWriter.open(path).close()  # the fd (and its flock) was released


def test_failed_write_leaves_no_partial_append(tmpdir_short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    writer = backup.BackupWriter.create(path, "r")
    writer.append([scalar_record(1)])
    size = path.stat().st_size
    real_write = os.write

    def short_then_enospc(fd: int, data: bytes) -> int:
        if len(data) > 1000:
            return real_write(fd, data[:1000])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_enospc)
    with pytest.raises(backup.StorageError, match="write failed"):
        writer.append([console_record(2, 5000)])
    monkeypatch.undo()
    assert path.stat().st_size == size == writer.size
    writer.append([console_record(2, 5000)])  # the disk has room again: carry on
    writer.close()
    records, _, losses, _ = read_backup(path)
    assert [r.seq for r in records] == [0, 1, 2] and losses.items == []


def test_reopen_cuts_a_torn_tail_and_appends_readably(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    ends = write_backup(path, [console_record(i, 20000) for i in range(1, 6)])
    with open(path, "r+b") as f:
        f.truncate(ends[-1] - 5000)
    losses = Losses()
    with backup.BackupWriter.open(path, losses) as writer:
        assert writer.size == ends[-2] and writer.last_seq == 4
        writer.append([scalar_record(5)])
    records, _, after, reader = read_backup(path)
    assert [r.seq for r in records] == [0, 1, 2, 3, 4, 5]
    assert losses.items == after.items == [] and reader.torn_tail is None


def test_reopen_cuts_a_damaged_tail_after_reporting_it(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    ends = write_backup(path, [console_record(i, 300) for i in range(1, 10)])
    data = bytearray(path.read_bytes())
    data[ends[6] + 20] ^= 0x01
    path.write_bytes(data)
    losses = Losses()
    with backup.BackupWriter.open(path, losses) as writer:
        assert writer.last_seq == 6 and writer.size == ends[6]
        writer.append([scalar_record(7)])
    assert losses.items == [(ends[6], ends[-1] - ends[6], Reason.CHECKSUM_MISMATCH, None)]
    records, _, after, _ = read_backup(path)
    assert [r.seq for r in records] == list(range(8)) and after.items == []


def test_reopen_refuses_a_file_without_its_header(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    write_backup(path, [scalar_record(1)])
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(data)
    with pytest.raises(backup.BackupFormatError, match="FileHeader"):
        backup.BackupWriter.open(path)
    backup.BackupWriter.create(tmpdir_short / "empty", "r").close()
    os.truncate(tmpdir_short / "empty", 0)
    with pytest.raises(backup.BackupFormatError):
        backup.BackupWriter.open(tmpdir_short / "empty")


def test_reader_follows_a_growing_file(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    seen: list[int] = []
    offset, next_seq = 0, 0
    with backup.BackupWriter.create(path, "r") as writer:
        for i in range(1, 40):
            writer.append([console_record(i, 3000 * (i % 7))])
            # A half-written next record must look like a clean end, not damage.
            if i % 5 == 0:
                with open(path, "ab") as f:
                    f.write(b"\x12\x34\x56")
            losses = Losses()
            for record, end in backup.read_records(path, offset, losses, next_seq=next_seq):
                seen.append(record.seq)
                offset, next_seq = end, record.seq + 1
            assert losses.items == []
            if i % 5 == 0:
                os.truncate(path, writer.size)
    assert seen == list(range(40))


def test_no_space_is_disk_full_and_the_writer_goes_on(tmpdir_short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    writer = backup.BackupWriter.create(path, "r")

    def enospc(fd: int, data: bytes) -> int:
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    monkeypatch.setattr(os, "write", enospc)
    with pytest.raises(backup.DiskFull, match="Disk quota exceeded"):
        writer.append([scalar_record(1)])
    monkeypatch.undo()
    writer.append([scalar_record(1)])
    writer.close()
    records, _, losses, _ = read_backup(path)
    assert [r.seq for r in records] == [0, 1] and losses.items == []


def test_a_failed_write_too_big_to_cut_off_on_a_full_disk_is_cut_by_the_next_append(
    tmpdir_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (issue 14, item 3): the writer refused every later call, so the run stayed broken."""
    path = tmpdir_short / backup.BACKUP_FILENAME
    writer = backup.BackupWriter.create(path, "r")
    writer.append([scalar_record(1)])
    size = path.stat().st_size
    real_write = os.write
    room = [1000]  # bytes the disk takes before it is full

    def fill_then_enospc(fd: int, data: bytes) -> int:
        if not room[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = real_write(fd, data[: room[0]])
        room[0] -= written
        return written

    def enospc(fd: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", fill_then_enospc)
    monkeypatch.setattr(os, "ftruncate", enospc)
    with pytest.raises(backup.DiskFull, match="write failed"):
        writer.append([console_record(2, 5000)])
    assert path.stat().st_size == size + 1000  # the torn bytes stay: a reader takes them for the end
    records, _, losses, _ = read_backup(path)
    assert [r.seq for r in records] == [0, 1] and losses.items == []
    with pytest.raises(backup.DiskFull, match="cannot cut a failed write off yet"):
        writer.append([console_record(2, 5000)])
    monkeypatch.undo()
    writer.append([console_record(2, 5000)])  # space again: the torn bytes go first
    writer.close()
    records, _, losses, _ = read_backup(path)
    assert [r.seq for r in records] == [0, 1, 2] and losses.items == []


def test_an_io_error_whose_write_cannot_be_cut_off_refuses_every_later_call(
    tmpdir_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    writer = backup.BackupWriter.create(path, "r")

    def eio(*args: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "write", eio)
    monkeypatch.setattr(os, "ftruncate", eio)
    with pytest.raises(backup.StorageError, match="write failed") as info:
        writer.append([scalar_record(1)])
    assert not isinstance(info.value, backup.DiskFull)
    monkeypatch.undo()
    with pytest.raises(backup.StorageError, match="refusing writes"):
        writer.append([scalar_record(1)])
    with pytest.raises(backup.StorageError):
        writer.close()
