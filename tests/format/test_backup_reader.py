"""The Record layer's named damages: exact lost seq ranges, payload checksums that stop
mis-joined fragments, moved blocks, and the header checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from logfixture import console_record, read_backup, record_starts, scalar_record, write_backup

from swanlabd.format import backup
from swanlabd.format.logformat import BLOCK_SIZE
from swanlabd.format.logreader import Reason
from swanlabd.format.logwriter import LogWriter
from swanlabd_pb import records_pb2 as pb


def many_records(n: int = 300) -> list[pb.Record]:
    return [scalar_record(i, rows=1 + i % 17) for i in range(1, n + 1)]


def test_intact_file_reads_back_every_record(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    written = many_records()
    ends = write_backup(path, written)
    records, read_ends, losses, reader = read_backup(path)
    assert records[0].header.magic == backup.MAGIC and records[0].header.format_version == 2
    assert records[0].header.run_id == "run-test"
    assert records[1:] == written
    assert [r.seq for r in records] == list(range(len(written) + 1))
    assert read_ends == ends
    assert losses.items == [] and reader.torn_tail is None


def test_damaged_block_in_the_middle_names_the_lost_seqs(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    ends = write_backup(path, many_records())
    data = bytearray(path.read_bytes())
    data[BLOCK_SIZE + 5000] ^= 0x40
    path.write_bytes(data)
    records, _, losses, _ = read_backup(path)
    starts = record_starts(ends)
    # Lost: the record holding the damaged byte and everything after it that touches block 1.
    hit = next(i for i, (s, e) in enumerate(zip(starts, ends, strict=True)) if s <= BLOCK_SIZE + 5000 < e)
    survivors = next(i for i, s in enumerate(starts) if s >= 2 * BLOCK_SIZE and i > hit)
    ((offset, nbytes, reason, seqs),) = losses.items
    assert reason == Reason.CHECKSUM_MISMATCH
    assert seqs == (hit, survivors - 1)
    assert offset == starts[hit] and offset + nbytes <= starts[survivors]
    assert [r.seq for r in records] == [s for s in range(len(ends)) if not hit <= s < survivors]


def test_damage_after_the_last_intact_record_has_unknown_seqs(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    ends = write_backup(path, many_records(20))
    data = bytearray(path.read_bytes())
    data[ends[15] + 9] ^= 0x01
    path.write_bytes(data)
    records, _, losses, reader = read_backup(path)
    assert [r.seq for r in records] == list(range(16))
    assert losses.items == [(ends[15], ends[-1] - ends[15], Reason.CHECKSUM_MISMATCH, None)]
    assert reader.end_offset == ends[15]


def test_deleted_block_never_yields_a_joined_record(tmpdir_short: Path) -> None:
    """first(R1) then last(R2) once the block between is gone: their framing is valid, the
    Record's own checksum is not."""
    path = tmpdir_short / backup.BACKUP_FILENAME
    big = [console_record(i, 2 * BLOCK_SIZE) for i in range(1, 4)]
    write_backup(path, big)
    data = bytearray(path.read_bytes())
    del data[BLOCK_SIZE : 3 * BLOCK_SIZE]  # R1's tail and R2's head: R1's FIRST now meets R2's tail
    path.write_bytes(data)
    records, _, losses, _ = read_backup(path)
    assert [r.seq for r in records] == [0, 3]
    assert records[1] == big[2]
    ((_, _, reason, seqs),) = losses.items
    assert reason == backup.LossReason.RECORD_CHECKSUM_MISMATCH
    assert seqs == (1, 2)


def test_swapped_blocks_yield_no_record_out_of_order(tmpdir_short: Path) -> None:
    """Blocks 1 and 3 swapped: block 3's records come first and are returned; blocks 2 and
    1 then hold only older seqs, which are dropped (already counted lost), never reordered."""
    path = tmpdir_short / backup.BACKUP_FILENAME
    written = many_records(600)
    ends = write_backup(path, written)
    starts = record_starts(ends)
    data = bytearray(path.read_bytes())
    one, three = data[BLOCK_SIZE : 2 * BLOCK_SIZE], data[3 * BLOCK_SIZE : 4 * BLOCK_SIZE]
    data[BLOCK_SIZE : 2 * BLOCK_SIZE], data[3 * BLOCK_SIZE : 4 * BLOCK_SIZE] = three, one
    path.write_bytes(data)
    records, _, losses, _ = read_backup(path)
    seqs = [r.seq for r in records]
    assert seqs == sorted(set(seqs))
    assert all(r == written[r.seq - 1] for r in records[1:])
    into_block_1 = next(i for i, end in enumerate(ends) if end > BLOCK_SIZE)
    in_block_3 = next(i for i, start in enumerate(starts) if start >= 3 * BLOCK_SIZE)
    across_4 = next(i for i, end in enumerate(ends) if end > 4 * BLOCK_SIZE)
    assert [seqs for *_, seqs in losses.items] == [(into_block_1, in_block_3 - 1), (across_4, across_4)]
    assert sorted(losses.seqs + seqs) == list(range(len(ends)))


def test_seq_gap_without_damaged_bytes_is_reported(tmpdir_short: Path) -> None:
    """Records removed whole (here: framed without them) still show as missing seqs."""
    path = tmpdir_short / backup.BACKUP_FILENAME
    data = bytearray()
    writer = LogWriter(data.extend)
    header = pb.Record(seq=0, header=pb.FileHeader(magic=backup.MAGIC, format_version=1))
    for record in [header, pb.Record(seq=1), pb.Record(seq=4)]:
        writer.add_record(backup.encode_payload(record))
    path.write_bytes(data)
    records, _, losses, _ = read_backup(path)
    assert [r.seq for r in records] == [0, 1, 4]
    ((offset, nbytes, reason, seqs),) = losses.items
    assert (nbytes, reason, seqs) == (0, backup.LossReason.MISSING_SEQS, (2, 3))


def test_resumed_read_with_next_seq_names_records_lost_at_its_start(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    written = [scalar_record(i) for i in range(1, 5)] + [console_record(5, BLOCK_SIZE)]
    written += [scalar_record(i) for i in range(6, 11)]
    ends = write_backup(path, written)
    data = bytearray(path.read_bytes())
    data[ends[4] + 8] ^= 0x01  # inside record 5's first fragment
    path.write_bytes(data)
    records, _, losses, _ = read_backup(path, ends[4], next_seq=5)
    assert [r.seq for r in records] == list(range(6, 11))
    assert [(offset, seqs) for offset, _, _, seqs in losses.items] == [(ends[4], (5, 5))]
    _, _, unknown, _ = read_backup(path, ends[4])
    assert [seqs for *_, seqs in unknown.items] == [None]


def test_resuming_from_each_end_offset_reads_the_rest(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    written = [console_record(i, n) for i, n in enumerate([10, 40000, 32700, 5, 100000, 20], start=1)]
    ends = write_backup(path, written)
    for i, end in enumerate(ends):
        records, read_ends, losses, _ = read_backup(path, end, next_seq=i + 1)
        assert [r.seq for r in records] == list(range(i + 1, len(ends)))
        assert read_ends == ends[i + 1 :] and losses.items == []


def test_a_file_that_is_not_a_backup_is_refused(tmpdir_short: Path) -> None:
    path = tmpdir_short / "other.log"
    data = bytearray()
    LogWriter(data.extend).add_record(b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00 some leveldb batch")
    path.write_bytes(data)
    with pytest.raises(backup.BackupFormatError, match="not a swanlabd backup"):
        read_backup(path)


def test_a_wrong_magic_is_refused(tmpdir_short: Path) -> None:
    path = tmpdir_short / "other.log"
    data = bytearray()
    LogWriter(data.extend).add_record(
        backup.encode_payload(pb.Record(header=pb.FileHeader(magic="wandb", format_version=1)))
    )
    path.write_bytes(data)
    with pytest.raises(backup.BackupFormatError, match="magic"):
        read_backup(path)


def test_a_newer_format_version_is_refused(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    data = bytearray()
    header = pb.Record(header=pb.FileHeader(magic=backup.MAGIC, format_version=backup.FORMAT_VERSION + 1))
    LogWriter(data.extend).add_record(backup.encode_payload(header))
    path.write_bytes(data)
    with pytest.raises(backup.BackupFormatError, match=f"format version {backup.FORMAT_VERSION + 1}"):
        read_backup(path)


def test_torn_tail_is_a_clean_end(tmpdir_short: Path) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    ends = write_backup(path, many_records(50))
    with open(path, "r+b") as f:
        f.truncate(ends[-1] - 3)
    records, _, losses, reader = read_backup(path)
    assert len(records) == len(ends) - 1
    assert losses.items == []
    assert reader.torn_tail == (ends[-2], ends[-1] - 3 - ends[-2])
