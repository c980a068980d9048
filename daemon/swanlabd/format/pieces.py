"""Pieces: a big Record stored as several small ones, so that damage costs about one block.

The framing drops a whole logical record when any of its fragments is damaged, so a record
spread over many 32 KiB blocks is lost whole for one bad bit in any of them (a client record of
16,384 scalars spans five). `split` cuts a ScalarRows (`scalars`, `system`) or ConsoleLines
record whose payload is over `PIECE_BYTES` into pieces at row or line boundaries (between
blocks for compact rows: scalarcodec.py makes blocks of about a piece); each piece is
a Record of its own (own record checksum) with the same seq, writer, client_seq and time_ms,
numbered by `part` (1, 2, 3 ...) with `more_parts` set on all but the last. `join` puts the
pieces read back together. Spec: docs/backup-format.md, "Pieces".
"""

from __future__ import annotations

import functools
import itertools
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from google.protobuf.message import DecodeError

from swanlabd.format import scalarcodec
from swanlabd.format.protowire import field, fields, read_varint, varint
from swanlabd_pb import records_pb2 as pb

PIECE_BYTES = 8192
"""A record whose serialized size is larger is split into pieces of about this size (a quarter block)."""

SCALAR_KINDS = ("scalars", "system")
_KIND_FIELD = {"scalars": 11, "system": 13}
_BLOCKS = pb.ScalarRows.DESCRIPTOR.fields_by_name["blocks"].number
PART_TAG = b"\xa0\x01"
"""What a piece begins with: field 20 (`part`), which `split` writes first so readers spot pieces."""
_SEQ_TAG = b"\x08"  # field 1 (seq), varint
_MORE_PARTS = b"\xa8\x01\x01"  # field 21 (more_parts) = true


def split(record: pb.Record, data: bytes) -> list[bytes] | None:
    """The serialized pieces of `record` (`data` is its serialization), or None to store it whole.

    Only ScalarRows and ConsoleLines split, at row or line boundaries (a single row or line
    larger than a piece stays whole), into pieces of about equal size. ScalarRows are cut in
    their serialized form, slicing the packed columns as bytes (copying 16,384 doubles through
    Python objects would cost several times the rest of an append), or between the blocks of
    compact rows, whatever `record` holds: `data` may be its compact form (scalarcodec.compact).
    """
    wanted = -(-len(data) // PIECE_BYTES)
    kind = record.WhichOneof("kind")
    if kind in _KIND_FIELD:
        return _split_rows(getattr(record, kind), _KIND_FIELD[kind], data, wanted)
    if kind == "console":
        lines = record.console.lines
        k = min(len(lines), wanted)
        if k < 2:
            return None
        cuts = [len(lines) * i // k for i in range(k + 1)]
        out = []
        for i, (a, b) in enumerate(itertools.pairwise(cuts)):
            piece = pb.Record(
                seq=record.seq, time_ms=record.time_ms, writer=record.writer, client_seq=record.client_seq
            )
            piece.console.lines.extend(lines[a:b])
            out.append(_part_prefix(i + 1, i + 2 < len(cuts)) + piece.SerializeToString())
        return out
    return None


def _split_rows(rows: pb.ScalarRows, number: int, data: bytes, wanted: int) -> list[bytes] | None:
    """`data` cut between rows: its packed columns sliced, or its blocks (compact rows, which
    the writer serializes itself: `rows` is then the message it was made from) grouped."""
    located = _locate(data, number)
    content = fields(located[1]) if located is not None else None
    if located is None or content is None:
        return None
    head = located[0]
    if content and all(f == _BLOCKS for f, _ in content):
        return _split_blocks(head, number, [block for _, block in content])
    n = len(rows.row_sizes)
    k = min(n, wanted)
    if k < 2 or len({f for f, _ in content}) != len(content) or not all(1 <= f <= 5 for f, _ in content):
        return None  # a single row, or not as protobuf writes packed columns: kept whole
    chunks = dict(content)
    steps, row_sizes, key_ids, values = (chunks.get(f, b"") for f in (1, 2, 3, 4))
    deltas = chunks.get(5, b"")
    # Row sizes under 128 are their own bytes: far cheaper than reading the protobuf column.
    starts = [0, *accumulate(row_sizes if len(row_sizes) == n else rows.row_sizes)]
    total = starts[-1]
    if len(rows.steps) != n or len(rows.key_ids) != total or len(rows.time_deltas_ms) not in (0, n):
        return None  # columns that disagree (never from our client) are kept as they came
    if len(values) != 8 * total:
        return None
    if total:
        # A piece ends after the first row whose running count of scalars reaches its share.
        inner = {bisect_left(starts, total * i // k, 1) for i in range(1, k)} - {n}
    else:
        inner = {n * i // k for i in range(1, k)}
    cuts = [0, *sorted(inner), n]
    scalar_cuts = [starts[c] for c in cuts]
    row_columns = [_varint_offsets(steps, cuts), _varint_offsets(row_sizes, cuts)]
    key_offsets = _varint_offsets(key_ids, scalar_cuts)
    delta_offsets = _varint_offsets(deltas, cuts) if deltas else None
    out = []
    for i in range(len(cuts) - 1):
        body = [
            field(1, steps[row_columns[0][i] : row_columns[0][i + 1]]),
            field(2, row_sizes[row_columns[1][i] : row_columns[1][i + 1]]),
            field(3, key_ids[key_offsets[i] : key_offsets[i + 1]]),
            field(4, values[8 * scalar_cuts[i] : 8 * scalar_cuts[i + 1]]),
        ]
        if delta_offsets is not None:
            body.append(field(5, deltas[delta_offsets[i] : delta_offsets[i + 1]]))
        out.append(_part_prefix(i + 1, i + 2 < len(cuts)) + head + field(number, b"".join(body)))
    return out


def _split_blocks(head: bytes, number: int, blocks: list[bytes]) -> list[bytes] | None:
    """Compact rows cut between their blocks, as many to a piece as stay under PIECE_BYTES."""
    groups: list[list[bytes]] = [[]]
    size = 0
    for block in blocks:
        encoded = field(_BLOCKS, block)
        if groups[-1] and size + len(encoded) > PIECE_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(encoded)
        size += len(encoded)
    if len(groups) < 2:
        return None
    return [
        _part_prefix(i + 1, i + 1 < len(groups)) + head + field(number, b"".join(group))
        for i, group in enumerate(groups)
    ]


def _locate(data: bytes, number: int) -> tuple[bytes, bytes] | None:
    """(the Record's fields before its ScalarRows, the ScalarRows' bytes).

    None unless `data` is laid out as protobuf serializes a Record with nothing after its
    ScalarRows: then the record is stored whole.
    """
    pos = 0
    while pos < len(data):
        tag_at = pos
        tag, pos = read_varint(data, pos)
        if tag & 7 == 0:
            _, pos = read_varint(data, pos)
        elif tag == number << 3 | 2:
            length, pos = read_varint(data, pos)
            if pos + length != len(data):
                return None
            return data[:tag_at], data[pos:]
        else:
            return None
    return None


def _varint_offsets(packed: bytes, indexes: list[int]) -> list[int]:
    """The byte offset in `packed` (varints back to back) of the element at each of `indexes`
    (ascending, from 0, the last being the element count)."""
    if len(packed) == indexes[-1]:
        return indexes  # every element one byte: the common case for key ids and row sizes
    out = [0]
    pos = 0
    for a, b in itertools.pairwise(indexes):
        # A regex skips b - a varints in C; a loop over them in Python costs several times more.
        match = _varints(b - a).match(packed, pos)
        if match is None:
            raise ValueError("fewer varints than elements")
        pos = match.end()
        out.append(pos)
    return out


@functools.lru_cache(maxsize=256)
def _varints(count: int) -> re.Pattern[bytes]:
    return re.compile(rb"(?:[\x80-\xff]*[\x00-\x7f]){%d}" % count)


def _part_prefix(part: int, more: bool) -> bytes:
    # `part` and `more_parts` first: any field order parses the same.
    return PART_TAG + varint(part) + (_MORE_PARTS if more else b"")


@dataclass(frozen=True)
class PieceLoss:
    """Pieces of record `seq` lost while its other pieces were returned (as one shorter record).

    Pieces `first` to `last` are lost; `last` is None when every piece from `first` to the
    record's end is lost (how many there were is then unknown). For scalar rows, the lost rows
    lie between `after_step` (the last row kept before them) and `before_step` (the first kept
    after them); None where no kept row is on that side.
    """

    seq: int
    first: int
    last: int | None
    after_step: int | None = None
    before_step: int | None = None

    def __str__(self) -> str:
        parts = f"piece {self.first}" if self.last == self.first else f"pieces {self.first}..{self.last or 'end'}"
        steps = ""
        if self.after_step is not None or self.before_step is not None:
            after = "" if self.after_step is None else f" after step {self.after_step}"
            before = "" if self.before_step is None else f" before step {self.before_step}"
            steps = f" (the rows{after}{' and' if after and before else ''}{before})"
        return f"seq {self.seq}: {parts} lost{steps}, the rest kept"


@dataclass
class Piece:
    """A piece read back, not parsed yet: `data` is its serialized Record."""

    seq: int
    part: int
    more: bool
    data: bytes


def peek(data: bytes) -> Piece | None:
    """The piece `data` holds, read from the fields `split` puts first; None if it is not one."""
    try:
        part, pos = read_varint(data, len(PART_TAG))
        more = data.startswith(_MORE_PARTS, pos)
        pos += len(_MORE_PARTS) if more else 0
        if not data.startswith(_SEQ_TAG, pos):
            return None  # every piece has a seq (the header, seq 0, is never split)
        seq, _ = read_varint(data, pos + 1)
    except ValueError:
        return None
    return Piece(seq, part, more, data) if part else None


def join(held: Sequence[Piece]) -> pb.Record | None:
    """One Record from pieces of it, in order (all of them, or those that survived damage).

    Serialized protobuf messages concatenated parse as one message with their repeated fields
    appended, so the rows and lines come back in order for the cost of a single parse.
    """
    record = pb.Record()
    try:
        record.ParseFromString(b"".join(piece.data for piece in held))
    except DecodeError:
        return None
    record.ClearField("part")
    record.ClearField("more_parts")
    return record


def gap(before: Piece | None, after: Piece | None) -> PieceLoss:
    """The pieces lost between two kept pieces of one record (`before` None: from its start;
    `after` None: to its end), with the steps that bound them for scalar rows."""
    kept = after if before is None else before
    assert kept is not None
    return PieceLoss(
        kept.seq,
        1 if before is None else before.part + 1,
        None if after is None else after.part - 1,
        None if before is None else _step(before, -1),
        None if after is None else _step(after, 0),
    )


def _step(piece: Piece, index: int) -> int | None:
    record = pb.Record()
    try:
        record.ParseFromString(piece.data)
    except DecodeError:
        return None
    kind = record.WhichOneof("kind")
    steps = scalarcodec.steps(getattr(record, kind)) if kind in _KIND_FIELD else []
    return steps[index] if steps else None
