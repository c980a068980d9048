"""A writer's journal: the ring of shared memory log() packs rows into (docs/journal.md).

The training process maps a file into memory and appends one entry per row as log() returns,
with a `struct` call and no Python object per row. The sender thread ships ranges of it as they
are (`JournalChunk`), and the daemon turns them into `scalars` records here. If the process
dies, its rows are still in the file (the kernel keeps the pages of a shared mapping), and the
daemon reads what it did not ack from there.

File: a HEADER_BYTES header, a ring of `capacity` bytes, then the run's start (a serialized
StartRunRequest without package list, `start_bytes` long). Positions are logical
byte offsets that only grow; position p lives at HEADER_BYTES + p % capacity. The writer reuses
a byte only once the daemon has acked it, so everything from the daemon's last ack to the write
position is always in the ring. The start lets a daemon make the run of a process killed before
any daemon had it (init() returns before StartRun is answered); the header's STARTED flag says
that one did (a daemon, or the process's own fallback folder), so no second run is made.

Entry, 16-byte aligned, `size` a multiple of 16:

    u32 size | u32 kind | n << 8 | body | padding | u64 tag

The tag is the entry's position XOR TAG_MAGIC, written last (it is the last field of the one
`pack_into` that writes a row). A reader takes an entry only if its tag matches its position:
an entry cut short by a kill has no tag yet, and bytes left from an earlier lap of the ring, or
never written, hold another position's tag or none. So a torn last row is dropped, never misread.

Kinds: ROW (n scalars: i64 step, f64 Unix time, n u32 key ids, padding to 8, n f64 values), KEY
(n bytes: a serialized KeyDef, written before any row uses the key, so a dead writer's rows can
be read without its stream), WRAP (the rest of the lap is unused; the next entry is at the next
lap's start).
"""

from __future__ import annotations

import math
import os
import struct
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:  # loaded when first needed: the client imports this module at start
    from swanlabd_pb import records_pb2 as pb

MAGIC = b"swanlabd-journal"
VERSION = 1
HEADER_BYTES = 4096
ALIGN = 16
TAG_MAGIC = 0x5F4A_524E_4C5F_7377  # a zeroed file holds no valid entry, not even at position 0
ROW, KEY, WRAP = 1, 2, 3
MAX_N = (1 << 24) - 1
MAX_TIME_S = 1e12  # a row's time (Unix seconds) as ms and as deltas stays far inside int64
# magic, version, capacity, pid, boot id (16 bytes), start_bytes, flags: what a reader checks
# before trusting a tail, and where the run's start is
_HEADER = struct.Struct("<16sIQI16sII")
FLAGS_OFFSET = _HEADER.size - 4
STARTED = 1  # flags: a daemon took the run (StartRun answered), or the fallback made its folder
_ENTRY = struct.Struct("<II")
_TAG = struct.Struct("<Q")
_ROW_HEAD = struct.Struct("<qd")


class JournalError(Exception):
    """A journal file that cannot be read (not one, another boot's, another layout)."""


def boot_id() -> bytes:
    """This boot's id (16 bytes; zeros where the system does not say): a journal written before a
    reboot is not trusted, its pages may never have reached the disk."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            return bytes.fromhex(f.read().strip().decode().replace("-", ""))[:16]
    except (OSError, ValueError):
        return bytes(16)


def header(capacity: int, pid: int, start_bytes: int = 0, flags: int = 0) -> bytes:
    return _HEADER.pack(MAGIC, VERSION, capacity, pid, boot_id(), start_bytes, flags).ljust(HEADER_BYTES, b"\0")


def aligned(size: int) -> int:
    return (size + ALIGN - 1) & ~(ALIGN - 1)


def row_struct(n: int) -> struct.Struct:
    """The struct of a row entry of n scalars: size, kind|n, step, time, ids, values, tag."""
    ids_pad = "4x" if n % 2 else ""
    body = 8 + 16 + 4 * n + (4 if n % 2 else 0) + 8 * n + 8
    tail_pad = aligned(body) - body
    return struct.Struct(f"<IIqd{n}I{ids_pad}{n}d{tail_pad}xQ" if tail_pad else f"<IIqd{n}I{ids_pad}{n}dQ")


def key_entry(position: int, keydef: bytes) -> bytes:
    """The KEY entry for a serialized KeyDef at `position`."""
    n = len(keydef)
    size = aligned(8 + n + 8)
    return _ENTRY.pack(size, KEY | n << 8) + keydef.ljust(size - 16, b"\0") + _TAG.pack(position ^ TAG_MAGIC)


def wrap_entry(position: int, size: int) -> bytes:
    """The WRAP entry that fills the `size` bytes left in a lap (at least 16)."""
    return _ENTRY.pack(size, WRAP) + bytes(size - 16) + _TAG.pack(position ^ TAG_MAGIC)


@dataclass
class Decoded:
    """What a journal range holds: its rows as ScalarRows columns, and its key definitions."""

    end: int  # the position after the last whole entry read
    steps: list[int] = field(default_factory=list)
    row_sizes: list[int] = field(default_factory=list)
    key_ids: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    keys: list[pb.KeyDef] = field(default_factory=list)
    wrapped: bool = False  # the range ended with a WRAP entry: what follows is at the next lap
    torn: str = ""  # why reading stopped before the end of the bytes ("" if it did not)
    row_ends: list[int] | None = None  # a list: decode adds the position after each row (read_tail)
    # The daemon's form: columns as arrays and values as their bits (`blocks` makes them the
    # backup's compact rows), never an object per value.
    raw: bool = False
    key_set: set[int] = field(default_factory=set)  # the key ids the rows use

    def __post_init__(self) -> None:
        if self.raw:
            self.steps, self.times = array("q"), array("d")  # type: ignore[assignment]  # a list's API
            self.row_sizes, self.key_ids = array("I"), array("I")  # type: ignore[assignment]
            self.values = array("Q")  # type: ignore[assignment]  # the doubles' bits

    def blocks(self) -> bytes:
        """The rows as a serialized ScalarRows of compact blocks (scalarcodec, format 2); needs `raw`."""
        assert self.raw, "blocks() reads the values' bits"
        if not self.steps:
            return b""
        from swanlabd.format import scalarcodec

        values = array("Q", self.values)  # a copy: the codec takes the bits as bytes
        if sys.byteorder == "big":  # the stored doubles are little-endian
            values.byteswap()
        return scalarcodec.encode(
            self.steps.tolist(),  # type: ignore[attr-defined]  # an array in raw form
            _small_ints(self.row_sizes),  # type: ignore[arg-type]
            _small_ints(self.key_ids),  # type: ignore[arg-type]
            values.tobytes(),
            self._deltas(),
        )

    def _deltas(self) -> list[int]:
        base = int(self.times[0] * 1000)
        return [int(t * 1000) - base for t in self.times]

    def scalars(self) -> pb.ScalarRows:
        """The rows as one ScalarRows (times as deltas from the first row's, in ms)."""
        from swanlabd_pb import records_pb2 as pb

        assert not self.raw, "scalars() takes the values as floats"
        if not self.steps:
            return pb.ScalarRows()
        return pb.ScalarRows(
            steps=self.steps,
            row_sizes=self.row_sizes,
            key_ids=self.key_ids,
            values=self.values,
            time_deltas_ms=self._deltas(),
        )

    def time_ms(self) -> int:
        return int(self.times[0] * 1000) if self.times else 0

    def unstorable(self) -> list[int]:
        """The rows a `scalars` record cannot hold: a negative step (its steps are unsigned), a
        time that is not finite or not within MAX_TIME_S of the epoch. Never from our client."""
        times = self.times
        if not times or (
            min(self.steps) >= 0 and math.isfinite(sum(times)) and -MAX_TIME_S < min(times) and max(times) < MAX_TIME_S
        ):
            return []  # the usual answer, at C speed (a NaN or an infinity makes the sum one)
        return [
            i
            for i, (step, t) in enumerate(zip(self.steps, self.times, strict=True))
            if step < 0 or not -MAX_TIME_S < t < MAX_TIME_S
        ]


def _small_ints(column: array) -> bytes | list[int]:
    """A column of u32 as one byte each when every one is under 256 (scalarcodec's fastest
    form: the low bytes, picked at C speed), else a list."""
    raw = column.tobytes()
    if sys.byteorder == "little" and raw[1::4] + raw[2::4] + raw[3::4] == bytes(3 * len(column)):
        return raw[::4]
    return column.tolist()


_row_bodies: dict[tuple[int, bool], struct.Struct] = {}


def _row_body(n: int, raw: bool) -> struct.Struct:
    """A row's body: step, time, n key ids, n values (as floats, or `raw` as their bits)."""
    st = _row_bodies.get((n, raw))
    if st is None:
        st = _row_bodies[n, raw] = struct.Struct(f"<qd{n}I{'4x' if n % 2 else ''}{n}{'Q' if raw else 'd'}")
    return st


# Rows of one size in a row are read as columns (strided views of the range, at C speed) from
# this many on: a training loop's rows, at a fraction of one unpack_from each.
_RUN_MIN = 16


def _interleave(columns: list[array], rows: int, typecode: str | None) -> list | array:
    """Row-major: column 0's first item, column 1's first item, ... (an array of `typecode`,
    filled at C speed; None: a list)."""
    width = len(columns)
    if typecode is None:
        out: list | array = [None] * (rows * width)
    else:
        out = array(typecode)
        out.frombytes(bytes(out.itemsize * rows * width))
    for c, column in enumerate(columns):
        out[c::width] = column
    return out


def _rows_run(data: bytes, i: int, start: int, size: int, n: int, out: Decoded) -> int:
    """Read the rows from `i` on that have the header of the one at `i`, as columns of the range
    seen as 8-byte words; how many (0: fewer than _RUN_MIN, read them one by one).

    Only the run's first and last tags are checked: a range on the stream is whole entries (the
    sender takes them below the write position), and every row's header is. A dead writer's tail,
    where the last row may be torn, is read one by one (`row_ends`)."""
    most = (len(data) - i) // size
    stride = size // 8
    words = array("Q")
    words.frombytes(memoryview(data)[i : i + most * size])  # one copy; array's items are cheap to read
    headers = words[::stride]
    k = most
    if headers.count(headers[0]) != most:
        k = next(j for j, header in enumerate(headers) if header != headers[0])
    if k < _RUN_MIN:
        return 0
    last = i + (k - 1) * size
    if (
        _TAG.unpack_from(data, i + size - 8)[0] != (start + i) ^ TAG_MAGIC
        or _TAG.unpack_from(data, last + size - 8)[0] != (start + last) ^ TAG_MAGIC
    ):
        return 0
    end = k * stride
    raw = out.raw
    floats = array("d")
    if not raw:
        floats.frombytes(memoryview(data)[i : i + k * size])
    out.steps.extend(array("q", words[1:end:stride].tobytes()))  # signed
    out.times.extend(array("d", words[2:end:stride].tobytes()))
    out.row_sizes.extend(array("I", [n]) * k if raw else [n] * k)
    id_words = (n + 1) // 2  # 8-byte words of key ids (and the padding after an odd count)
    if all(column.count(column[0]) == k for column in (words[3 + w : end : stride] for w in range(id_words))):
        ids = array("I", data[i + 24 : i + 24 + 4 * n])  # one schema: the usual case
        out.key_ids.extend(ids * k if raw else ids.tolist() * k)
        out.key_set.update(ids)
    else:
        ints = array("I")
        ints.frombytes(memoryview(data)[i : i + k * size])
        ids_of_rows = _interleave([ints[6 + c : 2 * end : 2 * stride] for c in range(n)], k, "I" if raw else None)
        out.key_ids.extend(ids_of_rows)
        out.key_set.update(ids_of_rows)
    columns = words if raw else floats  # the values' bits, or the values
    out.values.extend(
        _interleave([columns[3 + id_words + c : end : stride] for c in range(n)], k, "Q" if raw else None)
    )
    return k


def decode(start: int, data: bytes | memoryview, into: Decoded | None = None) -> Decoded:
    """Read the entries of `data`, which begins at journal position `start`, up to the first one
    that is not whole (`torn` says why) or a WRAP (`wrapped`)."""
    out = into if into is not None else Decoded(end=start)
    out.end, out.wrapped, out.torn = start, False, ""
    unpack_entry, unpack_tag = _ENTRY.unpack_from, _TAG.unpack_from
    steps, row_sizes, key_ids, values, times = out.steps, out.row_sizes, out.key_ids, out.values, out.times
    row_ends = out.row_ends
    i, total = 0, len(data)
    while i < total:
        if total - i < ALIGN:
            out.torn = f"{total - i} bytes at position {start + i} are not an entry"
            break
        size, kind_n = unpack_entry(data, i)
        if size < ALIGN or size % ALIGN or size > total - i:
            out.torn = f"no whole entry at position {start + i} (size {size})"
            break
        if unpack_tag(data, i + size - 8)[0] != (start + i) ^ TAG_MAGIC:
            out.torn = f"the entry at position {start + i} is not whole (no tag)"
            break
        kind, n = kind_n & 0xFF, kind_n >> 8
        if kind == ROW and row_ends is None and isinstance(data, bytes) and total - i >= _RUN_MIN * size:
            k = _rows_run(data, i, start, size, n, out)
            if k:
                i += k * size
                continue
        if kind == ROW:
            body = _row_body(n, out.raw)
            if body.size + 16 > size:
                out.torn = f"the row at position {start + i} is shorter than its {n} scalars"
                break
            row = body.unpack_from(data, i + 8)
            steps.append(row[0])
            times.append(row[1])
            row_sizes.append(n)
            key_ids.extend(row[2 : 2 + n])
            out.key_set.update(row[2 : 2 + n])
            values.extend(row[2 + n :])
            if row_ends is not None:
                row_ends.append(start + i + size)
        elif kind == KEY:
            if n + 16 > size:
                out.torn = f"the key at position {start + i} is shorter than its {n} bytes"
                break
            from swanlabd_pb import records_pb2 as pb

            keydef = pb.KeyDef()
            try:
                keydef.ParseFromString(bytes(data[i + 8 : i + 8 + n]))
            except Exception:  # noqa: BLE001 - protobuf's DecodeError is not importable portably
                out.torn = f"the key at position {start + i} does not parse"
                break
            out.keys.append(keydef)
        elif kind == WRAP:
            i += size
            out.wrapped = True
            break
        else:
            out.torn = f"unknown entry kind {kind} at position {start + i}"
            break
        i += size
    out.end = start + i
    return out


def to_record(record: pb.Record) -> pb.Record:
    """The `scalars` record a `journal` record stands for (same writer, client_seq and time;
    `journal_end` set); ValueError if its range is not whole entries."""
    from swanlabd_pb import records_pb2 as pb

    chunk = record.journal
    decoded = decode(chunk.start, chunk.entries)
    if decoded.torn:
        raise ValueError(f"journal range from {chunk.start}: {decoded.torn}")
    return pb.Record(
        time_ms=decoded.time_ms() or record.time_ms,
        writer=record.writer,
        client_seq=record.client_seq,
        scalars=decoded.scalars(),
        journal_end=decoded.end,
    )


@dataclass
class Tail:
    """What a dead writer's journal holds past a position."""

    decoded: Decoded
    why_not: str = ""  # set when the file could not be trusted or read: nothing was taken from it
    is_journal: bool = False  # it has a journal's header (of this boot or another): ours to delete


@dataclass
class Header:
    """What a journal file's header says: who wrote it, on which boot."""

    capacity: int
    pid: int
    boot: bytes
    start_bytes: int = 0  # the run's start follows the ring (`read_start`)
    flags: int = 0

    @property
    def started(self) -> bool:
        """A daemon or the writer's fallback folder has the run: no one else is to make it."""
        return bool(self.flags & STARTED)

    def this_boot(self) -> bool:
        return self.boot == boot_id()


def read_header(f: BinaryIO) -> Header:
    """The header of the journal open as `f` (at its start); JournalError if it is not one."""
    head = f.read(HEADER_BYTES)
    if len(head) < _HEADER.size:
        raise JournalError("not a journal (too short)")
    magic, version, capacity, pid, boot, start_bytes, flags = _HEADER.unpack_from(head)
    if magic != MAGIC or version != VERSION or capacity <= 0 or capacity % ALIGN:
        raise JournalError(f"not a journal of version {VERSION}")
    return Header(capacity, pid, boot, start_bytes, flags)


def read_start(f: BinaryIO, head: Header) -> bytes:
    """The serialized StartRunRequest after the ring of the journal open as `f` (b"" if none);
    JournalError if the file is shorter than its header says."""
    if not head.start_bytes:
        return b""
    f.seek(HEADER_BYTES + head.capacity)
    data = f.read(head.start_bytes)
    if len(data) != head.start_bytes:
        raise JournalError("shorter than its header says (the run's start is cut)")
    return data


def read_tail(path: str | Path, start: int) -> Tail:
    """The whole entries of the journal at `path` from position `start` on, across laps.

    Stops at the first entry that is not whole: the writer was killed while writing it, or had
    written nothing more. The file must be a regular file of this boot, not a symlink.
    """
    out = Decoded(end=start, row_ends=[])
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        return Tail(out, f"cannot open the journal {path}: {exc.strerror}")
    try:
        with os.fdopen(fd, "rb") as f:
            try:
                head = read_header(f)
            except JournalError as exc:
                return Tail(out, f"{path} is {exc}")
            if not head.this_boot():
                why = "was written before this boot: its pages may never have reached the disk"
                return Tail(out, f"{path} {why}", is_journal=True)
            capacity = head.capacity
            ring = f.read(capacity)
    except OSError as exc:
        return Tail(out, f"cannot read the journal {path}: {exc.strerror}")
    if len(ring) < capacity:
        return Tail(out, f"{path} is shorter than its capacity", is_journal=True)
    view = memoryview(ring)
    position = start
    for _ in range(2):  # the unacked range spans at most the rest of one lap and part of the next
        offset = position % capacity
        decode(position, view[offset:], out)
        if out.torn or out.end == position or (not out.wrapped and out.end % capacity):
            break
        position = out.end  # the lap is over (a WRAP entry, or its last byte): on at the next one
    out.torn = ""
    return Tail(out, is_journal=True)


def tail_records(decoded: Decoded, writer: int, first_client_seq: int, max_values: int = 16_384) -> list[pb.Record]:
    """A dead writer's tail rows (`read_tail`) as `scalars` records of `writer`, as its client
    would have sent them: a record closes at the row that reaches `max_values` scalars; client_seqs
    from `first_client_seq` on; each record's `journal_end` is the position after its last row
    (the last record's: after everything read), so a tail cut short by a crash is read on from
    there, never twice."""
    from swanlabd_pb import records_pb2 as pb

    out: list[pb.Record] = []
    n = len(decoded.steps)
    ends = decoded.row_ends
    if ends is None or len(ends) != n:
        raise ValueError("tail_records takes what read_tail decoded (with row_ends)")
    first = item = 0
    while first < n:
        last, count = first, 0
        while last < n and count < max_values:
            count += decoded.row_sizes[last]
            last += 1
        base = int(decoded.times[first] * 1000)
        rows = pb.ScalarRows(
            steps=decoded.steps[first:last],
            row_sizes=decoded.row_sizes[first:last],
            key_ids=decoded.key_ids[item : item + count],
            values=decoded.values[item : item + count],
            time_deltas_ms=[int(t * 1000) - base for t in decoded.times[first:last]],
        )
        out.append(
            pb.Record(
                time_ms=base,
                writer=writer,
                client_seq=first_client_seq + len(out),
                scalars=rows,
                journal_end=ends[last - 1] if last < n else decoded.end,
            )
        )
        first, item = last, item + count
    return out
