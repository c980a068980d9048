"""Scalar rows in the compact form of backup format 2, and the one decoder of both forms.

Clients send a ScalarRows as packed columns (format 1: a step, a row size and a time delta per
row, a key id and a double per scalar, about 9.6 bytes a scalar). A BackupWriter made with
`compact_rows` stores it as `blocks` instead (`compact`), at about 4.3 bytes a scalar for values
that came from float32 tensors and 8.3 for any other doubles; every reader gets the rows of
either form from `decode` (or only their steps from `steps`). Spec: docs/backup-format.md,
"Compact scalar rows".

A block holds consecutive rows. Steps and times are stored as differences from the row before
(usually +1 and a few ms: one byte each). A row's key set is its shape: each distinct shape is
stored once per block, and a row names its shape (nothing at all when every row has the same).
The values of a shape's rows form a matrix, one column per key; a column whose every value is
*narrow* is stored in 4 bytes a value, any other column in 8.

A double is narrow when the low 29 bits of its significand are zero, as in every float32 widened
to a double, and the high 7 bits of its exponent are one of the 16 in `EXPONENTS`: magnitudes
from 2^-127 to under 2^97, zero, the infinities and NaNs (with float32 payloads, then). Its 4
bytes are its bytes 4, 5 and 6 (little-endian) and one byte of its sign, the index of its
exponent's high bits in `EXPONENTS`, and the top 3 bits of its byte 3. So the mapping is on bit
patterns alone, no floating-point conversion: it is exact for every value (NaN payloads, -0.0,
subnormals included) whatever the CPU's rounding or denormal mode, and the bytes of a narrow
column are stored as 4 planes (byte 0 of every value, then byte 1 ...), which `bytes` slicing
and `translate` make and undo at C speed: a 10-scalar row costs a few hundred ns to encode.
"""

from __future__ import annotations

import functools
import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress, count, islice, pairwise, repeat
from operator import ne, sub

from swanlabd.format import protowire
from swanlabd_pb import records_pb2 as pb

EXPONENTS = bytes([*range(0x38, 0x46), 0x00, 0x7F])
"""The high 7 bits of a narrow value's exponent (its byte 7 without the sign), by code."""

BLOCK_BYTES = 8000
"""A block ends after the row that takes its values (and ~3 bytes a row) to about this size:
about a piece (pieces.PIECE_BYTES), so a record stored as pieces is cut between blocks."""

_ROW_BYTES = 3  # a row's step, time and shape in a block, about
_INT64 = 1 << 63
_UINT64 = 1 << 64
_NARROW_B3 = bytes(range(0, 256, 32))  # byte 3 of a narrow value: its low 5 bits are zero
_NARROW_B7 = bytes(b for b in range(256) if b & 0x7F in EXPONENTS)
# Byte 7 of a narrow double -> its sign and exponent code, the high 5 bits of the narrow form's
# byte 3 (whose low 3 bits are the double's byte 3 >> 5); and that byte -> bytes 7 and 3.
_CODE_OF_B7 = bytes(b & 0x80 | max(EXPONENTS.find(b & 0x7F), 0) << 3 for b in range(256))
_B7_OF_CODE = bytes(b & 0x80 | EXPONENTS[b >> 3 & 15] for b in range(256))
_B3_OF_CODE = bytes((b & 7) << 5 for b in range(256))
_UNDER_64 = bytes(range(64))
_DOUBLED = bytes(2 * b & 0xFF for b in range(256))
_BLOCK_TAG = protowire.tag(pb.ScalarRows.DESCRIPTOR.fields_by_name["blocks"].number)
_VALUES_TAG = protowire.tag(pb.ScalarBlock.DESCRIPTOR.fields_by_name["values"].number)

IntColumn = bytes | list[int]
"""A column of small integers: `bytes` when every element is under 256 (fastest), else a list."""


class CompactRowsError(ValueError):
    """A ScalarRows whose blocks do not add up (never one this module wrote: the record checksum
    guards what it wrote)."""


@dataclass(frozen=True)
class Columns:
    """The rows of a ScalarRows as packed columns, whatever its form: row i has `row_sizes[i]`
    scalars, taken in order from `key_ids` and `values`."""

    steps: list[int]
    row_sizes: list[int]
    key_ids: list[int]
    values: Sequence[float]
    time_deltas_ms: list[int]
    """Each row's time minus Record.time_ms; empty = every row at Record.time_ms."""


def compact(rows: pb.ScalarRows) -> bytes:
    """`rows`, packed columns as a client sends them, as a serialized ScalarRows of blocks."""
    if rows.blocks:
        raise ValueError("the rows are compact already")
    # The doubles as bytes straight from the serialized columns: reading them out of the message
    # costs a float object each. Key ids and row sizes under 128 are their own bytes, too.
    packed = dict(protowire.fields(rows.SerializeToString()) or ())
    sizes, keys = packed.get(2, b""), packed.get(3, b"")
    return encode(
        rows.steps[:],
        sizes if len(sizes) == len(rows.row_sizes) else rows.row_sizes[:],
        keys if len(keys) == len(rows.key_ids) else rows.key_ids[:],
        packed.get(4, b""),
        rows.time_deltas_ms[:],
    )


def encode(
    steps: list[int],
    row_sizes: IntColumn,
    key_ids: IntColumn,
    values: bytes,
    time_deltas_ms: list[int],
) -> bytes:
    """Packed columns as a serialized ScalarRows of blocks; `values` holds the doubles,
    little-endian, and `time_deltas_ms` is empty or holds each row's time minus Record.time_ms.

    Raises ValueError if the columns do not agree.
    """
    n = len(steps)
    if len(row_sizes) != n or sum(row_sizes) != len(key_ids) or len(values) != 8 * len(key_ids):
        raise ValueError("the columns do not agree: row sizes, key ids and values")
    if len(time_deltas_ms) not in (0, n):
        raise ValueError(f"{n} rows but {len(time_deltas_ms)} time deltas")
    if not n:
        return b""
    shapes, row_shapes = _shapes(row_sizes, key_ids, values)
    rows_bytes = [_ROW_BYTES + 4 * len(s.narrow) + 8 * len(s.wide) for s in shapes]
    if row_shapes is None:
        cuts = [*range(0, n, -(-BLOCK_BYTES // rows_bytes[0])), n]
    else:
        # A block ends after the row that reaches a multiple of BLOCK_BYTES (blocks of even size).
        ends = list(accumulate(map(rows_bytes.__getitem__, row_shapes)))
        cuts = sorted({0, n, *(bisect_left(ends, BLOCK_BYTES * i) + 1 for i in range(1, -(-ends[-1] // BLOCK_BYTES)))})
    step_column = _Differences(steps)
    time_column = _Differences(time_deltas_ms) if any(time_deltas_ms) else None
    done = [0] * len(shapes)  # each shape's rows in the blocks so far
    # Serialized by hand, values sliced as memoryviews and joined once: a protobuf message
    # costs tens of ns a number to fill, and each copy of the values costs as much again.
    out: list[bytes | memoryview] = []
    for a, b in pairwise(cuts):
        counts = Counter(row_shapes[a:b]) if row_shapes is not None else {0: b - a}
        used = tuple(sorted(counts))
        keys, wide = _shape_fields(tuple((shapes[i].keys, tuple(shapes[i].wide)) for i in used))
        head = [protowire.field(1, step_column.block(a, b))]
        if time_column is not None:
            head.append(protowire.field(2, time_column.block(a, b)))
        head.append(keys)
        if len(used) > 1:
            assert row_shapes is not None
            index = dict(zip(used, count()))
            head.append(pb.ScalarBlock(row_shapes=list(map(index.__getitem__, row_shapes[a:b]))).SerializeToString())
        head.append(wide)
        values_parts = []
        for i in used:
            shape = shapes[i]
            first, last = done[i], done[i] + counts[i]
            done[i] = last
            lanes, wides = len(shape.narrow), len(shape.wide)
            values_parts += [plane[first * lanes : last * lanes] for plane in shape.planes]
            values_parts.append(shape.doubles[8 * first * wides : 8 * last * wides])
        size = sum(map(len, values_parts))
        if size:
            head += (_VALUES_TAG, protowire.varint(size))
        fixed = b"".join(head)
        out += (_BLOCK_TAG, protowire.varint(len(fixed) + size), fixed, *values_parts)
    return b"".join(out)


@functools.lru_cache(maxsize=256)
def _shape_fields(shapes: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]) -> tuple[bytes, bytes]:
    """The serialized shape_sizes and shape_keys of a block's shapes (their keys and wide
    columns), and its `wide` field. Cached: a run's records repeat their shapes."""
    wide = column = 0
    for keys, wides in shapes:
        for j in wides:
            wide |= 1 << column + j
        column += len(keys)
    sizes = pb.ScalarBlock(shape_sizes=[len(k) for k, _ in shapes], shape_keys=[i for k, _ in shapes for i in k])
    wide_field = pb.ScalarBlock(wide=wide.to_bytes((wide.bit_length() + 7) // 8, "little"))
    return sizes.SerializeToString(), wide_field.SerializeToString()


class _Differences:
    """A column of integers as a block's sint64 field holds it: each row minus the row before,
    the block's first row minus 0 (modulo 2^64); serialized by hand, since a protobuf message
    costs tens of ns a number to fill."""

    def __init__(self, column: list[int]) -> None:
        self.column = column
        self.differences = list(map(sub, islice(column, 1, None), column))  # [i]: row i + 1 minus row i
        # Differences from 0 to 63, the usual ones (+1 a step, a few ms), are one byte each: 2d.
        try:
            small = bytes(self.differences)
        except ValueError:
            small = b"\xff"
        self.small = None if small.translate(None, _UNDER_64) else small.translate(_DOUBLED)

    def block(self, a: int, b: int) -> bytes:
        """The packed sint64 field of rows a to b - 1."""
        if self.small is not None:
            return _sint64(self.column[a]) + self.small[a : b - 1]
        return b"".join(map(_sint64, [self.column[a], *self.differences[a : b - 1]]))


def _sint64(value: int) -> bytes:
    """A sint64's varint (zigzag encoded), of `value` modulo 2^64."""
    value = (value + _INT64) % _UINT64 - _INT64
    return protowire.varint(value << 1 if value >= 0 else (~value << 1) | 1)


@dataclass(frozen=True)
class _Shape:
    """One key set of a record, and the values of its rows split into narrow and wide columns."""

    keys: tuple[int, ...]
    narrow: list[int]  # the columns stored in 4 bytes a value
    wide: list[int]  # and in 8
    planes: tuple[memoryview, ...]  # the narrow values' 4 byte planes, row after row
    doubles: memoryview  # the wide values, row after row


def _shapes(row_sizes: IntColumn, key_ids: IntColumn, values: bytes) -> tuple[list[_Shape], list[int] | None]:
    """The record's shapes in order of first appearance, and each row's shape (None: one shape)."""
    n = len(row_sizes)
    width = row_sizes[0]
    if row_sizes.count(width) == n and key_ids[:width] * n == key_ids:
        return [_split(tuple(key_ids[:width]), n, values)], None
    ends = list(accumulate(row_sizes))
    starts = [0, *ends[:-1]]
    # Each row's key ids: slices of bytes are hashable as they are, of a list made tuples.
    slices = map(slice, starts, ends)
    row_keys: list[bytes] | list[tuple[int, ...]]
    if isinstance(key_ids, bytes):
        row_keys = list(map(key_ids.__getitem__, slices))
    else:
        row_keys = list(map(tuple, map(key_ids.__getitem__, slices)))
    # Rows of a shape come in runs (a training loop's rows, an evaluation row every so often):
    # a row is compared with the one before, and only a run's first row is looked up.
    firsts = [0, *compress(range(1, n), map(ne, islice(row_keys, 1, None), row_keys))]
    run_keys = list(map(row_keys.__getitem__, firsts))
    index = dict(zip(dict.fromkeys(run_keys), count()))
    run_shapes = list(map(index.__getitem__, run_keys))
    lasts = [*map((-1).__add__, islice(firsts, 1, None)), n - 1]
    row_shapes = list(chain.from_iterable(map(repeat, run_shapes, map(sub, map((1).__add__, lasts), firsts))))
    # The rows grouped by shape, in order within each, a run at a time: a matrix per shape.
    runs = list(
        map(
            values.__getitem__,
            map(
                slice, map((8).__mul__, map(starts.__getitem__, firsts)), map((8).__mul__, map(ends.__getitem__, lasts))
            ),
        )
    )
    grouped = b"".join(map(runs.__getitem__, sorted(range(len(runs)), key=run_shapes.__getitem__)))
    counts = Counter(row_shapes)
    shapes = []
    at = 0
    for keys, i in index.items():
        size = 8 * len(keys) * counts[i]
        shapes.append(_split(tuple(keys), counts[i], grouped[at : at + size]))
        at += size
    return shapes, row_shapes


def _split(keys: tuple[int, ...], rows: int, matrix: bytes) -> _Shape:
    """A shape's values (a rows x len(keys) matrix of doubles, row after row) as narrow planes
    and wide doubles; a column is narrow if all its values are."""
    width = len(keys)
    planes = _narrow_planes(matrix, 0, 8, rows * width)
    if planes is not None:
        return _Shape(keys, list(range(width)), [], tuple(map(memoryview, planes)), memoryview(b""))
    # A column's values are every `width`-th.
    columns = [_narrow_planes(matrix, 8 * j, 8 * width, rows) for j in range(width)]
    narrow = [j for j, column in enumerate(columns) if column is not None]
    wide = [j for j, column in enumerate(columns) if column is None]
    if not narrow:
        return _Shape(keys, [], wide, (memoryview(b""),) * 4, memoryview(matrix))
    # Each set of columns gathered row after row.
    gathered = [bytearray(rows * len(narrow)) for _ in range(4)]
    for i, j in enumerate(narrow):
        for plane, column in zip(gathered, columns[j] or (), strict=True):
            plane[i :: len(narrow)] = column
    doubles = bytearray(8 * rows * len(wide))
    into, source = memoryview(doubles).cast("Q"), memoryview(matrix).cast("Q")
    for i, j in enumerate(wide):
        into[i :: len(wide)] = source[j::width]
    return _Shape(keys, narrow, wide, tuple(map(memoryview, gathered)), memoryview(doubles))


def _narrow_planes(matrix: bytes, start: int, step: int, lanes: int) -> tuple[bytes, bytes, bytes, bytes] | None:
    """The 4 byte planes of the `lanes` doubles at byte offsets start, start + step, ... of
    `matrix`, or None unless all of them are narrow."""
    zero = bytes(lanes)
    if matrix[start::step] != zero or matrix[start + 1 :: step] != zero or matrix[start + 2 :: step] != zero:
        return None
    byte3, byte7 = matrix[start + 3 :: step], matrix[start + 7 :: step]
    if byte3.translate(None, _NARROW_B3) or byte7.translate(None, _NARROW_B7):
        return None
    # The top 3 bits of byte 3 into the low 3 bits of each byte: as one big integer shifted right
    # by 5, since the low 5 bits of every byte 3 are zero; their bits and the codes' never
    # overlap, so one OR joins them at C speed.
    code = int.from_bytes(byte7.translate(_CODE_OF_B7), "little") | int.from_bytes(byte3, "little") >> 5
    return (
        matrix[start + 4 :: step],
        matrix[start + 5 :: step],
        matrix[start + 6 :: step],
        code.to_bytes(lanes, "little"),
    )


def _wrapped(deltas: list[int]) -> list[int]:
    """Differences as a sint64 field holds them: modulo 2^64, from -2^63 to 2^63 - 1."""
    if -_INT64 <= min(deltas) and max(deltas) < _INT64:
        return deltas
    return [(d + _INT64) % _UINT64 - _INT64 for d in deltas]


def decode(rows: pb.ScalarRows) -> Columns:
    """The rows of a ScalarRows: those of its packed columns, then those of its blocks.

    Raises CompactRowsError for blocks that do not add up.
    """
    if not rows.blocks:
        return Columns(rows.steps[:], rows.row_sizes[:], rows.key_ids[:], rows.values, rows.time_deltas_ms[:])
    steps, sizes, key_ids = rows.steps[:], rows.row_sizes[:], rows.key_ids[:]
    times = rows.time_deltas_ms[:]
    timed = bool(times)  # else every row so far is at Record.time_ms, and `times` stays empty
    values = array("d", rows.values)
    data = []
    for block in rows.blocks:
        block_steps, block_sizes, block_keys, block_values = _decode_block(block)
        block_times = _times(block)
        if block_times and not timed:
            times, timed = [0] * len(steps), True
        if timed:
            times += block_times or [0] * len(block_steps)
        steps += block_steps
        sizes += block_sizes
        key_ids += block_keys
        data.append(block_values)
    values.frombytes(b"".join(data))
    if sys.byteorder == "big":  # the stored doubles are little-endian
        values.byteswap()
    return Columns(steps, sizes, key_ids, values, times)


def steps(rows: pb.ScalarRows) -> list[int]:
    """The step of each row of a ScalarRows (its columns', then its blocks'), without its values."""
    out = rows.steps[:]
    for block in rows.blocks:
        out += _steps(block)
    return out


def _steps(block: pb.ScalarBlock) -> list[int]:
    out = list(accumulate(block.steps))
    if out and (min(out) < 0 or max(out) >= _UINT64):
        return [s % _UINT64 for s in out]
    return out


def _times(block: pb.ScalarBlock) -> list[int]:
    if not block.times_ms:
        return []
    if len(block.times_ms) != len(block.steps):
        raise CompactRowsError(f"a block of {len(block.steps)} rows has {len(block.times_ms)} times")
    return _wrapped(list(accumulate(block.times_ms)))


def _decode_block(block: pb.ScalarBlock) -> tuple[list[int], list[int], list[int], bytes]:
    """A block's steps, row sizes, key ids and values (the doubles' bytes, little-endian)."""
    n = len(block.steps)
    widths = block.shape_sizes[:]
    flat = block.shape_keys[:]
    if sum(widths) != len(flat):
        raise CompactRowsError(f"shapes of {sum(widths)} keys in all name {len(flat)} key ids")
    ends = list(accumulate(widths))
    shapes = list(map(tuple, map(flat.__getitem__, map(slice, [0, *ends[:-1]], ends))))
    row_shapes = block.row_shapes[:]
    if row_shapes:
        if len(row_shapes) != n or max(row_shapes) >= len(shapes):
            raise CompactRowsError(f"a block of {n} rows and {len(shapes)} shapes has {len(row_shapes)} row shapes")
        counts: dict[int, int] = Counter(row_shapes)
    elif n and not shapes:
        raise CompactRowsError(f"a block of {n} rows has no shape")
    else:
        counts = {0: n}
    matrices = _matrices(block, shapes, counts)
    if not row_shapes:
        keys = shapes[0] if n else ()
        return _steps(block), [len(keys)] * n, list(keys) * n, bytes(matrices[0]) if n else b""
    rows = [_rows(matrix, 8 * len(keys)) for matrix, keys in zip(matrices, shapes, strict=True)]
    return (
        _steps(block),
        list(map(widths.__getitem__, row_shapes)),
        list(chain.from_iterable(map(shapes.__getitem__, row_shapes))),
        b"".join(map(next, map(rows.__getitem__, row_shapes))),
    )


def _matrices(block: pb.ScalarBlock, shapes: list[tuple[int, ...]], counts: dict[int, int]) -> list[bytes | bytearray]:
    """The values of each shape's rows in a block, row after row."""
    wide = int.from_bytes(block.wide, "little")
    data = memoryview(block.values)
    at = column = 0
    out = []
    for i, keys in enumerate(shapes):
        narrow = [j for j in range(len(keys)) if not wide >> column + j & 1]
        column += len(keys)
        rows = counts.get(i, 0)
        lanes = rows * len(narrow)
        end = at + 4 * lanes + 8 * (rows * len(keys) - lanes)
        if end > len(data):
            raise CompactRowsError(f"a block's values end at byte {len(data)}, inside those of its shape {i}")
        out.append(_matrix(len(keys), narrow, data[at : at + 4 * lanes], data[at + 4 * lanes : end]))
        at = end
    if at != len(data):
        raise CompactRowsError(f"a block's shapes hold {at} bytes of values, not {len(data)}")
    return out


def _rows(matrix: bytes | bytearray, size: int) -> Iterator[bytes | bytearray]:
    """The rows of a matrix of `size`-byte rows, one after the other."""
    if not size:
        return repeat(b"")
    return map(matrix.__getitem__, map(slice, range(0, len(matrix), size), range(size, len(matrix) + 1, size)))


def _matrix(width: int, narrow: list[int], planes: memoryview, doubles: memoryview) -> bytes | bytearray:
    """A shape's values, row after row, from its narrow columns' planes and its wide doubles."""
    lanes = len(planes) // 4
    widened = bytearray(8 * lanes)
    code = bytes(planes[3 * lanes :])
    widened[3::8] = code.translate(_B3_OF_CODE)
    widened[4::8] = planes[:lanes]
    widened[5::8] = planes[lanes : 2 * lanes]
    widened[6::8] = planes[2 * lanes : 3 * lanes]
    widened[7::8] = code.translate(_B7_OF_CODE)
    if len(narrow) == width:
        return widened
    if not narrow:
        return doubles.tobytes()
    wide = sorted(set(range(width)).difference(narrow))
    matrix = bytearray(len(widened) + len(doubles))
    into = memoryview(matrix).cast("Q")
    for columns, source in ((narrow, memoryview(widened).cast("Q")), (wide, doubles.cast("Q"))):
        for i, j in enumerate(columns):
            into[j::width] = source[i :: len(columns)]
    return matrix
