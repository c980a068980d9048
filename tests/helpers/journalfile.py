"""A writer's journal (docs/journal.md) as a test writes it: rows packed with `journal.row_struct`,
KEY and WRAP entries laid out in a ring as the client lays them out, the file with its header."""

from __future__ import annotations

import os
from pathlib import Path

from swanlabd.format import journal
from swanlabd_pb import records_pb2 as pb

Row = tuple[int, float, tuple[int, ...], tuple[float, ...]]


def row_entry(position: int, row: Row) -> bytes:
    step, t, ids, values = row
    s = journal.row_struct(len(ids))
    return s.pack(s.size, journal.ROW | len(ids) << 8, step, t, *ids, *values, position ^ journal.TAG_MAGIC)


def key_def(kid: int, name: str) -> bytes:
    return pb.KeyDef(id=kid, name=name, type=pb.FLOAT).SerializeToString()


class Ring:
    """A journal's ring as a client writes it (positions grow; a WRAP ends a lap early)."""

    def __init__(self, capacity: int, pid: int = 4242) -> None:
        self.capacity = capacity
        self.buf = bytearray(capacity)
        self.pid = pid
        self.position = 0

    def _put(self, entry: bytes) -> int:
        room = self.capacity - self.position % self.capacity
        if len(entry) > room:
            self._write(journal.wrap_entry(self.position, room))
        at = self.position
        self._write(entry)
        return at

    def _write(self, entry: bytes) -> None:
        offset = self.position % self.capacity
        self.buf[offset : offset + len(entry)] = entry
        self.position += len(entry)

    def row(self, row: Row) -> int:
        """Append a row entry; its position."""
        room = self.capacity - self.position % self.capacity
        if journal.row_struct(len(row[2])).size > room:
            self._write(journal.wrap_entry(self.position, room))
        return self._put(row_entry(self.position, row))

    def key(self, kid: int, name: str) -> int:
        """Append a KEY entry; its position."""
        data = key_def(kid, name)
        room = self.capacity - self.position % self.capacity
        if journal.aligned(8 + len(data) + 8) > room:
            self._write(journal.wrap_entry(self.position, room))
        return self._put(journal.key_entry(self.position, data))

    def range(self, start: int, end: int) -> bytes:
        """The bytes of positions start..end, which lie in one lap (what a client sends as a JournalChunk)."""
        assert start // self.capacity == (end - 1) // self.capacity or end == start
        offset = start % self.capacity
        return bytes(self.buf[offset : offset + end - start])

    def file_bytes(self, start: bytes = b"", flags: int = 0) -> bytes:
        """The file: header, ring, then the run's start (a serialized StartRunRequest) if any;
        `flags` journal.STARTED once a daemon (or the fallback folder) has the run."""
        return journal.header(self.capacity, self.pid, len(start), flags) + bytes(self.buf) + start

    def save(self, path: Path, start: bytes = b"", flags: int = 0) -> Path:
        """Write the whole journal file (0600), as the client's mapping leaves it."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.file_bytes(start, flags))
        return path


def chunk(ring: Ring, cs: int, start: int, end: int) -> pb.Record:
    """The Stream record of journal positions start..end (in one lap)."""
    return pb.Record(client_seq=cs, time_ms=1, journal=pb.JournalChunk(start=start, entries=ring.range(start, end)))


def chunks(ring: Ring, first_cs: int, start: int, end: int) -> list[pb.Record]:
    """The Stream records of positions start..end, a range per lap (a WRAP ends a lap), as the
    client sends them: client_seqs from `first_cs`. Take them before the ring laps over them."""
    out = []
    while start < end:
        cut = min(end, (start // ring.capacity + 1) * ring.capacity)
        out.append(chunk(ring, first_cs + len(out), start, cut))
        start = cut
    return out
