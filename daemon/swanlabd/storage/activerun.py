"""`ActiveRun`: a RUNNING run whose backup file this daemon holds open (and flocked) for appends.

It keeps what the append path needs in memory: the highest client_seq held per writer, each
writer's key ids, the journal position each writer's ranges so far end at (docs/journal.md),
the record count and file size. A failed fsync (or a write failing for another
reason than space) breaks the file for good (`broken`): nothing is acked past it. A write that
finds the disk full only refuses that append (`full`, until an append works again): the file is
as it was before it, and the client resends the same records once space is freed.

Threading: `append` runs on the event loop; `sync_blocking` and `close_blocking` run in a worker
thread, and `io_lock` keeps an fsync and the final close from overlapping.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from swanlabd.format import backup
from swanlabd.local.runfolder import highest_step
from swanlabd.storage.errors import DISK_FULL, DiskFull, RunClosed, StorageFailure
from swanlabd.storage.state import RunInfo
from swanlabd_pb import records_pb2 as pb

log = logging.getLogger(__name__)


class ActiveRun:
    """A RUNNING run whose backup file this daemon holds open (and flocked) for appends."""

    def __init__(
        self,
        info: RunInfo,
        file: backup.BackupWriter,
        keys: dict[int, dict[int, str]],
        system_rows: int,
        key_types: dict[int, dict[int, int]] | None = None,
        last_step: int = -1,
    ) -> None:
        self.info = info
        self.file = file  # the open BackupWriter; `writer` always means a writer id
        self.path = Path(info.run_dir) / backup.BACKUP_FILENAME
        self.client_seqs: dict[int, int] = dict(file.client_seqs)  # written (page cache)
        self.synced: dict[int, int] = dict(file.client_seqs)  # covered by the last good fsync
        self.journal_ends: dict[int, int] = dict(file.journal_ends)  # written (highest journal_end)
        self.keys = keys
        self.key_types = key_types if key_types is not None else {}  # writer -> key id -> KeyType
        self.system_rows = system_rows
        self.last_step = last_step  # the highest step of the user's points: a resume goes on after it
        self.records = file.last_seq + 1
        self.size = file.size
        self.closing: str | None = None  # the final state name once FinishRun/crash began
        self.ended_writers: set[int] = set()  # writers that finished or died while the run went on
        self.broken: StorageFailure | None = None
        self.full: DiskFull | None = None
        self.dirty = False
        self.closed = False
        self.io_lock = threading.Lock()
        self.progress = asyncio.Event()
        self.close_done = asyncio.Event()  # set when a close (FinishRun, crash) ends, done or not

    @property
    def run_id(self) -> str:
        return self.info.run_id

    def held(self, writer: int) -> int:
        """The writer's highest client_seq in the file (what a replay must not write again)."""
        return self.client_seqs.get(writer, 0)

    def journal_end(self, writer: int) -> int:
        """Where the writer's next journal range starts: after the ranges the file holds."""
        return self.journal_ends.get(writer, 0)

    def journal(self, writer: int) -> str:
        """The path of the writer's journal file (its StartRun named it); "" if it has none."""
        return self.info.journals.get(str(writer), "")

    def synced_seq(self, writer: int) -> int:
        """The writer's highest client_seq that the last successful fsync covered."""
        return self.synced.get(writer, 0)

    def knows_writer(self, writer: int) -> bool:
        """True if writer id `writer` was handed out for this run (by StartRun or an attach)."""
        return writer < self.info.next_writer or writer == self.info.primary_writer

    def check_writable(self) -> None:
        """Raise why this run takes no more records: it is finishing (RunClosed) or its file broke."""
        if self.closing:
            raise RunClosed(self.run_id, self.closing)
        if self.broken:
            raise self.broken

    def current_info(self) -> RunInfo:
        """Its RunInfo with the live record count, file size and file error copied in."""
        self.info.records, self.info.backup_bytes = self.records, self.size
        if self.broken:
            self.info.last_error = str(self.broken)
        elif self.full:
            self.info.last_error = str(self.full)
        elif self.info.last_error.startswith(DISK_FULL):
            self.info.last_error = ""  # over (also one saved before a daemon restart)
        return self.info

    def append(self, records: Sequence[pb.Record]) -> None:
        """Write records to the file (page cache). DiskFull if there is no space (nothing is
        written; try again later); any other failure breaks the file for good."""
        if self.broken:
            raise self.broken
        try:
            self.size = self.file.append(records)
        except backup.DiskFull as exc:
            first = self.full is None
            self.full = DiskFull(
                self.path.parent,
                exc.__cause__ or exc,
                "free space there. Nothing is lost: the client keeps the refused rows and resends "
                "them, and the run resumes by itself",
            )
            if first:  # once per episode: every client retry would log it again
                log.warning("run %s: %s", self.run_id, self.full)
            raise self.full from exc
        except Exception as exc:
            self.broken = StorageFailure(self.run_id, self.path, exc)
            raise self.broken from exc
        if self.full is not None:
            log.info("run %s: space again at %s; writing resumed", self.run_id, self.path.parent)
            self.full = None
        self.records += len(records)
        self.dirty = True
        for r in records:
            if r.client_seq:
                self.client_seqs[r.writer] = r.client_seq
            if r.journal_end > self.journal_ends.get(r.writer, 0):
                self.journal_ends[r.writer] = r.journal_end
            kind = r.WhichOneof("kind")
            if kind == "keys":  # as scan.py recovers them from the file
                self.keys.setdefault(r.writer, {}).update((k.id, k.name) for k in r.keys.keys)
                self.key_types.setdefault(r.writer, {}).update((k.id, k.type) for k in r.keys.keys)
            elif kind == "scalars" or kind == "media":
                step = highest_step(r)
                if step > self.last_step:
                    self.last_step = step
        # Wake FinishRun waiters; a fresh Event for the next wait.
        self.progress.set()
        self.progress = asyncio.Event()

    def sync_blocking(self) -> None:
        """fsync (in a worker thread). A failure is fatal for this file (design: never ack past it)."""
        with self.io_lock:
            if self.broken or self.closed:  # close() fsynced already (a group commit raced a finish)
                return
            # What the file holds now; appends racing this fsync may miss it, so are not counted.
            # (A dict copy is atomic under the GIL: the event loop thread appends meanwhile.)
            seqs = dict(self.client_seqs)
            try:
                self.file.sync()
            except Exception as exc:
                self.broken = StorageFailure(self.run_id, self.path, exc)
                log.error("%s", self.broken)
            else:
                self.synced = seqs

    def close_blocking(self) -> None:
        """fsync and close (in a worker thread); idempotent."""
        with self.io_lock:
            self.closed = True
            try:
                self.file.close()
            except Exception as exc:
                if not self.broken:
                    self.broken = StorageFailure(self.run_id, self.path, exc)
                log.error("closing %s: %s", self.path, exc)
