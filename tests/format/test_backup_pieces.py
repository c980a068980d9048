"""Records stored as pieces (docs/backup-format.md, "Pieces"): what a damaged block costs.

A client record of 16,384 scalars spans five blocks. Stored whole, one flipped bit in any of
them cost all 16,390 of its scalars (issue #14, item 6). Stored as pieces of about 8 KiB, a
flipped bit costs the pieces from the damaged one to the end of its block (and the one piece
reaching into the next block), and the reporter names the record, the pieces and the steps.
Each test writes a real file with `BackupWriter` and damages real bytes, with scalar rows as
packed columns (format 1, a client's fallback file) and compact (format 2, the daemon's: pieces
are cut between blocks).
"""

from __future__ import annotations

import functools
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logfixture import read_backup, short_tmpdir, write_backup

from swanlabd.format import backup, pieces, scalarcodec
from swanlabd.format.logformat import BLOCK_SIZE
from swanlabd.format.logreader import LogReader
from swanlabd_pb import records_pb2 as pb

KEYS = 10
ROWS = 16_384 // KEYS + 1  # the client closes a record at the row that reaches 16,384 scalars
FORMS = ("columns", "compact")
VALUE_BYTES = {"columns": 8, "compact": 4}  # what a value of client_record costs in each form


@pytest.fixture(params=FORMS)
def form(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client_record(i: int, *, first_step: int = 0, kind: str = "scalars") -> pb.Record:
    """A ScalarRows record as big as the client makes them: 1,639 rows of 10 scalars."""
    steps = range(first_step, first_step + ROWS)
    return pb.Record(
        time_ms=1_700_000_000_000 + i,
        writer=1,
        client_seq=i,
        **{
            kind: pb.ScalarRows(
                steps=steps,
                row_sizes=[KEYS] * ROWS,
                key_ids=list(range(KEYS)) * ROWS,
                values=[s + k / 16 for s in steps for k in range(KEYS)],
                time_deltas_ms=[7 * (s - first_step) for s in steps],
            )
        },
    )


def rows_of(record: pb.Record) -> list[tuple[int, tuple[float, ...]]]:
    rows = scalarcodec.decode(getattr(record, record.WhichOneof("kind")))
    out, i = [], 0
    for step, size in zip(rows.steps, rows.row_sizes, strict=True):
        out.append((step, tuple(rows.values[i : i + size])))
        i += size
    return out


def payload_spans(path: Path) -> list[tuple[int, int, pieces.Piece | None]]:
    """(start, end, piece or None for a whole record) of every payload in the file."""
    data = path.read_bytes()
    reader = LogReader(io.BytesIO(data))
    out = []
    while (payload := reader.read_record()) is not None:
        body = payload[:-4]
        out.append((reader.last_record_offset, reader.end_offset, pieces.peek(body)))
    return out


def flip(path: Path, offset: int, bit: int = 0x10) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ bit]))


def test_a_client_sized_record_is_stored_as_pieces_and_read_back_whole(tmpdir_short: Path, form: str) -> None:
    path = tmpdir_short / "b"
    written = [client_record(1), client_record(2, first_step=ROWS, kind="system")]
    write_backup(path, [pb.Record(writer=1, client_seq=1, keys=pb.KeyDefs()), *written], compact_rows=form == "compact")
    spans = payload_spans(path)
    parts = [p for _, _, p in spans if p is not None]
    # 16,390 values are 128 KiB as doubles (about 17 pieces of 8 KiB each), 64 KiB compact
    assert len(parts) >= 2 * 16 * VALUE_BYTES[form] // 8
    assert all(end - start <= pieces.PIECE_BYTES + 64 for start, end, p in spans if p is not None)
    records, _, losses, reader = read_backup(path)
    assert [rows_of(r) for r in records[2:]] == [rows_of(r) for r in written]
    assert not losses.items and reader.torn_tail is None
    assert [r.seq for r in records] == [0, 1, 2, 3]
    assert [r.WhichOneof("kind") for r in records[2:]] == ["scalars", "system"]
    assert all(bool(getattr(r, r.WhichOneof("kind")).blocks) == (form == "compact") for r in records[2:])
    if form == "compact":  # a piece is whole blocks
        for _, _, piece in spans:
            if piece is not None:
                record = pb.Record.FromString(piece.data)
                assert record.scalars.blocks or record.system.blocks


def test_a_flipped_bit_costs_the_pieces_of_its_block_not_the_record(tmpdir_short: Path, form: str) -> None:
    """The regression of issue #14 item 6: 16,390 scalars lost for one bit; now about a block's worth."""
    path = tmpdir_short / "b"
    written = [client_record(i, first_step=(i - 1) * ROWS) for i in range(1, 4)]
    write_backup(path, written, compact_rows=form == "compact")
    # Inside the first record, with pieces of it on either side of the damaged stretch.
    flip(path, {"columns": 2 * BLOCK_SIZE + 5000, "compact": BLOCK_SIZE - 5000}[form])

    records, _, losses, _ = read_backup(path)
    total = 3 * ROWS * KEYS
    kept = sum(len(rows_of(r)) * KEYS for r in records if r.WhichOneof("kind") == "scalars")
    assert total - kept <= (BLOCK_SIZE + 2 * pieces.PIECE_BYTES) // VALUE_BYTES[form]  # once: 16,390
    assert [r.seq for r in records] == [0, 1, 2, 3]  # record 1 comes back, shorter
    original = rows_of(written[0])
    returned = rows_of(records[1])
    assert set(returned) < set(original) and returned == sorted(returned)
    (loss,) = losses.pieces
    assert loss.seq == 1 and loss.last is not None and loss.first <= loss.last
    lost_steps = [step for step, _ in original if (step, _) not in set(returned)]
    assert loss.after_step is not None and loss.before_step is not None
    assert loss.after_step < lost_steps[0] and lost_steps[-1] < loss.before_step
    assert lost_steps == list(range(loss.after_step + 1, loss.before_step))
    assert losses.seqs == []  # no record lost whole
    assert rows_of(records[2]) == rows_of(written[1]) and rows_of(records[3]) == rows_of(written[2])
    text = backup.describe_loss(*losses.items[0][1:2], losses.items[0][2], losses.items[0][0], None, (loss,))
    assert f"seq 1: pieces {loss.first}..{loss.last} lost" in text and f"after step {loss.after_step}" in text


def test_lost_first_and_last_pieces_are_named_with_the_kept_steps(tmpdir_short: Path, form: str) -> None:
    path = tmpdir_short / "b"
    written = [client_record(i, first_step=(i - 1) * ROWS) for i in range(1, 4)]
    write_backup(path, written, compact_rows=form == "compact")
    spans = payload_spans(path)
    # The block where record 2's pieces begin: damage it before them, losing record 1's last
    # pieces and record 2's first ones.
    first_of_2 = next(start for start, _, p in spans if p is not None and p.seq == 2)
    flip(path, first_of_2 - 100)
    records, _, losses, _ = read_backup(path)
    assert [r.seq for r in records] == [0, 1, 2, 3]
    tail, head = losses.pieces
    assert (tail.seq, tail.last, tail.before_step) == (1, None, None) and tail.after_step is not None
    assert (head.seq, head.first, head.after_step) == (2, 1, None) and head.before_step is not None
    assert rows_of(records[2])[0][0] == head.before_step


def test_long_console_output_is_stored_as_pieces_of_lines(tmpdir_short: Path) -> None:
    path = tmpdir_short / "b"
    lines = [pb.ConsoleLine(line_no=n, text=f"epoch {n}: " + "x" * 90) for n in range(2000)]
    written = pb.Record(writer=1, client_seq=1, console=pb.ConsoleLines(lines=lines))
    write_backup(path, [written])
    assert sum(p is not None for _, _, p in payload_spans(path)) > 20
    (_, record), _, _, _ = read_backup(path)
    assert record == written
    flip(path, BLOCK_SIZE + 100)
    (_, record), _, losses, _ = read_backup(path)
    kept = [line.line_no for line in record.console.lines]
    assert kept == sorted(kept) and 2000 - len(kept) <= (BLOCK_SIZE + 2 * pieces.PIECE_BYTES) // 100
    assert losses.pieces and losses.pieces[0].seq == 1


def test_a_file_cut_among_the_pieces_of_its_last_record_has_a_torn_tail(tmpdir_short: Path, form: str) -> None:
    """A writer that died in the one write() of a record's pieces never acked it: torn, not lost,
    and reopening cuts it so that the client's replay writes it whole."""
    path = tmpdir_short / "b"
    ends = write_backup(path, [client_record(1), client_record(2, first_step=ROWS)], compact_rows=form == "compact")
    spans = payload_spans(path)
    cut = next(end for _, end, p in spans if p is not None and p.seq == 2 and p.part == 3)
    os.truncate(path, cut)
    records, _, losses, reader = read_backup(path)
    assert [r.seq for r in records] == [0, 1] and not losses.items
    assert reader.torn_tail == (ends[1], cut - ends[1])
    with backup.BackupWriter.open(path, compact_rows=form == "compact") as writer:
        assert writer.client_seqs == {1: 1} and writer.tail_cut == (ends[1], cut - ends[1])
        writer.append([client_record(2, first_step=ROWS)])
    records, _, losses, reader = read_backup(path)
    assert [r.seq for r in records] == [0, 1, 2] and not losses.items and reader.torn_tail is None
    assert rows_of(records[2]) == rows_of(client_record(2, first_step=ROWS))


def test_a_read_from_a_block_boundary_skips_the_pieces_of_a_record_begun_before(tmpdir_short: Path, form: str) -> None:
    path = tmpdir_short / "b"
    write_backup(path, [client_record(1), client_record(2, first_step=ROWS)], compact_rows=form == "compact")
    spans = payload_spans(path)
    # A block boundary inside record 1's pieces: its remaining pieces are not returned.
    assert next(start for start, _, p in spans if p is not None and p.seq == 2) > BLOCK_SIZE
    records, _, losses, _ = read_backup(path, BLOCK_SIZE)
    assert [r.seq for r in records] == [2] and not losses.items
    assert spans[-1][2] is not None and spans[-1][2].seq == 2


@functools.cache
def four_records(form: str) -> tuple[bytes, list[list[tuple[int, tuple[float, ...]]]], list[tuple[int, int, set[int]]]]:
    """The undamaged file of four client records, their rows, and (first block, last block,
    steps) of every piece."""
    scratch = short_tmpdir()
    try:
        path = scratch / "b"
        written = [client_record(i, first_step=(i - 1) * ROWS) for i in range(1, 5)]
        write_backup(path, written, compact_rows=form == "compact")
        spans = []
        for start, end, p in payload_spans(path):
            if p is not None:
                piece = pb.Record()
                piece.ParseFromString(p.data)
                spans.append((start // BLOCK_SIZE, (end - 1) // BLOCK_SIZE, set(scalarcodec.steps(piece.scalars))))
        return path.read_bytes(), [rows_of(r) for r in written], spans
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def scratch_path() -> Iterator[Path]:
    scratch = short_tmpdir()
    yield scratch / "b"
    shutil.rmtree(scratch, ignore_errors=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FORMS), st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 7)), min_size=1, max_size=3))
def test_random_flips_cost_only_the_pieces_they_touch(
    scratch_path: Path, form: str, flips: list[tuple[int, int]]
) -> None:
    """Whatever bits flip: rows come back exactly as written and in order, every piece with no
    byte in a damaged block comes back, and every seq is returned or reported lost once."""
    data, original, spans = four_records(form)
    damaged = bytearray(data)
    damaged_blocks = set()
    for at, bit in flips:
        damaged[at % len(data)] ^= 1 << bit
        damaged_blocks.add((at % len(data)) // BLOCK_SIZE)
    scratch_path.write_bytes(damaged)
    records, _, losses, _ = read_backup(scratch_path)
    returned_steps = set()
    for record in (r for r in records if r.seq):
        rows = rows_of(record)
        kept = set(rows)
        assert rows == [row for row in original[record.seq - 1] if row in kept], f"seq {record.seq}: rows differ"
        returned_steps.update(step for step, _ in rows)
    for first, last, steps in spans:
        if not set(range(first, last + 1)) & damaged_blocks:
            assert steps <= returned_steps, "an undamaged piece was not returned"
    seqs = [r.seq for r in records]
    assert not set(losses.seqs) & set(seqs) and len(losses.seqs) == len(set(losses.seqs))
    assert sorted(set(losses.seqs) | set(seqs)) == list(range(max(seqs) + 1))
