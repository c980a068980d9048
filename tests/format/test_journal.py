"""The writer's journal (format/journal.py, docs/journal.md): its entries read back bit for bit,
and a range cut anywhere, or a last entry left half written, never read as a wrong row.

Rows are packed here as the client packs them (`journal.row_struct(n)`, the tag last), into a
ring laid out as the client lays it out (`Ring`): a WRAP entry fills the end of a lap that the
next entry does not fit in.

What the tag guards against is a torn write (a writer killed inside its `pack_into`, which
writes the tag last) and bytes left from an earlier lap; it is not a checksum, so a bit flipped
in a row's key ids or values by the storage itself would not be seen (nor by the page cache the
journal lives in). The flips tested here are the ones a torn or stale entry shows: in its tag
and in its size.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.journalfile import Ring, Row, key_def, row_entry
from swanlabd.format import journal
from swanlabd_pb import records_pb2 as pb


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_bits(b: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", b))[0]


ADVERSARIAL = [
    0.0,
    -0.0,
    math.inf,
    -math.inf,
    5e-324,  # the smallest subnormal
    -2.2250738585072004e-308,  # the largest negative subnormal
    1.7976931348623157e308,
]
NAN_BITS = [0x7FF8000000000000, 0x7FF0000000000001, 0xFFF8DEADBEEF0001, 0x7FF7FFFFFFFFFFFF]

doubles = st.one_of(
    st.integers(0, 2**64 - 1).map(from_bits),
    st.sampled_from(ADVERSARIAL),
    st.sampled_from(NAN_BITS).map(from_bits),
)


@st.composite
def rows(draw: st.DrawFn) -> Row:
    n = draw(st.integers(0, 9))
    return (
        draw(st.integers(-(2**63), 2**63 - 1)),
        draw(doubles),
        tuple(draw(st.lists(st.integers(0, 2**32 - 1), min_size=n, max_size=n))),
        tuple(draw(st.lists(doubles, min_size=n, max_size=n))),
    )


def decoded_rows(d: journal.Decoded) -> list[Row]:
    out, i = [], 0
    for step, t, n in zip(d.steps, d.times, d.row_sizes, strict=True):
        out.append((step, t, tuple(d.key_ids[i : i + n]), tuple(d.values[i : i + n])))
        i += n
    return out


def same(a: list[Row], b: list[Row]) -> bool:
    """Bit for bit: NaN payloads and the sign of zero count."""
    return [(s, bits(t), ids, tuple(map(bits, v))) for s, t, ids, v in a] == [
        (s, bits(t), ids, tuple(map(bits, v))) for s, t, ids, v in b
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(rows(), st.tuples(st.integers(0, 50), st.text(min_size=1, max_size=40))), max_size=25))
def test_rows_and_keys_read_back_bit_for_bit(entries: list) -> None:
    start = 16 * 1000  # a range need not begin at 0
    data, position, want_rows, want_keys = b"", start, [], []
    for e in entries:
        if len(e) == 4:
            entry = row_entry(position, e)
            want_rows.append(e)
        else:
            entry = journal.key_entry(position, key_def(*e))
            want_keys.append(e)
        data += entry
        position += len(entry)
    d = journal.decode(start, data)
    assert d.torn == "" and not d.wrapped and d.end == start + len(data)
    assert same(decoded_rows(d), want_rows)
    assert [(k.id, k.name) for k in d.keys] == want_keys
    if d.unstorable():  # a negative step or a time no record holds: the daemon refuses the range
        assert any(r[0] < 0 or not abs(r[1]) < journal.MAX_TIME_S for r in want_rows)
        return
    record = pb.Record(writer=1, client_seq=7, time_ms=1, journal=pb.JournalChunk(start=start, entries=data))
    stored = journal.to_record(record)
    assert stored.journal_end == start + len(data) and stored.client_seq == 7
    assert list(stored.scalars.steps) == [r[0] for r in want_rows]
    assert [bits(v) for v in stored.scalars.values] == [bits(v) for r in want_rows for v in r[3]]


def sample_range(start: int) -> tuple[bytes, list[Row], list[int]]:
    """A few rows and a key: the bytes, the rows, and where each entry ends."""
    chunks = [
        ("key", (3, "loss")),
        ("row", (1, 1.5, (3,), (from_bits(NAN_BITS[2]),))),
        ("row", (2, 2.5, (3, 4, 5), (-0.0, math.inf, 5e-324))),
        ("row", (3, 3.5, (), ())),
        ("row", (4, 4.5, tuple(range(8)), tuple(float(i) for i in range(8)))),
    ]
    data, position, want, ends = b"", start, [], []
    for kind, value in chunks:
        entry = journal.key_entry(position, key_def(*value)) if kind == "key" else row_entry(position, value)
        if kind == "row":
            want.append(value)
        data += entry
        position += len(entry)
        ends.append(len(data))
    return data, want, ends


def test_every_cut_of_a_range_reads_whole_rows_only() -> None:
    start = 4096
    data, want, ends = sample_range(start)
    rows_before = [0, 0, 1, 2, 3, 4]  # rows in the first k entries
    for cut in range(len(data) + 1):
        d = journal.decode(start, data[:cut])
        whole = sum(1 for e in ends if e <= cut)
        assert d.end == start + (ends[whole - 1] if whole else 0)
        assert same(decoded_rows(d), want[: rows_before[whole]])
        assert bool(d.torn) == (cut not in (0, *ends))


@pytest.mark.parametrize("field", ["tag", "size"])
def test_a_last_entry_with_a_flipped_tag_or_size_byte_is_not_read(field: str) -> None:
    start = 512
    data, want, ends = sample_range(start)
    last = ends[-2]  # where the last entry begins
    offsets = range(ends[-1] - 8, ends[-1]) if field == "tag" else range(last, last + 4)
    for offset in offsets:
        for bit in range(8):
            torn = bytearray(data)
            torn[offset] ^= 1 << bit
            d = journal.decode(start, bytes(torn))
            assert d.torn and d.end == start + last
            assert same(decoded_rows(d), want[:-1])


def test_a_stale_entry_of_an_earlier_lap_is_not_read() -> None:
    """The bytes at a position hold an entry written a lap before: same layout, another tag."""
    capacity = 1024
    data, want, ends = sample_range(0)
    stale = data[: ends[2]]  # entries at positions 0.. of lap 0
    d = journal.decode(capacity, stale)  # read as if they were lap 1's
    assert d.torn and d.end == capacity and not d.steps


def test_a_zeroed_range_holds_no_entry() -> None:
    d = journal.decode(0, bytes(256))
    assert d.torn and d.end == 0 and not d.steps


def test_a_wrap_entry_ends_a_range() -> None:
    data, want, _ = sample_range(0)
    wrap = journal.wrap_entry(len(data), 64)
    d = journal.decode(0, data + wrap + row_entry(len(data) + 64, (9, 9.0, (1,), (1.0,))))
    assert d.wrapped and not d.torn and d.end == len(data) + 64
    assert same(decoded_rows(d), want)


def write_ring(tmp: Path, ring: Ring, name: str = "j") -> Path:
    return ring.save(tmp / name)


def test_read_tail_reads_across_a_lap_boundary(tmp_path: Path) -> None:
    ring = Ring(1024)
    ring.key(0, "a")
    written: list[tuple[int, Row]] = []
    for i in range(40):  # 80-byte rows: 3 laps and a bit, with a WRAP at each lap's end
        row = (i, 100.0 + i, (0, 0, 0, 0), (float(i), -0.0, math.nan, 1e-310))
        written.append((ring.row(row), row))
    path = write_ring(tmp_path, ring)
    # The writer reuses only bytes the daemon acked: a reader starts within the last capacity bytes.
    in_ring = [i for i, (at, _) in enumerate(written) if at >= ring.position - ring.capacity]
    assert written[in_ring[0]][0] // 1024 == 2 and written[-1][0] // 1024 == 3  # across the lap 2/3 boundary
    for index in (in_ring[0], in_ring[1], in_ring[-5], in_ring[-1]):
        start = written[index][0]
        tail = journal.read_tail(path, start)
        assert not tail.why_not
        assert same(decoded_rows(tail.decoded), [r for _, r in written[index:]])
        assert tail.decoded.end == ring.position
        assert tail.decoded.row_ends == [at + 80 for at, _ in written[index:]]
    assert journal.read_tail(path, ring.position).decoded.steps == []


def test_read_tail_when_the_lap_ends_exactly_at_the_ring_end(tmp_path: Path) -> None:
    ring = Ring(512)  # 8 rows of 64 bytes fill a lap: no WRAP entry
    for i in range(12):
        ring.row((i, float(i), (1, 2), (1.0, 2.0)))
    tail = journal.read_tail(write_ring(tmp_path, ring), 6 * 64)
    assert tail.decoded.steps == list(range(6, 12)) and tail.decoded.end == 12 * 64


def test_read_tail_of_another_boot_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ring = Ring(1024)
    ring.row((0, 0.0, (1,), (1.0,)))
    path = write_ring(tmp_path, ring)
    monkeypatch.setattr(journal, "boot_id", lambda: b"\x01" * 16)
    tail = journal.read_tail(path, 0)
    assert "before this boot" in tail.why_not and not tail.decoded.steps


def test_read_tail_refuses_a_symlink_and_a_short_file(tmp_path: Path) -> None:
    ring = Ring(1024)
    ring.row((0, 0.0, (1,), (1.0,)))
    path = write_ring(tmp_path, ring)
    link = tmp_path / "link"
    link.symlink_to(path)
    tail = journal.read_tail(link, 0)
    assert tail.why_not and "cannot open" in tail.why_not and not tail.decoded.steps
    short = tmp_path / "short"
    short.write_bytes(ring.file_bytes()[: journal.HEADER_BYTES + 512])
    assert "shorter than its capacity" in journal.read_tail(short, 0).why_not
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"swanlabd")
    assert "too short" in journal.read_tail(tiny, 0).why_not
    other = tmp_path / "other"
    other.write_bytes(os.urandom(journal.HEADER_BYTES + 1024))
    assert "not a journal" in journal.read_tail(other, 0).why_not
    assert "cannot open" in journal.read_tail(tmp_path / "missing", 0).why_not


def test_tail_records_are_client_sized_and_end_where_their_last_row_does(tmp_path: Path) -> None:
    ring = Ring(1 << 20)
    ring.key(0, "k")
    for i in range(100):
        ring.row((i, 1000.0 + i / 8, (0,) * 300, (float(i),) * 300))
    ring.key(1, "late")  # after the last row: the last record ends after it
    tail = journal.read_tail(write_ring(tmp_path, ring), 0)
    records = journal.tail_records(tail.decoded, 1, 5, max_values=16_384)
    # A record closes at the row that reaches 16,384 scalars: 55 rows of 300.
    assert [len(r.scalars.steps) for r in records] == [55, 45]
    assert [r.client_seq for r in records] == [5, 6]
    assert records[0].journal_end == tail.decoded.row_ends[54]
    assert records[1].journal_end == ring.position == tail.decoded.end
    assert [s for r in records for s in r.scalars.steps] == list(range(100))
    assert records[1].time_ms == 1000 * 1000 + int(55 / 8 * 1000)
    assert list(records[1].scalars.time_deltas_ms[:2]) == [0, 125]


@st.composite
def runs(draw: st.DrawFn) -> list[Row]:
    """Long runs of rows of one size (a training loop's), with schemas of that size changing
    inside a run, and runs of other sizes between: what the column reader takes."""
    out: list[Row] = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 5))
        schemas = draw(st.lists(st.tuples(*[st.integers(0, 2**32 - 1)] * n), min_size=1, max_size=3))
        for step in range(draw(st.integers(0, 60))):
            out.append(
                (
                    draw(st.integers(-(2**63), 2**63 - 1)) if step % 7 == 3 else step,
                    draw(doubles),
                    draw(st.sampled_from(schemas)),
                    tuple(draw(st.lists(doubles, min_size=n, max_size=n))),
                )
            )
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs(), st.booleans())
def test_runs_of_rows_read_as_columns_as_one_by_one(want: list[Row], torn: bool) -> None:
    """The column reader (runs of 16+ rows of one size) and the one-by-one reader (what read_tail
    uses) read the same rows, bit for bit; with the last row torn, both stop before it."""
    start = 16 * 77
    data, position, last = b"", start, start
    for row in want:
        entry = row_entry(position, row)
        data += entry
        last, position = position, position + len(entry)
    end = position
    if torn and want:
        data = data[:-8] + bytes(8)  # the last row's tag never written
        want, end = want[:-1], last
    columns = journal.decode(start, data)
    one_by_one = journal.decode(start, data, journal.Decoded(end=start, row_ends=[]))
    assert same(decoded_rows(columns), want) and same(decoded_rows(one_by_one), want)
    assert columns.end == one_by_one.end == end
    assert bool(columns.torn) == bool(one_by_one.torn) == (end != start + len(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_the_daemons_compact_form_holds_the_same_rows_bit_for_bit(want: list[Row]) -> None:
    """What the daemon stores of a range (`raw`: bits and arrays straight into compact blocks) reads
    back as the rows the float form reads, key ids past 255 and mixed schemas included."""
    from swanlabd.format import scalarcodec

    start = 16 * 5
    data, position = b"", start
    for row in want:
        entry = row_entry(position, row)
        data += entry
        position += len(entry)
    floats = journal.decode(start, data)
    raw = journal.decode(start, data, journal.Decoded(end=start, raw=True))
    assert raw.end == floats.end and raw.key_set == set(floats.key_ids)
    if not want or floats.unstorable():
        return  # refused before it is stored
    stored = scalarcodec.decode(pb.ScalarRows.FromString(raw.blocks()))
    assert stored.steps == list(floats.steps) and stored.key_ids == list(floats.key_ids)
    assert stored.row_sizes == list(floats.row_sizes)
    assert [bits(v) for v in stored.values] == [bits(v) for v in floats.values]
    deltas = list(floats.scalars().time_deltas_ms)
    assert (stored.time_deltas_ms or [0] * len(deltas)) == deltas  # none stored: every row at the record's time
