"""Torn tails, exhaustively: a backup file of more than 3 blocks, cut at every byte offset of
its last two blocks, reopens with exactly the records complete before the cut, never reports
damage, cuts exactly the torn tail, and the records appended after it are all readable.

The last two blocks hold the hard cases: the LAST fragment of a record whose zero-length
FIRST filled the 7 bytes left in the block before them, a 6-byte zero trailer, and a record
crossing into the last block.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from logfixture import Losses, console_record, physical_records, read_backup, scalar_record

from swanlabd.format import backup
from swanlabd.format.logformat import BLOCK_SIZE, HEADER_SIZE, RecordType


def record_leaving(i: int, leftover: int, want: int) -> backup.pb.Record:
    """Console record seq `i` that, written with `leftover` bytes left in its block, leaves `want`."""
    target = leftover - HEADER_SIZE - want
    n = target - (len(backup.encode_payload(console_record(i, 1000))) - 1000)
    for guess in range(n - 8, n + 3):  # nested length varints may be wider than at 1000
        record = console_record(i, guess)
        record.seq = i  # as append will set it: it is part of the payload
        if len(backup.encode_payload(record)) == target:
            return record
    raise AssertionError(f"no console record of payload size {target}")


def build(path: Path) -> tuple[bytes, list[int]]:
    """The file, and the end offset of each record (index = seq)."""
    with backup.BackupWriter.create(path, "torn") as writer:
        ends = [writer.size]

        def add(record: backup.pb.Record) -> None:
            ends.append(writer.append([record]))

        # Few records before the last two blocks: every cut below rescans them.
        add(console_record(1, 40000))
        add(record_leaving(len(ends), 2 * BLOCK_SIZE - writer.size, 7))
        add(scalar_record(len(ends), rows=120))  # empty FIRST in block 1, LAST in block 2
        while writer.size < 3 * BLOCK_SIZE - 12000:
            add(scalar_record(len(ends), rows=250))
        add(record_leaving(len(ends), 3 * BLOCK_SIZE - writer.size, 6))  # 6-byte trailer
        add(scalar_record(len(ends), rows=100))
        add(console_record(len(ends), 1500))
    data = path.read_bytes()
    assert len(data) == ends[-1] and 3 * BLOCK_SIZE < len(data) < 4 * BLOCK_SIZE
    layout = physical_records(data)
    assert (2 * BLOCK_SIZE - 7, RecordType.FIRST, 0) in layout
    assert data[3 * BLOCK_SIZE - 6 : 3 * BLOCK_SIZE] == bytes(6)
    return data, ends


@pytest.mark.slow  # about 36,000 reopens: 10 s on an idle 2-core machine
def test_every_cut_of_the_last_two_blocks_reopens_cleanly(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    data, ends = build(path)
    kept = len(data)  # how much of the file is still the original bytes
    more = [scalar_record(1000, rows=5), console_record(1001, 40000)]  # the second crosses blocks
    for cut in reversed(range(2 * BLOCK_SIZE, len(data) + 1)):
        base = min(kept, cut)
        os.truncate(path, base)
        with open(path, "r+b") as f:
            f.seek(base)
            f.write(data[base:cut])
        complete = sum(1 for end in ends if end <= cut)
        good_end = ends[complete - 1]
        losses = Losses()
        # open() scans with the reader: no reports and a dense last_seq mean it returned
        # exactly seqs 0..complete-1 (a missing seq would have been reported).
        with backup.BackupWriter.open(path, losses) as writer:
            assert (losses.items, writer.last_seq, writer.size) == ([], complete - 1, good_end), cut
            assert writer.tail_cut == (None if cut == good_end else (good_end, cut - good_end)), cut
            writer.append(more)
        kept = good_end
        appended, _, after, reader = read_backup(path, good_end, next_seq=complete)
        assert [r.seq for r in appended] == [complete, complete + 1], cut
        assert after.items == [] and reader.torn_tail is None, cut


def test_cut_tails_read_as_torn_not_damaged(tmpdir_short: Path) -> None:
    """The same cuts seen by a plain reader (as the uploader sees a file being written)."""
    path = tmpdir_short / backup.BACKUP_FILENAME
    data, ends = build(path)
    for cut in reversed(range(2 * BLOCK_SIZE, len(data) + 1, 7)):
        os.truncate(path, cut)
        records, _, losses, reader = read_backup(path)
        complete = sum(1 for end in ends if end <= cut)
        good_end = ends[complete - 1]
        assert [r.seq for r in records] == list(range(complete)) and losses.items == [], cut
        if cut == good_end or (cut % BLOCK_SIZE == 0 and cut - good_end < HEADER_SIZE):
            assert reader.torn_tail is None, cut
        else:
            assert reader.torn_tail == (good_end, cut - good_end), cut
