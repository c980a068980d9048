"""Compact scalar rows (format 2, swanlabd/format/scalarcodec.py): every value back bit for bit.

The property tests draw the columns a client could send (rows of any key sets, steps that jump,
go back or sit at 2^64 - 1, time deltas anywhere in int64) and the doubles that break codecs
(NaNs with payloads of both widths, -0.0, infinities, subnormals of both widths, float32-exact
values and their neighbours, the extremes), and compare bit patterns, never floats.
"""

from __future__ import annotations

import struct
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swanlabd.format import scalarcodec
from swanlabd_pb import records_pb2 as pb

U64 = 2**64


def double(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def widened(bits32: int) -> int:
    """The double bit pattern of float32 `bits32` widened exactly (NaN payloads shifted, as IEEE does)."""
    sign, exponent, fraction = bits32 >> 31, bits32 >> 23 & 0xFF, bits32 & 0x7FFFFF
    if exponent == 0xFF:
        return sign << 63 | 0x7FF << 52 | fraction << 29
    if exponent == 0:
        if not fraction:
            return sign << 63
        shift = 24 - fraction.bit_length()  # a float32 subnormal is a normal double
        return sign << 63 | (1023 - 126 - shift) << 52 | (fraction << shift & 0x7FFFFF) << 29
    return sign << 63 | (exponent - 127 + 1023) << 52 | fraction << 29


ODD = [
    0x0000000000000000,  # 0.0
    0x8000000000000000,  # -0.0
    0x7FF0000000000000,  # inf
    0xFFF0000000000000,  # -inf
    0x7FF8000000000000,  # NaN (Python's, numpy's)
    0xFFF8000000000000,  # -NaN
    0x7FF0000000000001,  # signalling NaN, payload in the low bits
    0x7FF4000020000000,  # signalling NaN, a float32's payload
    0x7FFFFFFFFFFFFFFF,
    0x0000000000000001,  # the smallest subnormal
    0x000FFFFFFFFFFFFF,  # the largest subnormal
    0x0010000000000000,  # the smallest normal
    0x7FEFFFFFFFFFFFFF,  # the largest double
    0x36A0000000000000,  # the smallest float32 subnormal, widened
    0x3810000000000000,  # the smallest float32 normal, widened
    0x47EFFFFFE0000000,  # the largest float32, widened
    0x3FB99999A0000000,  # float32(0.1)
    0x3FB999999999999A,  # 0.1
    0x3FB99999C0000000,  # float32(0.1)'s neighbour
    0x3FF0000000000000,  # 1.0
]

doubles = st.one_of(
    st.sampled_from(ODD),
    st.integers(0, U64 - 1),  # any bit pattern
    st.integers(0, 2**32 - 1).map(widened),  # any float32, NaN payloads and subnormals included
    st.floats(width=32, allow_nan=False).map(bits),
    st.floats(allow_nan=True, allow_subnormal=True).map(bits),
)
steps = st.one_of(st.integers(0, 10**6), st.sampled_from([0, 1, 2**63 - 1, 2**63, U64 - 1]), st.integers(0, U64 - 1))
key_sets = st.lists(st.integers(1, 300), max_size=12)


@st.composite
def columns(draw: st.DrawFn) -> pb.ScalarRows:
    """Packed columns as a client sends them: rows drawn from a few key sets (so that rows repeat
    shapes, as training loops do), steps mostly rising by one but jumping and going back."""
    shapes = draw(st.lists(key_sets, min_size=1, max_size=4))
    n = draw(st.integers(0, 300))
    row_keys = [draw(st.sampled_from(shapes)) for _ in range(n)] if n < 40 else draw(st.sampled_from(shapes)) and []
    if n >= 40:  # long runs are cheaper to draw as a pattern repeated
        pattern = draw(st.lists(st.sampled_from(shapes), min_size=1, max_size=5))
        row_keys = (pattern * n)[:n]
    first = draw(steps)
    jumps = draw(st.lists(st.tuples(st.integers(0, max(n - 1, 0)), steps), max_size=5))
    row_steps = [(first + i) % U64 for i in range(n)]
    for at, step in jumps:
        if n:
            row_steps[at] = step
    total = sum(map(len, row_keys))
    value_bits = draw(st.lists(doubles, min_size=total, max_size=total)) if total < 200 else []
    if total >= 200:  # a column's worth of one kind each, with some odd values sprinkled in
        kinds = [draw(doubles) for _ in range(8)]
        value_bits = [kinds[i % 8] for i in range(total)]
        for at, odd in draw(st.lists(st.tuples(st.integers(0, total - 1), doubles), max_size=8)):
            value_bits[at] = odd
    times = draw(
        st.one_of(
            st.just([]),
            st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n),
            st.just(list(accumulate([3] * n))),
        )
    )
    return pb.ScalarRows(
        steps=row_steps,
        row_sizes=list(map(len, row_keys)),
        key_ids=[k for keys in row_keys for k in keys],
        values=list(map(double, value_bits)),
        time_deltas_ms=times,
    )


def round_trip(rows: pb.ScalarRows) -> pb.ScalarRows:
    return pb.ScalarRows.FromString(scalarcodec.compact(rows))


def assert_same_rows(got: scalarcodec.Columns, want: pb.ScalarRows) -> None:
    assert got.steps == list(want.steps)
    assert got.row_sizes == list(want.row_sizes)
    assert got.key_ids == list(want.key_ids)
    assert list(map(bits, got.values)) == list(map(bits, want.values))
    assert got.time_deltas_ms == (list(want.time_deltas_ms) if any(want.time_deltas_ms) else [])


@settings(max_examples=400, deadline=None)
@given(columns())
def test_every_value_step_key_and_time_comes_back_bit_for_bit(rows: pb.ScalarRows) -> None:
    compact = round_trip(rows)
    assert not (compact.steps or compact.values or compact.key_ids)  # blocks only
    assert_same_rows(scalarcodec.decode(compact), rows)
    assert scalarcodec.steps(compact) == list(rows.steps)


@settings(max_examples=200, deadline=None)
@given(columns())
def test_each_block_stands_alone(rows: pb.ScalarRows) -> None:
    """What pieces rely on: a record's blocks decode one by one into its rows, in order."""
    compact = round_trip(rows)
    steps_, keys, values = [], [], []
    for block in compact.blocks:
        alone = scalarcodec.decode(pb.ScalarRows(blocks=[block]))
        steps_ += alone.steps
        keys += alone.key_ids
        values += map(bits, alone.values)
    assert (steps_, keys, values) == (list(rows.steps), list(rows.key_ids), list(map(bits, rows.values)))


@settings(max_examples=300, deadline=None)
@given(st.lists(doubles, min_size=1, max_size=5))
def test_a_column_is_narrow_exactly_when_all_its_values_have_a_float32_bit_pattern(value_bits: list[int]) -> None:
    """Narrow: the low 29 bits zero and the exponent's top 7 bits among EXPONENTS; 4 bytes."""

    def narrow(b: int) -> bool:
        return b & (2**29 - 1) == 0 and (b >> 56 & 0x7F) in scalarcodec.EXPONENTS

    n = len(value_bits)
    rows = pb.ScalarRows(steps=range(n), row_sizes=[1] * n, key_ids=[1] * n, values=list(map(double, value_bits)))
    (block,) = round_trip(rows).blocks
    assert block.wide == (b"" if all(map(narrow, value_bits)) else b"\x01")
    assert len(block.values) == (4 if all(map(narrow, value_bits)) else 8) * n


def test_what_training_logs_is_narrow() -> None:
    """float32 values (loss.item()), small integers, 0, -0.0, inf and Python's NaN take 4 bytes."""
    values = [double(widened(struct.unpack("<I", struct.pack("<f", x))[0])) for x in (0.1, 3.5e-20, 1e28, -2.5)]
    values += [0.0, -0.0, 7.0, 123456.0, float("inf"), float("-inf"), float("nan")]
    rows = pb.ScalarRows(steps=[0], row_sizes=[len(values)], key_ids=range(1, len(values) + 1), values=values)
    (block,) = round_trip(rows).blocks
    assert block.wide == b"" and len(block.values) == 4 * len(values)


def test_a_column_with_one_double_is_wide_and_the_others_stay_narrow() -> None:
    n = 50
    values = [v for i in range(n) for v in (float(i), 0.5 * i, 0.1 if i == 17 else 1.5)]
    rows = pb.ScalarRows(steps=range(n), row_sizes=[3] * n, key_ids=[4, 5, 6] * n, values=values)
    (block,) = round_trip(rows).blocks
    assert block.wide == b"\x04" and len(block.values) == 4 * 2 * n + 8 * n
    assert list(map(bits, scalarcodec.decode(pb.ScalarRows(blocks=[block])).values)) == list(map(bits, values))


def test_rows_that_repeat_a_key_set_name_it_once_per_block() -> None:
    n = 100
    keys = [[1, 2, 3] if i % 10 else [1, 2, 3, 9] for i in range(n)]
    rows = pb.ScalarRows(
        steps=range(n), row_sizes=list(map(len, keys)), key_ids=sum(keys, []), values=[1.0] * sum(map(len, keys))
    )
    (block,) = round_trip(rows).blocks
    assert list(block.shape_sizes) == [4, 3] and list(block.shape_keys) == [1, 2, 3, 9, 1, 2, 3]
    assert list(block.row_shapes) == [0 if i % 10 == 0 else 1 for i in range(n)]
    uniform = round_trip(pb.ScalarRows(steps=range(n), row_sizes=[3] * n, key_ids=[1, 2, 3] * n, values=[1.0] * 3 * n))
    assert not uniform.blocks[0].row_shapes and list(uniform.blocks[0].shape_keys) == [1, 2, 3]


def test_rising_steps_and_times_take_a_byte_a_row() -> None:
    n = 200
    rows = pb.ScalarRows(
        steps=range(10**9, 10**9 + n),
        row_sizes=[1] * n,
        key_ids=[1] * n,
        values=[1.0] * n,
        time_deltas_ms=[2 * i for i in range(n)],
    )
    (block,) = round_trip(rows).blocks
    sizes = {
        f.name: len(pb.ScalarBlock(**{f.name: getattr(block, f.name)}).SerializeToString())
        for f in block.DESCRIPTOR.fields
        if f.name in ("steps", "times_ms")
    }
    assert sizes["steps"] <= n + 8 and sizes["times_ms"] <= n + 4


def test_blocks_stay_about_a_piece_long() -> None:
    n = 5000
    rows = pb.ScalarRows(steps=range(n), row_sizes=[10] * n, key_ids=list(range(10)) * n, values=[0.1] * 10 * n)
    compact = round_trip(rows)
    sizes = [len(b.SerializeToString()) for b in compact.blocks]
    assert len(sizes) > 5 and max(sizes) <= scalarcodec.BLOCK_BYTES + 100
    assert min(sizes[:-1]) >= scalarcodec.BLOCK_BYTES - 200


def test_columns_then_blocks_in_one_message_read_in_that_order() -> None:
    """What protobuf makes of a format-1 message merged with a compact one."""
    old = pb.ScalarRows(steps=[5, 6], row_sizes=[1, 2], key_ids=[1, 1, 2], values=[1.0, 2.0, 3.0])
    new = pb.ScalarRows(steps=[7], row_sizes=[1], key_ids=[3], values=[0.1], time_deltas_ms=[9])
    both = pb.ScalarRows()
    both.MergeFrom(old)
    both.MergeFrom(round_trip(new))
    got = scalarcodec.decode(both)
    assert (got.steps, got.row_sizes, got.key_ids, list(got.values)) == (
        [5, 6, 7],
        [1, 2, 1],
        [1, 1, 2, 3],
        [1.0, 2.0, 3.0, 0.1],
    )
    assert got.time_deltas_ms == [0, 0, 9] and scalarcodec.steps(both) == [5, 6, 7]


def test_format_1_columns_decode_as_they_are() -> None:
    rows = pb.ScalarRows(steps=[3], row_sizes=[2], key_ids=[1, 2], values=[0.5, -0.0], time_deltas_ms=[4])
    got = scalarcodec.decode(rows)
    assert (got.steps, got.row_sizes, got.key_ids, got.time_deltas_ms) == ([3], [2], [1, 2], [4])
    assert list(map(bits, got.values)) == [bits(0.5), bits(-0.0)]


def test_encode_takes_columns_as_lists_too() -> None:
    rows = pb.ScalarRows(steps=[1, 2], row_sizes=[2, 1], key_ids=[300, 2, 300], values=[1.0, 0.1, 2.0])
    data = scalarcodec.encode([1, 2], [2, 1], [300, 2, 300], struct.pack("<3d", 1.0, 0.1, 2.0), [])
    assert data == scalarcodec.compact(rows)


@pytest.mark.parametrize(
    ("columns_", "why"),
    [
        (([1], [2], [1], struct.pack("<d", 1.0), []), "agree"),
        (([1], [1], [1], b"\0" * 4, []), "agree"),
        (([1, 2], [1, 1], [1, 1], b"\0" * 16, [0]), "time deltas"),
    ],
)
def test_columns_that_do_not_agree_are_refused(columns_: tuple, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        scalarcodec.encode(*columns_)


def test_compact_rows_are_not_compacted_again() -> None:
    with pytest.raises(ValueError, match="compact already"):
        scalarcodec.compact(round_trip(pb.ScalarRows(steps=[1], row_sizes=[1], key_ids=[1], values=[1.0])))


def good_block() -> pb.ScalarBlock:
    rows = pb.ScalarRows(
        steps=[1, 2], row_sizes=[1, 2], key_ids=[1, 1, 2], values=[0.5, 1.5, 0.1], time_deltas_ms=[0, 5]
    )
    return round_trip(rows).blocks[0]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: setattr(b, "values", b.values[:-1]), "values"),
        (lambda b: setattr(b, "values", b.values + b"\0"), "values"),
        (lambda b: b.row_shapes.append(0), "row shapes"),
        (lambda b: b.row_shapes.__setitem__(0, 7), "row shapes"),
        (lambda b: b.times_ms.append(1), "times"),
        (lambda b: b.shape_keys.append(1), "key ids"),
        (lambda b: (b.ClearField("shape_sizes"), b.ClearField("shape_keys"), b.ClearField("row_shapes")), "no shape"),
    ],
)
def test_blocks_that_do_not_add_up_raise_compact_rows_error(damage, message: str) -> None:  # type: ignore[no-untyped-def]
    block = good_block()
    damage(block)
    with pytest.raises(scalarcodec.CompactRowsError, match=message):
        scalarcodec.decode(pb.ScalarRows(blocks=[block]))
