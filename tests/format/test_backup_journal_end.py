"""`Record.journal_end` in a backup file (docs/journal.md): the daemon stores a journal range as
the `scalars` record it stands for, with the writer's journal position after it. The position
must survive what the writer does to a record on its way to the file (compact rows, pieces) and
come back at reopen (`BackupWriter.open().journal_ends`), or a dead writer's tail would be read
from the wrong place and its rows doubled or lost.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from logfixture import read_backup, write_backup
from test_backup_pieces import ROWS, client_record, payload_spans, rows_of

from swanlabd.format import backup, scalarcodec
from swanlabd_pb import records_pb2 as pb


@pytest.fixture(params=("columns", "compact"))
def compact(request: pytest.FixtureRequest) -> bool:
    return request.param == "compact"


def with_end(record: pb.Record, end: int) -> pb.Record:
    record.journal_end = end
    return record


def test_journal_end_is_kept_on_small_and_split_records_and_recovered_at_reopen(
    tmpdir_short: Path, compact: bool
) -> None:
    path = tmpdir_short / "b"
    small = pb.Record(
        time_ms=5,
        writer=1,
        client_seq=1,
        journal_end=4096,
        scalars=pb.ScalarRows(steps=[0], row_sizes=[1], key_ids=[0], values=[1.5]),
    )
    big = with_end(client_record(2), 1 << 40)  # stored as pieces: each piece carries it
    other = with_end(client_record(1, first_step=ROWS), 777)
    other.writer = 3
    write_backup(path, [small, big, other], compact_rows=compact)
    pieces_of_big = [p for _, _, p in payload_spans(path) if p is not None and p.seq == 2]
    assert len(pieces_of_big) >= 2
    assert all(pb.Record.FromString(p.data).journal_end == 1 << 40 for p in pieces_of_big)
    records, _, losses, _ = read_backup(path)
    assert not losses.items
    assert [r.journal_end for r in records] == [0, 4096, 1 << 40, 777]
    assert rows_of(records[2]) == rows_of(client_record(2))
    assert all(bool(r.scalars.blocks) == compact for r in records[1:])
    with backup.BackupWriter.open(path, compact_rows=compact) as writer:
        assert writer.journal_ends == {1: 1 << 40, 3: 777}
        assert writer.client_seqs == {1: 2, 3: 1}
        writer.append([pb.Record(writer=1, client_seq=3, journal_end=(1 << 40) + 32, scalars=pb.ScalarRows())])
        assert writer.journal_ends[1] == (1 << 40) + 32


def test_a_record_of_zero_rows_is_stored_and_read_back_as_scalars(tmpdir_short: Path, compact: bool) -> None:
    """A journal range of KEY entries only makes a `scalars` record without rows."""
    path = tmpdir_short / "b"
    write_backup(
        path, [pb.Record(writer=1, client_seq=1, journal_end=48, scalars=pb.ScalarRows())], compact_rows=compact
    )
    records, _, losses, _ = read_backup(path)
    assert not losses.items
    assert records[1].WhichOneof("kind") == "scalars" and records[1].journal_end == 48
    rows = scalarcodec.decode(records[1].scalars)
    assert list(rows.steps) == [] and list(rows.values) == []
    assert scalarcodec.steps(records[1].scalars) == []
    with backup.BackupWriter.open(path, compact_rows=compact) as writer:
        assert writer.journal_ends == {1: 48}
