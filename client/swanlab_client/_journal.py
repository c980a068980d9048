"""The writer side of the journal: log() packs each row into shared memory as it returns.

The layout is swanlabd.format.journal's (docs/journal.md). One process writes one journal: the
process that called init() (the run's primary writer); a forked child logs through its queue
and relay as before. Three parties touch it:

- log() in the first thread that logs a row (`owner`: the training loop's, usually the one that
  called init()) writes entries at `pos` and moves `pos` on;
  its fast path (Run.log) does one `pack_into` when the entry fits below `room`, else `fits`
  here. One writing thread needs no lock (a lock costs log() a third of its time); rows logged
  from other threads go through the queue, as a forked child's, and keys they make are written
  by the owner before its next row (`unkeyed`);
- the sender thread reads whole entries from `sent` to a `pos` it read (`take`), ships them as
  JournalChunk records, and calls `ack` with the end of what the daemon says is durable. log()
  does not wake it per row: the owner rings `doorbell` (Sender.urge) at the run's first entry
  and then each time another quarter of the ring has been written, on the slow path `fits`
  takes once `pos` passes `room`, which never reaches past the next ring (`_bell`);
- the daemon reads a dead writer's file from the last position it acked (`read_tail`).

A byte is written again only once acked, so the daemon can always find what it did not ack.
Bounded: `CAPACITY` bytes, about 26,000 rows of 10 scalars. When it is full, log() waits for the
sender as it waits for a full queue (Run._journal_room), or refuses rows while the daemon's disk
is full; it never overwrites.
"""

from __future__ import annotations

import mmap
import os
import secrets
import stat
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from swanlabd.format import journal as layout
from swanlabd.local import paths

# A range the sender ships is at most the rest of one lap: under the client's request bound.
CAPACITY = 4 * 1024 * 1024
MIN_CAPACITY = 64 * 1024


def _silent() -> None:
    pass


class Journal:
    """One writer's journal file, mapped. See the module docstring."""

    def __init__(self, path: Path, fd: int, capacity: int) -> None:
        self.path = path
        self.capacity = capacity
        self.mm = mmap.mmap(fd, layout.HEADER_BYTES + capacity)
        self.owner: int | None = None  # the thread that writes (`claim`)
        self._claiming = threading.Lock()
        self.unkeyed: deque[int] = deque()  # key ids other threads made, for the owner to write
        self.pos = 0  # where the next entry goes (the owner thread)
        self.acked = 0  # everything before it is durable in the daemon (set by the sender thread)
        self.sent = 0  # everything before it has been taken by the sender (sender thread only)
        # The fast path writes an entry at physical offset `base + pos` if `pos + size <= room`:
        # room is the end of the current lap, the acked bound or the doorbell, whichever is first.
        self.base = layout.HEADER_BYTES
        self.room = 0  # the first entry takes the slow path, which rings the doorbell
        self.doorbell: Callable[[], None] = _silent  # set by the Sender
        self._bell = 0  # the position past which the next entry rings the doorbell
        # Per schema id (Run._tables.schemas): its rows' pack_into, size, kind word and key ids.
        self.rows: list[tuple[Callable[..., None], int, int, tuple[int, ...]]] = []

    @classmethod
    def create(cls, directory: Path, run_id: str, capacity: int = CAPACITY, start: bytes = b"") -> Journal:
        """A new journal in `directory` (made 0700; it and its parent must be the user's and
        private: the socket's folder, which the client checks the same way). `start` is the run's
        StartRunRequest, serialized: a daemon makes the run from it if this
        process dies before any daemon had it (`mark_started`). OSError
        if it cannot be made or its space reserved (then the run goes on without one)."""
        # Made 0700 with its missing parents: the daemon takes a socket folder that is private
        # already, and never tightens one that holds more than its socket.
        paths.make_private_dir(directory)
        for folder in (directory, directory.parent):
            st = os.lstat(folder)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
                raise PermissionError(f"{folder} is not a private folder of this user")
        path = directory / f"{run_id}.{os.getpid()}.{secrets.token_hex(4)}.journal"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            # Reserved now: a write into a mapping the file system cannot back is a SIGBUS.
            os.posix_fallocate(fd, 0, layout.HEADER_BYTES + capacity + len(start))
            os.pwrite(fd, start, layout.HEADER_BYTES + capacity)
            os.pwrite(fd, layout.header(capacity, os.getpid(), len(start)), 0)
            return cls(path, fd, capacity)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)

    def mark_started(self) -> None:
        """A daemon has the run (or the fallback made its folder): no daemon is to make it from
        the start in the file (one aligned 4-byte store)."""
        self.mm[layout.FLAGS_OFFSET : layout.FLAGS_OFFSET + 4] = layout.STARTED.to_bytes(4, "little")

    def add_schema(self, sid: int, key_ids: tuple[int, ...]) -> None:
        """Schema `sid` (Run._tables.schemas[sid]) is `key_ids`: its rows' struct, made once."""
        n = len(key_ids)
        st = layout.row_struct(n)
        entry = (st.pack_into, st.size, layout.ROW | n << 8, key_ids)
        while len(self.rows) <= sid:
            self.rows.append(entry)  # placeholders: add_schema is called for every sid in order
        self.rows[sid] = entry

    # -- log() side (the owner thread) -------------------------------------------------------------

    def claim(self) -> None:
        """The calling thread becomes the writer, unless one already is."""
        with self._claiming:
            if self.owner is None:
                self.owner = threading.get_ident()

    def fits(self, size: int) -> bool:
        """Make room for an entry of `size` bytes without waiting; False if the daemon must ack first.

        At a lap's end, fills the rest with a WRAP entry and starts the next lap.
        """
        pos, cap = self.pos, self.capacity
        lap_end = (pos // cap + 1) * cap
        if pos + size > lap_end:
            if lap_end > self.acked + cap:
                return False
            if lap_end > pos:
                self.mm[self.base + pos : self.base + lap_end] = layout.wrap_entry(pos, lap_end - pos)
            self.pos = pos = lap_end
            lap_end += cap
        self.base = layout.HEADER_BYTES - (lap_end - cap)  # the lap `pos` is in
        if pos + size > self._bell:
            self._bell = pos + cap // 4
            self.doorbell()
        room = min(lap_end, self.acked + cap)
        self.room = min(room, self._bell)
        if self.unkeyed:
            self.room = 0  # keys of other threads first (Run._journal_row); checked after `room` is set
        return pos + size <= room

    def write(self, entry: bytes) -> None:
        """Write a whole entry (built with its tag) at `pos`, which `fits` made room for."""
        at = self.base + self.pos
        self.mm[at : at + len(entry)] = entry
        self.pos += len(entry)

    # -- sender side -----------------------------------------------------------------------------

    def take(self, upto: int) -> list[tuple[int, bytes]]:
        """Copies of the whole entries from `sent` to `upto` (a `pos` read earlier), cut at lap ends."""
        out = []
        cap = self.capacity
        while self.sent < upto:
            start = self.sent
            end = min(upto, (start // cap + 1) * cap)
            offset = layout.HEADER_BYTES + start % cap
            out.append((start, self.mm[offset : offset + end - start]))
            self.sent = end
        return out

    def ack(self, position: int) -> None:
        if position > self.acked:
            self.acked = position

    def remove(self) -> None:
        """Delete the file: everything in it is durable in the daemon. The mapping lives on
        until the object goes (a log() in another frame may still hold it)."""
        self.path.unlink(missing_ok=True)
