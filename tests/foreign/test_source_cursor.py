"""Where a sync finds its last source cursor: the backup, read from the run entry's hint."""

from __future__ import annotations

import pytest

from swanlabd.format import backup
from swanlabd.service import foreignsync
from swanlabd_pb import records_pb2 as pb


def chunk(n: int) -> list[pb.Record]:
    rows = pb.ScalarRows(steps=[n], row_sizes=[1], key_ids=[1], values=[float(n)], time_deltas_ms=[0])
    return [pb.Record(scalars=rows), pb.Record(source=pb.SourceCursor(kind="t", cursor=f'{{"n": {n}}}'))]


@pytest.fixture
def written(tmp_path):
    """A converted run's backup of three chunks; the offsets where each chunk's write began."""
    path = tmp_path / backup.BACKUP_FILENAME
    writer = backup.BackupWriter.create(path, "r")
    starts = []
    for n in range(3):
        starts.append(writer.size)
        writer.append(chunk(n))
    writer.append([pb.Record(finish=pb.Finish(state=pb.FINISHED))])
    writer.close()
    return path, starts


def cursor_of(path, at: int) -> str:
    found = foreignsync.last_cursor(path, at)
    assert found is not None
    return found.cursor


def test_hint_reads_only_the_last_chunk(written, monkeypatch):
    path, starts = written
    offsets = []
    read = backup.read_records
    monkeypatch.setattr(backup, "read_records", lambda p, offset, *a: offsets.append(offset) or read(p, offset, *a))
    assert cursor_of(path, starts[2]) == '{"n": 2}'
    assert offsets == [starts[2]]  # not the whole file


def test_hint_behind_the_file_finds_the_later_cursor(written):
    path, starts = written
    assert cursor_of(path, starts[0]) == '{"n": 2}'  # the entry missed the last writes


def test_hint_past_the_file_reads_it_all(written):
    path, starts = written
    assert cursor_of(path, path.stat().st_size + 100) == '{"n": 2}'  # the file was cut shorter
    assert cursor_of(path, 0) == '{"n": 2}'  # no hint (a run synced by an older daemon)
