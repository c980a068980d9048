"""Pieces: a big Record stored as several small ones, so that damage costs about one block.

The framing drops a whole logical record when any of its fragments is damaged, so a record
spread over many 32 KiB blocks is lost whole for one bad bit in any of them (a client record of
16,384 scalars spans five). `split` cuts a ScalarRows (`scalars`, `system`) or ConsoleLines
record whose payload is over `PIECE_BYTES` into pieces at row or line boundaries; each piece is
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

from swanlabd_pb import records_pb2 as pb

PIECE_BYTES = 8192
"""A record whose serialized size is larger is split into pieces of about this size (a quarter block)."""

SCALAR_KINDS = ("scalars", "system")
_KIND_FIELD = {"scalars": 11, "system": 13}
PART_TAG = b"\xa0\x01"
"""What a piece begins with: field 20 (`part`), which `split` writes first so readers spot pieces."""
_SEQ_TAG = b"\x08"  # field 1 (seq), varint
_MORE_PARTS = b"\xa8\x01\x01"  # field 21 (more_parts) = true


def split(record: pb.Record, data: bytes) -> list[bytes] | None:
    """The serialized pieces of `record` (`data` is its serialization), or None to store it whole.

    Only ScalarRows and ConsoleLines split, at row or line boundaries (a single row or line
    larger than a piece stays whole), into pieces of about equal size. ScalarRows are cut in
    their serialized form, slicing the packed columns as bytes: copying 16,384 doubles through
    Python objects would cost several times the rest of an append.
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


def _split_rows(rows: pb.ScalarRows, field: int, data: bytes, wanted: int) -> list[bytes] | None:
    n = len(rows.row_sizes)
    k = min(n, wanted)
    located = _locate(data, field) if k > 1 else None
    if located is None:
        return None
    head, chunks = located
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
            _field(1, steps[row_columns[0][i] : row_columns[0][i + 1]]),
            _field(2, row_sizes[row_columns[1][i] : row_columns[1][i + 1]]),
            _field(3, key_ids[key_offsets[i] : key_offsets[i + 1]]),
            _field(4, values[8 * scalar_cuts[i] : 8 * scalar_cuts[i + 1]]),
        ]
        if delta_offsets is not None:
            body.append(_field(5, deltas[delta_offsets[i] : delta_offsets[i + 1]]))
        out.append(_part_prefix(i + 1, i + 2 < len(cuts)) + head + _field(field, b"".join(body)))
    return out


def _locate(data: bytes, field: int) -> tuple[bytes, dict[int, bytes]] | None:
    """(the Record's fields before its ScalarRows, the ScalarRows' packed columns by field number).

    None unless `data` is laid out as protobuf serializes a Record with nothing after its
    ScalarRows and each column packed once: then the record is stored whole.
    """
    pos = 0
    while pos < len(data):
        tag_at = pos
        tag, pos = _read_varint(data, pos)
        if tag & 7 == 0:
            _, pos = _read_varint(data, pos)
        elif tag == field << 3 | 2:
            length, pos = _read_varint(data, pos)
            if pos + length != len(data):
                return None
            columns = _columns(data[pos:])
            return None if columns is None else (data[:tag_at], columns)
        else:
            return None
    return None


def _columns(rows: bytes) -> dict[int, bytes] | None:
    chunks: dict[int, bytes] = {}
    pos = 0
    while pos < len(rows):
        tag, pos = _read_varint(rows, pos)
        number = tag >> 3
        if tag & 7 != 2 or not 1 <= number <= 5 or number in chunks:
            return None
        length, pos = _read_varint(rows, pos)
        chunks[number] = rows[pos : pos + length]
        pos += length
    return chunks


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


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, content: bytes) -> bytes:
    """A length-delimited field; none at all for empty content, as protobuf writes an empty column."""
    return _varint(number << 3 | 2) + _varint(len(content)) + content if content else b""


def _part_prefix(part: int, more: bool) -> bytes:
    # `part` and `more_parts` first: any field order parses the same.
    return PART_TAG + _varint(part) + (_MORE_PARTS if more else b"")


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
        part, pos = _read_varint(data, len(PART_TAG))
        more = data.startswith(_MORE_PARTS, pos)
        pos += len(_MORE_PARTS) if more else 0
        if not data.startswith(_SEQ_TAG, pos):
            return None  # every piece has a seq (the header, seq 0, is never split)
        seq, _ = _read_varint(data, pos + 1)
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
    if kind in _KIND_FIELD and getattr(record, kind).steps:
        return int(getattr(record, kind).steps[index])
    return None
