"""Random damage, property-based: flipped bits, zeroed ranges and swapped blocks.

Whatever the damage, the reader
- returns every record that has no fragment in a damaged block (for a swap, every block
  from the one to the other is damaged: their order is),
- never returns a record that differs from what was written, nor one out of seq order,
- reports the lost seq numbers exactly: up to the last record returned, each seq is either
  returned or in exactly one reported range.
Records of a damaged block that lie before the damage survive too, as in LevelDB: a bad
checksum drops the block from that record on.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logfixture import console_record, read_backup, record_starts, scalar_record, short_tmpdir, write_backup

from swanlabd.format import backup
from swanlabd.format.logformat import BLOCK_SIZE


@functools.cache
def original() -> tuple[bytes, list[backup.pb.Record], list[tuple[int, int]]]:
    """The undamaged file, its records by seq, and the (first, last) block of each."""
    scratch = short_tmpdir()
    path = scratch / "original"
    written = []
    for i in range(1, 90):
        if i % 23 == 0:
            written.append(console_record(i, 20000 * (i // 23) + 11000))  # up to 3 blocks
        else:
            written.append(scalar_record(i, rows=1 + (i * 37) % 150))
    ends = write_backup(path, written)
    data = path.read_bytes()
    records = [r for r, _ in backup.read_records(path)]
    spans = [
        (start // BLOCK_SIZE, (end - 1) // BLOCK_SIZE) for start, end in zip(record_starts(ends), ends, strict=True)
    ]
    shutil.rmtree(scratch)
    return data, records, spans


SIZE = len(original()[0])
FULL_BLOCKS = SIZE // BLOCK_SIZE
assert FULL_BLOCKS >= 5

flips = st.tuples(st.just("flip"), st.integers(0, SIZE - 1), st.integers(0, 7))
zeroes = st.tuples(
    st.just("zero"), st.integers(0, SIZE - 1), st.one_of(st.integers(1, 64), st.integers(1, 2 * BLOCK_SIZE))
)
swaps = st.tuples(st.just("swap"), st.integers(0, FULL_BLOCKS - 1), st.integers(0, FULL_BLOCKS - 1)).filter(
    lambda op: op[1] != op[2]
)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def damage(data: bytes, ops: list[tuple[str, int, int]]) -> tuple[bytearray, set[int]]:
    """The damaged bytes and the damaged blocks."""
    out = bytearray(data)
    disordered: set[int] = set()
    for op, a, b in ops:
        if op == "flip":
            out[a] ^= 1 << b
        elif op == "zero":
            out[a : a + b] = bytes(len(out[a : a + b]))
        else:
            block_a, block_b = out[a * BLOCK_SIZE : (a + 1) * BLOCK_SIZE], out[b * BLOCK_SIZE : (b + 1) * BLOCK_SIZE]
            if block_a != block_b:
                out[a * BLOCK_SIZE : (a + 1) * BLOCK_SIZE], out[b * BLOCK_SIZE : (b + 1) * BLOCK_SIZE] = (
                    block_b,
                    block_a,
                )
                disordered.update(range(min(a, b), max(a, b) + 1))
    differing = {
        k
        for k in range(len(out) // BLOCK_SIZE + 1)
        if out[k * BLOCK_SIZE : (k + 1) * BLOCK_SIZE] != data[k * BLOCK_SIZE : (k + 1) * BLOCK_SIZE]
    }
    return out, differing | (disordered if differing else set())


@pytest.fixture(scope="module")
def path() -> Iterator[Path]:
    """Where each example writes its damaged copy (module-scoped: hypothesis reruns the test)."""
    scratch = short_tmpdir()
    yield scratch / backup.BACKUP_FILENAME
    shutil.rmtree(scratch, ignore_errors=True)


def check(path: Path, ops: list[tuple[str, int, int]]) -> None:
    data, written, spans = original()
    damaged, bad_blocks = damage(data, ops)
    path.write_bytes(damaged)
    records, _, losses, _ = read_backup(path)

    seqs = [r.seq for r in records]
    assert seqs == sorted(set(seqs)), "out of order or repeated"
    for record in records:
        assert record == written[record.seq], f"seq {record.seq} differs from what was written"
    intact = [seq for seq, (first, last) in enumerate(spans) if not bad_blocks & set(range(first, last + 1))]
    assert set(intact) <= set(seqs), f"lost intact records {sorted(set(intact) - set(seqs))}"

    reported = losses.seqs
    assert len(reported) == len(set(reported)), "a seq reported lost twice"
    assert not set(reported) & set(seqs), "a returned seq reported lost"
    top = max(seqs, default=-1)
    assert sorted(set(reported) | set(seqs)) == list(range(top + 1)) or (not seqs and not reported)
    assert all(s <= top for s in reported), "a range reported past the last returned record"
    previous_end = 0
    for offset, nbytes, _, _ in losses.items:
        assert previous_end <= offset and offset + nbytes <= len(damaged), "ranges overlap or leave the file"
        previous_end = offset + nbytes
    if not bad_blocks:
        assert seqs == list(range(len(written))) and losses.items == []


@SETTINGS
@given(st.lists(flips, min_size=1, max_size=5))
def test_flipped_bits(path: Path, ops: list[tuple[str, int, int]]) -> None:
    check(path, ops)


@SETTINGS
@given(st.lists(zeroes, min_size=1, max_size=2))
def test_zeroed_ranges(path: Path, ops: list[tuple[str, int, int]]) -> None:
    check(path, ops)


@SETTINGS
@given(swaps)
def test_swapped_blocks(path: Path, op: tuple[str, int, int]) -> None:
    check(path, [op])


@SETTINGS
@given(st.lists(st.one_of(flips, zeroes, swaps), min_size=1, max_size=4))
def test_mixed_damage(path: Path, ops: list[tuple[str, int, int]]) -> None:
    check(path, ops)
