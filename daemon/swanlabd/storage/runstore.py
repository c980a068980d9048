"""Run folders and the runs the daemon is writing: create, append (exactly once), finish, crash, adopt.

A run folder is `<data root>/runs/run-YYYYMMDD_HHMMSS-<run_id>/` with `backup.swanlab` (the
queue, swanlabd.format.backup, whose writer here stores scalar rows compact: the daemon turns a
client's packed columns into format 2's blocks as it appends them) and readable side files under
`files/`. While a run is RUNNING and the
daemon holds its `BackupWriter`, it is an `ActiveRun` (activerun.py) in `RunStore.active`. Reopening
and adopting read the whole file (scan.py); the crash watch asks procwatch.py whether a writer lives.

Exactly-once: per (run, writer) the daemon knows the highest client_seq it holds (from the
backup file after a restart: `BackupWriter.open().client_seqs`). A batch is a contiguous range
of client_seqs: the part at or below that mark is dropped, a batch that starts past mark+1 is a
gap (`SequenceGap`), anything malformed is refused whole (`MalformedBatch`) before a byte is
written; the servicer makes those checks (swanlabd/ingest/validate.py) and `append_batch` writes
what passed. Acked = appended to the file (page cache); fsync is the daemon's group-commit task or
`fsync="always"`; a failed fsync breaks the run's file (`StorageFailure`) and nothing is acked
past it.

A full disk breaks nothing (`DiskFull`, RESOURCE_EXHAUSTED): a batch that finds no space is not
written and not acked, its client keeps it and sends it again, and the first write that works
ends the episode; `ls` shows the run's error meanwhile. A StartRun or a FinishRun that finds no
space is refused the same way and retried by its client. Only the crash watch's Finish{CRASHED},
which nobody would retry, ends the run without its record. An entry the state DB cannot take is
kept in memory (`ls` shows it, with the error) and written again at each group commit.

Threading: every method runs on the daemon's event loop except the blocking file work
(open, fsync, close, scans), which goes through `asyncio.to_thread`; `ActiveRun.io_lock`
keeps an fsync and the final close of one file from overlapping. A thread's work goes on when
the RPC awaiting it is cancelled, so the work that opens a run's file (StartRun, reopening) runs
as a task of its own that the RPC only awaits: it always registers what it opened, or undoes it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from swanlabd.format import backup, journal
from swanlabd.format.runstate import Mode, RunState
from swanlabd.local import packages, paths, runfolder
from swanlabd.local.limits import check_json
from swanlabd.local.runfolder import (
    NEW_FOLDER_PREFIX,
    check_run_id,
    check_run_start,
    new_run_id,
    new_run_start,
    run_folder_name,
)
from swanlabd.storage.activerun import ActiveRun
from swanlabd.storage.errors import (
    DiskFull,
    PreconditionFailed,
    RequestError,
    RunClosed,
    RunExists,
    RunNotFound,
    StorageFailure,
    is_disk_full,
)
from swanlabd.storage.events import NoEvents, RunEvents
from swanlabd.storage.procwatch import process_alive, process_start_time, started_before
from swanlabd.storage.scan import Scan, scan_backup
from swanlabd.storage.state import RunInfo, State
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2

log = logging.getLogger(__name__)

DAEMON_WRITER = 0
# How long FinishRun waits for Stream batches still in flight on another HTTP/2 stream.
FINISH_WAIT_S = 30.0
# Scalars in a record made of a dead writer's journal tail: as many as its client puts in one.
TAIL_RECORD_VALUES = 16_384
# The pid_started of a writer whose process was gone when the daemon learned of it: no process
# has that start time, so the crash watch finds it dead.
GONE = -1.0
# An orphan journal (a writer killed before any daemon had its run) is made into a run once its
# file is this old: a writer in another pid namespace looks gone from the start, and its StartRun
# may still be on its way (docs/journal.md).
ORPHAN_MIN_AGE_S = 2.0
# An orphan journal whose run could not be made for now (a full disk, a failing disk) is tried
# again after this long.
ORPHAN_RETRY_S = 10.0
# `orphan_journals`' verdict for a file it need not read again (its name is never reused).
_DONE = float("inf")


def now_ms() -> int:
    return int(time.time() * 1000)


class RunStore:
    """The run folders under `<data root>/runs` and the runs being written (`active`).

    Runs on the daemon's event loop; not thread-safe. `events` (storage/events.py) hears of every
    append and of every run that leaves RUNNING (the daemon passes its uploader).
    """

    def __init__(self, home: Path, state: State, events: RunEvents | None = None) -> None:
        self.home = home
        self.runs_dir = paths.runs_dir(home)
        self.runs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state = state
        self.active: dict[str, ActiveRun] = {}
        # Work that opens a run's file, one task per run id, joined by later requests for that run
        # and never cancelled with a caller (see start_run and activate); close_all waits for it.
        self._starting: dict[str, asyncio.Task[tuple[ActiveRun, int, int]]] = {}
        self._activating: dict[str, asyncio.Task[ActiveRun]] = {}
        # How many StartRuns await the start of each run id: 0 means every caller went away.
        self._waiting: dict[str, int] = {}
        # RUNNING runs whose file we could not open (their client writes it): the crash watcher's list.
        self._unsettled: set[str] = set()
        # For adopt_new: folder names of registered runs, of runs StartRun is creating, and of
        # folders that failed adoption (with their backup's size and mtime, retried on a change).
        self._known_folders: set[str] = set()
        self._creating: set[str] = set()
        self._rejected: dict[str, tuple[int, int]] = {}
        # Entries the state DB could not take (its disk was full), written again at each group
        # commit; while they wait, these are the runs' truth (`infos`, `_info`).
        self._unsaved: dict[str, RunInfo] = {}
        self.state_full: DiskFull | None = None
        self.events: RunEvents = events or NoEvents()
        # orphan_journals: per file name in <socket dir>/journals/, when to read it again
        # (_DONE: never; a writer that lived last time is read again at every scan), and the
        # names whose trouble was logged already.
        self._journals_seen: dict[str, float] = {}
        self._journals_warned: set[str] = set()

    # -- StartRun ----------------------------------------------------------------------------

    async def start_run(
        self, req: service_pb2.StartRunRequest, started: Callable[[ActiveRun, int], None] | None = None
    ) -> tuple[ActiveRun, int, int]:
        """Create, resume or attach to a run; return (run, writer id, durable client_seq).

        All or nothing whatever becomes of the caller: the work runs as a task of its own, one at
        a time per run id, and a caller cancelled meanwhile (its deadline passed, its client went
        away) does not stop it between making a folder and registering it. A StartRun for a run id
        whose start is under way waits for it, then decides afresh: a retry from the same process
        finds the run made for it (`_same_writer_again`) instead of racing its making.
        `started(run, writer)` runs in that task once the run is started, so what the caller adds
        to it (the service layer: credentials, uploading) comes with it too.
        """
        run_id = req.start.run_id
        if run_id:
            try:
                check_run_id(run_id)
            except ValueError as exc:
                raise RequestError(f"StartRun: {exc}") from None
        elif req.attach:
            raise RequestError("StartRun: attach needs start.run_id")
        run_id = run_id or new_run_id()
        self._waiting[run_id] = self._waiting.get(run_id, 0) + 1
        try:
            while (under_way := self._starting.get(run_id)) is not None:
                await asyncio.wait({under_way})  # its outcome is not ours: we decide afresh after it
            task = asyncio.create_task(self._start(run_id, req, started), name=f"StartRun {run_id}")
            self._starting[run_id] = task
            # shield: cancelling this caller leaves the task running (and takes care of its exception).
            return await asyncio.shield(task)
        finally:
            self._waiting[run_id] -= 1
            if not self._waiting[run_id]:
                del self._waiting[run_id]

    async def _start(
        self, run_id: str, req: service_pb2.StartRunRequest, started: Callable[[ActiveRun, int], None] | None
    ) -> tuple[ActiveRun, int, int]:
        """start_run's task."""
        try:
            if req.journal:
                await asyncio.to_thread(check_journal, req.journal)
            run, writer, durable = await self._decide(run_id, req)
            if req.journal and run.journal(writer) != req.journal:
                run.info.journals[str(writer)] = req.journal
                self._save(run.current_info())
            if started is not None:
                started(run, writer)
            return run, writer, durable
        finally:
            self._starting.pop(run_id, None)

    async def _decide(self, run_id: str, req: service_pb2.StartRunRequest) -> tuple[ActiveRun, int, int]:
        """Attach, answer a retry, resume or create, as the request and the run's state say."""
        if req.attach:
            return await self._attach(run_id, req.writer, req.pid)
        info = self._info(run_id) if req.start.run_id else None
        if info is not None:
            if writer := self._same_writer_again(info, req.pid):
                # A retried StartRun (its reply was lost to a deadline or a daemon crash): same run, same writer.
                run = await self.get_active(run_id)
                return run, writer, run.held(writer)
            if req.start.resume in ("", "never"):
                raise RunExists(run_id)
            return await self._resume(info, req)
        if req.start.resume == "must":
            raise RunNotFound(req.start.run_id, "resume='must'")
        return await self._create(run_id, req)

    async def _create(self, run_id: str, req: service_pb2.StartRunRequest) -> tuple[ActiveRun, int, int]:
        start = new_run_start(req, run_id)
        try:
            # The names end up in folder names and cloud requests: held to the rules init() and
            # adoption apply (a raw gRPC client may send anything).
            check_run_start(run_id, start)
        except ValueError as exc:
            raise RequestError(f"StartRun: {exc}") from None
        for kind, msg in (("config", req.config), ("metadata", req.metadata)):
            try:
                if msg.json:
                    check_json(msg.json)
            except ValueError as exc:
                raise RequestError(f"StartRun: {kind} {exc}") from None
        try:
            packages.check(req.requirements.sys_path)  # the daemon reads the folders it names
        except ValueError as exc:
            raise RequestError(f"StartRun: {exc}") from None
        runs_dir = self.runs_dir
        if req.log_dir:
            try:
                runs_dir = await asyncio.to_thread(paths.check_log_dir, req.log_dir)
            except ValueError as exc:
                raise RequestError(f"StartRun: {exc}") from None
            except OSError as exc:
                raise RequestError(f"StartRun: log_dir {req.log_dir!r} cannot be made: {exc}") from None
        run_dir = runs_dir / run_folder_name(run_id, start.start_time_ms)
        info = RunInfo.from_start(run_id, str(run_dir), start, pid=req.pid, pid_started=process_start_time(req.pid))
        # Between the rename into place and put_run the folder is not registered: adopt_new skips it.
        self._creating.add(run_dir.name)
        try:
            file = await asyncio.to_thread(self._create_folder, run_dir, start, req)
            try:
                if not self._waiting.get(run_id) and not (req.start.run_id and info.pid_started):
                    # Every caller went away, and none can come back for this run: none knows its
                    # id, or its process was gone before we noted it (no crash watch could end it).
                    log.info("run %s: its StartRun was cancelled and no process can claim it; not kept", run_id)
                    raise RunNotFound(run_id, "its StartRun was cancelled; the run was not kept")
                run = ActiveRun(info, file, {}, 0)
                self.state.put_run(run.current_info())  # raises: a run not registered is not kept
            except Exception:
                # Not registered, so not kept: the folder would be in its retry's way, its file locked.
                await asyncio.to_thread(self._remove_folder, run_dir, file)
                raise
            self.active[run_id] = run
            self._known_folders.add(run_dir.name)
        except DiskFull:
            raise
        except (OSError, backup.BackupError) as exc:
            if is_disk_full(exc):
                why = "the run was not started; its client keeps its rows and starts it once space is freed"
                raise DiskFull(self.runs_dir, exc, why) from exc
            raise StorageFailure(run_id, run_dir, exc) from exc
        finally:
            self._creating.discard(run_dir.name)
        log.info("run %s started in %s (pid %d)", run_id, run_dir, req.pid)
        return run, 1, 0

    @staticmethod
    def _create_folder(run_dir: Path, start: pb.RunStart, req: service_pb2.StartRunRequest) -> backup.BackupWriter:
        """Create the run folder, all or nothing (local/runfolder.py); in a worker thread."""
        try:
            return runfolder.create(run_dir, start, req, compact_rows=True)
        except runfolder.FolderInTheWay:
            raise RunExists(start.run_id, f"{run_dir} is in the way: a folder written without this daemon") from None

    @staticmethod
    def _remove_folder(run_dir: Path, file: backup.BackupWriter) -> None:
        """Undo `_create_folder` (in a worker thread): the run was never registered, so nothing points here."""
        try:
            file.close()
        except backup.StorageError as exc:
            log.warning("closing %s before removing it: %s", file.path, exc)
        shutil.rmtree(run_dir, ignore_errors=True)

    @staticmethod
    def _same_writer_again(info: RunInfo, pid: int) -> int:
        """The writer id of the process that started this RUNNING run, or joined it as a peer, if
        it asks again (pid and its start time match); else 0."""
        if not pid or info.state != RunState.RUNNING:
            return 0
        for writer, (peer_pid, started) in info.peers.items():
            if peer_pid == pid and process_alive(pid, started):
                return int(writer)
        if (
            info.pid == pid
            and process_alive(pid, info.pid_started)
            and (info.pid_started or started_before(pid, info.created_ms))
        ):
            return info.primary_writer
        return 0

    async def _resume(self, info: RunInfo, req: service_pb2.StartRunRequest) -> tuple[ActiveRun, int, int]:
        """resume='allow'|'must' on a known run: a new writer. A peer if another live process
        writes the run (both watched: `_peers_with`); else the new primary writer, watched like
        writer 1."""
        run = self.active.get(info.run_id)
        while run is not None and run.closing:
            # Its last writer's finish (or crash) is under way: resume the run that leaves, not
            # one half closed (the close would end it under the new writer).
            await run.close_done.wait()
            run = self.active.get(info.run_id)
        if run is None:
            run = await self.activate(self._info(info.run_id) or info, reopen_finished=True)
        writer = run.info.next_writer
        run.info.next_writer += 1
        started = process_start_time(req.pid)
        if run.info.state == RunState.RUNNING and self._peers_with(run, req.pid, started):
            run.info.peers[str(writer)] = [req.pid, started]
            self.state.put_run(run.info)
            log.info(
                "run %s: process %d joins it as writer %d, a peer of process %d",
                info.run_id,
                req.pid,
                writer,
                run.info.pid,
            )
            return run, writer, 0
        old = run.info.primary_writer
        if run.info.state == RunState.RUNNING and self._primary_dead(run):
            # A resume right after a crash the crash watch has not seen yet: the dead writer's
            # journal rows come first, as the crash watch would have appended them.
            run.ended_writers.add(old)
            await self._read_dead_journal(run, old)
        run.info.primary_writer = writer
        run.info.pid = req.pid
        run.info.pid_started = started
        run.info.state = RunState.RUNNING
        self.state.put_run(run.info)
        return run, writer, 0

    @staticmethod
    def _primary_dead(run: ActiveRun) -> bool:
        """True if the run's primary writer is watched and its process is gone, not yet settled
        (`ended_writers`)."""
        info = run.info
        return (
            info.primary_writer not in run.ended_writers
            and bool(info.pid_started)
            and not process_alive(info.pid, info.pid_started)
        )

    @staticmethod
    def _peers_with(run: ActiveRun, pid: int, started: float) -> bool:
        """True if a process joining `run` is a peer of its primary writer: the primary's process
        lives, and both can be watched (their start times are known: not another pid namespace).
        A peer's init() leaves the run to whichever of them finishes last; without a live primary,
        the joiner takes the run over (a resume after a crash)."""
        primary_lives = run.info.pid_started and process_alive(run.info.pid, run.info.pid_started)
        return bool(primary_lives and started and pid != run.info.pid)

    async def _attach(self, run_id: str, writer: int, pid: int) -> tuple[ActiveRun, int, int]:
        run = await self.get_active(run_id)
        if writer == 0:
            writer = run.info.next_writer
            run.info.next_writer += 1
            self.state.put_run(run.info)
        elif not run.knows_writer(writer):
            raise RunNotFound(run_id, f"writer {writer} never attached")
        return run, writer, run.held(writer)

    # -- activation and recovery -------------------------------------------------------------

    async def get_active(self, run_id: str) -> ActiveRun:
        """The active run, reopening a RUNNING run after a daemon restart; errors for the rest."""
        run = self.active.get(run_id)
        if run is not None:
            if run.closing:
                raise RunClosed(run_id, run.closing)
            return run
        info = self._info(run_id)
        if info is None:
            raise RunNotFound(run_id)
        if info.state != RunState.RUNNING:
            raise RunClosed(run_id, info.state)
        return await self.activate(info)

    def _info(self, run_id: str) -> RunInfo | None:
        """A run's entry: the one waiting to be saved if any (newer), else the state DB's."""
        return self._unsaved.get(run_id) or self.state.get_run(run_id)

    async def activate(self, info: RunInfo, *, reopen_finished: bool = False) -> ActiveRun:
        """Open a known run's backup for append (cuts a torn tail, recovers client_seqs and keys).

        A file that ends with a Finish record (its client wrote it while no daemon held the file)
        is not reopened unless `reopen_finished` (resume): the run takes that state, RunClosed.
        The opening is a task of its own: a caller cancelled meanwhile (a Stream or FinishRun whose
        client went away) leaves the run in `active`, never its file open and locked by nobody.
        """
        # One opener per run: a second flock from this process would fail like a foreign one.
        while (under_way := self._activating.get(info.run_id)) is not None:
            await asyncio.wait({under_way})
        run = self.active.get(info.run_id)
        if run is not None:  # another request activated it while we waited
            return run
        task = asyncio.create_task(self._activate(info, reopen_finished), name=f"open {info.run_id}")
        self._activating[info.run_id] = task
        return await asyncio.shield(task)

    async def _activate(self, info: RunInfo, reopen_finished: bool) -> ActiveRun:
        try:
            return await self._open(info, reopen_finished)
        finally:
            self._activating.pop(info.run_id, None)

    async def _open(self, info: RunInfo, reopen_finished: bool) -> ActiveRun:
        path = Path(info.run_dir) / backup.BACKUP_FILENAME
        try:
            file, scan = await asyncio.to_thread(self._open_and_scan, path)
        except backup.BackupLocked:
            raise PreconditionFailed(f"run {info.run_id}: {path} is held by another process") from None
        except FileNotFoundError:
            raise RunNotFound(info.run_id, f"{path} is gone") from None
        if scan.finish is not None and not reopen_finished:
            await asyncio.to_thread(file.close)
            state = RunState.of(scan.finish.state)
            self.state.update_run(
                info.run_id,
                state=state,
                records=scan.records,
                backup_bytes=path.stat().st_size,
                finished_ms=scan.finish.finish_time_ms,
            )
            self.events.ended(info.run_id)
            raise RunClosed(info.run_id, state)
        if info.adopted and file.tail_cut is not None:
            # A copied or client-written folder whose last write never completed: what it held is
            # lost. Said once, as the run's; a run this daemon wrote replays its torn tail instead.
            offset, nbytes = file.tail_cut
            info.cut_tail = [offset, nbytes, file.last_seq]
            log.warning("run %s: %d bytes of a torn write cut at offset %d of %s", info.run_id, nbytes, offset, path)
            self.state.put_run(info)
        # Writer ids a client wrote as while no daemon held the file are taken (a resume on the
        # fallback file), and the process that went on with the run is its primary writer now.
        info.next_writer = max(info.next_writer, max(file.client_seqs, default=0) + 1)
        if scan.finish is None and scan.run_start is not None:
            await self._take_primary(info, scan.run_start, scan.run_start_ms)
        run = ActiveRun(info, file, scan.keys, scan.system_rows, scan.key_types, scan.last_step)
        self.active[info.run_id] = run
        log.info("run %s reopened: %d records, client_seqs %s", info.run_id, run.records, run.client_seqs)
        return run

    async def _take_primary(self, info: RunInfo, start: pb.RunStart, start_ms: int) -> None:
        """A RunStart the fallback file got while no daemon held it names a newer primary writer
        (a process that resumed the run without a daemon): watch that process, and read its
        journal if it died (docs/journal.md)."""
        writer = start.primary_writer or 1
        if writer <= info.primary_writer:
            return
        info.primary_writer = writer
        info.next_writer = max(info.next_writer, writer + 1)
        info.pid = start.pid
        # Its process started before it wrote that RunStart; any other with its pid is not it.
        info.pid_started = process_start_time(start.pid) if started_before(start.pid, start_ms) else GONE
        if start.journal:
            await self._named_journal(info, writer, start.journal)
        log.info("run %s: its primary writer is now %d (pid %d), from its folder", info.run_id, writer, info.pid)
        self._save(info)

    @staticmethod
    async def _named_journal(info: RunInfo, writer: int, path: str) -> None:
        """Record the journal a run folder names for `writer`, if it passes StartRun's check (a
        copied folder's path is anyone's)."""
        try:
            await asyncio.to_thread(check_journal, path)
        except RequestError as exc:
            log.warning("run %s: the journal its folder names is not used: %s", info.run_id, exc)
            return
        info.journals[str(writer)] = path

    @staticmethod
    def _open_and_scan(path: Path) -> tuple[backup.BackupWriter, Scan]:
        file = backup.BackupWriter.open(path, compact_rows=True)
        try:
            return file, scan_backup(path)
        except BaseException:
            file.close()
            raise

    async def recover(self) -> None:
        """At daemon start: reopen RUNNING runs, adopt folders written without a daemon."""
        for info in list(self.state.runs()):
            if info.state == RunState.RUNNING:
                try:
                    await self.activate(info)
                except RunClosed as exc:
                    log.info("%s", exc)  # its client finished it while no daemon held the file
                except Exception as exc:
                    log.warning("run %s: cannot reopen: %s", info.run_id, exc)
                    self._unsettled.add(info.run_id)
            elif await asyncio.to_thread(_grew, info):
                # Its client resumed it while no daemon ran, on the fallback file: settle it anew.
                log.info("run %s: its file grew since it ended (resumed without a daemon)", info.run_id)
                info = self.state.update_run(info.run_id, state=RunState.RUNNING)
                await self._settle(
                    info, await asyncio.to_thread(scan_backup, Path(info.run_dir) / backup.BACKUP_FILENAME)
                )
        for run_dir in self.runs_dir.glob(NEW_FOLDER_PREFIX + "*"):
            # A StartRun the daemon died in: never answered, so no client knows this folder.
            await asyncio.to_thread(shutil.rmtree, run_dir, True)
        await self.adopt_new()

    async def sweep_journals(self, directory: Path) -> None:
        """At daemon start, after `recover`: delete the leftover journals in `directory` (see the
        function `sweep_journals`), keeping every one a run names."""
        named = [path for info in self.infos() for path in info.journals.values()]
        await asyncio.to_thread(sweep_journals, directory, named)

    async def orphan_journals(
        self, directory: Path, started: Callable[[service_pb2.StartRunRequest, ActiveRun, int], None] | None = None
    ) -> None:
        """Make the runs of the journals in `directory` (the clients' `<socket dir>/journals/`)
        whose writer died before any daemon had its run, and settle them as crashes.

        init() returns before StartRun is answered: the journal carries the run's start
        (`journal.read_start`), and its header's STARTED flag says a daemon or the writer's
        fallback folder has the run. A journal of this boot whose flag is not set, whose writer is
        gone (the sweep's rule) and whose file is ORPHAN_MIN_AGE_S old is made into its run
        through StartRun's create path (with the credentials its start holds, through `started` as
        a StartRun's are; no package list: its StartRun held it), then `finish_crashed` appends
        its rows and Finish{CRASHED} and deletes it. A run id the
        state DB knows is not made again: a StartRun of that process that landed is settled
        instead (`_orphan_of_known`). A start that does not parse or fails StartRun's checks is
        logged once and the file kept.

        At daemon start and at every crash-watch round, so it stays cheap: one listing; a file is
        read again only while its writer lives (or after ORPHAN_RETRY_S, for a run that could
        not be made). OSError if the folder cannot be listed.
        """
        try:
            names = await asyncio.to_thread(os.listdir, directory)
        except FileNotFoundError:
            return
        seen = self._journals_seen
        present = set(names)
        for name in [n for n in seen if n not in present]:
            del seen[name]
            self._journals_warned.discard(name)
        now = time.monotonic()
        for name in sorted(names):
            if seen.get(name, 0.0) > now:
                continue
            path = directory / name
            try:
                seen[name] = await self._orphan_journal(path, started)
            except Exception:  # a bug here must cost one file, never the crash watch
                log.exception("the journal %s: making its run failed; kept", path)
                seen[name] = _DONE

    async def _orphan_journal(
        self, path: Path, started: Callable[[service_pb2.StartRunRequest, ActiveRun, int], None] | None
    ) -> float:
        """One file of `orphan_journals`: when to look at it again."""
        found = await asyncio.to_thread(_read_journal_header, path)
        if found is None:
            return _DONE  # not a journal of this user's: the sweep names it at start
        head, mtime_ms = found
        if head.started or not head.start_bytes or not head.this_boot():
            # A daemon or its fallback folder has the run (its crash watch and adoption read the
            # journal); or no start to make one from, or another boot's: the start sweep's.
            return _DONE
        if started_before(head.pid, mtime_ms):
            return 0.0  # its writer lives: look again at the next round
        if time.time() * 1000 - mtime_ms < ORPHAN_MIN_AGE_S * 1000:
            return 0.0
        try:
            data = await asyncio.to_thread(_read_journal_start, path, head)
            request = service_pb2.StartRunRequest.FromString(data)
            if request.attach or not request.HasField("start"):
                raise ValueError("it is not the start of a new run")
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError is not importable portably
            log.warning("the journal %s of process %d holds no run start that parses (%s); kept", path, head.pid, exc)
            return _DONE
        run_id = request.start.run_id
        try:
            if run_id:
                check_run_id(run_id)  # before it is looked up
        except ValueError as exc:
            log.warning("the journal %s of process %d: its run cannot be made (%s); kept", path, head.pid, exc)
            return _DONE
        request.journal = str(path)
        request.pid = request.pid or head.pid
        if run_id and (run_id in self._starting or run_id in self._activating):
            return 0.0  # a StartRun (or a reopening) of that run is under way: after it
        info = self._info(run_id) if run_id else None
        if info is not None:
            landed = await self._orphan_of_known(info, path, head.pid, request.start.resume)
            if landed is not None:
                return landed
        try:
            run, _, _ = await self.start_run(request, functools.partial(started, request) if started else None)
        except (RequestError, RunExists, RunNotFound) as exc:
            log.warning("the journal %s of process %d: its run cannot be made (%s); kept", path, head.pid, exc)
            return _DONE
        except (DiskFull, StorageFailure, PreconditionFailed, OSError) as exc:
            self._warn_orphan(path, f"its run cannot be made for now ({exc}); tried again in {ORPHAN_RETRY_S:.0f} s")
            return time.monotonic() + ORPHAN_RETRY_S
        log.warning(
            "run %s: made from the journal %s: its process %d was killed before any daemon had the run",
            run.run_id,
            path,
            head.pid,
        )
        if not run.closing:
            await self._settle_orphan(run, f"process {head.pid} exited before any daemon had its run")
        return _DONE

    async def _settle_orphan(self, run: ActiveRun, error: str) -> None:
        """`finish_crashed`, whose trouble (a broken file) is the run's, not the scan's: logged."""
        try:
            await self.finish_crashed(run, error)
        except Exception as exc:
            log.error("run %s: cannot mark CRASHED: %r", run.run_id, exc)

    async def _orphan_of_known(self, info: RunInfo, path: Path, pid: int, resume: str) -> float | None:
        """An orphan journal whose run id the state DB knows: when to look at it again, or None
        to make the run (a resume of an ended run, as its StartRun would have done).

        Its StartRun landed if the run is RUNNING as that process's (its pid, or its journal
        named): the run is settled as the crash it is, the journal attached to its primary writer
        if it names none. Any other run of that id is not this process's to write: kept."""
        named = await asyncio.to_thread(_names_file, info.journals.values(), path)
        if info.state != RunState.RUNNING:
            if resume not in ("", "never") and not named:
                return None
            log.warning(
                "the journal %s of process %d: its run %s exists already (%s), not made again; kept",
                path,
                pid,
                info.run_id,
                info.state,
            )
            return _DONE
        if not named and info.pid != pid:
            # Another process writes that run: this one's resume never landed. Once the run ends
            # the resume can be made.
            self._warn_orphan(path, f"its run {info.run_id} is written by process {info.pid}; looked at again later")
            return time.monotonic() + ORPHAN_RETRY_S
        run = self.active.get(info.run_id)
        if run is not None and run.closing:
            return 0.0  # being finished: its journal goes with it
        current = run.info if run is not None else info
        writer = current.primary_writer
        if current.pid != pid:
            log.warning("the journal %s: its run %s has another primary writer now; kept", path, info.run_id)
            return _DONE
        if not current.journals.get(str(writer)):
            await self._named_journal(current, writer, str(path))
            self._save(run.current_info() if run is not None else current)
        log.warning("run %s: its process %d died as its StartRun was answered", info.run_id, pid)
        if run is not None:
            await self._settle_orphan(run, f"process {pid} exited without finishing the run")
        else:
            await self.settle(current)
        return _DONE

    def _warn_orphan(self, path: Path, why: str) -> None:
        if path.name in self._journals_warned:
            log.debug("the journal %s: %s", path, why)
        else:
            self._journals_warned.add(path.name)
            log.warning("the journal %s: %s", path, why)

    async def adopt_new(self) -> None:
        """Adopt the folders in runs/ that no run is registered at (clients write them when no
        daemon answers). The daemon calls this at start and then every few seconds, so it must
        stay cheap: one listing of folder names; only a name not seen before costs more."""
        names = await asyncio.to_thread(os.listdir, self.runs_dir)
        fresh = sorted(n for n in names if not n.startswith(".") and n not in self._known_folders)
        if not fresh:
            return
        self._known_folders = {Path(info.run_dir).name for info in self.state.runs()}
        for name in fresh:
            if name in self._known_folders or name in self._creating:
                continue
            run_dir = self.runs_dir / name
            try:
                st = (run_dir / backup.BACKUP_FILENAME).stat()
            except OSError:
                continue  # not a run folder, or its client has not made the file yet: look again later
            signature = (st.st_size, st.st_mtime_ns)
            if self._rejected.get(name) == signature:
                continue
            try:
                await self.adopt(run_dir)
            except Exception as exc:
                if not is_disk_full(exc):  # that passes without the file changing: try again next scan
                    self._rejected[name] = signature
                log.warning("cannot adopt %s: %s", run_dir, exc)
            else:
                self._rejected.pop(name, None)
                self._known_folders.add(name)

    async def adopt(self, run_dir: Path) -> RunInfo:
        """Register a run folder this daemon did not create (client fallback, or copied from elsewhere).

        A folder whose writer is still alive (its file is flocked) is registered as RUNNING and
        left alone; one that ended without a Finish record gets Finish{CRASHED}. Idempotent.
        """
        run_dir = run_dir.resolve()
        path = run_dir / backup.BACKUP_FILENAME
        if not path.is_file():
            raise RequestError(f"{run_dir} is not a run folder (no {backup.BACKUP_FILENAME} in it)")
        try:
            scan = await asyncio.to_thread(scan_backup, path)
        except backup.BackupFormatError as exc:
            raise RequestError(f"{path} is not a swanlabd backup: {exc}") from None
        if scan.header is None:
            raise RequestError(f"{path} has no header record: not a swanlabd backup")
        run_id = scan.header.run_id
        try:
            # Whoever wrote this file chose these; they become folder names and cloud requests.
            runfolder.check_run_start(run_id, scan.run_start or pb.RunStart())
        except ValueError as exc:
            raise RequestError(f"{path}: {exc}") from None
        existing = self.state.get_run(run_id)
        if existing is not None:
            if Path(existing.run_dir).resolve() == run_dir:
                return existing
            if Path(existing.run_dir).exists():
                raise RunExists(run_id, f"registered at {existing.run_dir}")
        start = scan.run_start or pb.RunStart()  # the last one: the process that wrote last
        writer = start.primary_writer or 1
        info = RunInfo.from_start(
            run_id,
            str(run_dir),
            start,
            pid=start.pid,
            primary_writer=writer,
            next_writer=writer + 1,
            records=scan.records,
            backup_bytes=path.stat().st_size,
            adopted=True,
        )
        if start.journal and scan.finish is None:
            # Its writer may have died with rows in its journal that the file does not hold.
            await self._named_journal(info, writer, start.journal)
        self.state.put_run(info)  # RUNNING until settled
        settled = await self._settle(info, scan)
        log.info("adopted %s as run %s (%s)", run_dir, run_id, settled.state)
        return settled

    async def settle(self, info: RunInfo) -> RunInfo:
        """A RUNNING run we do not hold whose writer is gone (the crash watcher calls this)."""
        path = Path(info.run_dir) / backup.BACKUP_FILENAME
        if not path.is_file():
            log.error("run %s: %s is gone; marking CRASHED", info.run_id, path)
            self._unsettled.discard(info.run_id)
            crashed = self.state.update_run(info.run_id, state=RunState.CRASHED, last_error=f"{path} is gone")
            self.events.ended(info.run_id)
            return crashed
        return await self._settle(info, await asyncio.to_thread(scan_backup, path))

    async def _settle(self, info: RunInfo, scan: Scan) -> RunInfo:
        """Give a run we did not write its final state: its own Finish record, or CRASHED."""
        self._unsettled.discard(info.run_id)
        if scan.finish is not None:
            state = RunState.of(scan.finish.state)
            size = await asyncio.to_thread(_size, Path(info.run_dir) / backup.BACKUP_FILENAME)
            for path in info.journals.values():
                # Its client wrote every row before its Finish record: the journal holds no more.
                await asyncio.to_thread(remove_journal, path)
            settled = self.state.update_run(
                info.run_id, state=state, records=scan.records, backup_bytes=size, journals={}
            )
            self.events.ended(info.run_id)
            return settled
        try:
            run = await self.activate(info)
        except RunClosed:  # its client wrote the Finish record meanwhile
            return self.state.get_run(info.run_id) or info
        except PreconditionFailed:
            log.debug("run %s: %s is still being written by its client", info.run_id, info.run_dir)
            start = scan.run_start
            if not info.pid and start is not None and start.pid:
                # Adopted right after its client made the file: now watch that process instead of
                # re-reading the growing file at every crash-watch tick.
                info = self.state.update_run(
                    info.run_id,
                    pid=start.pid,
                    project=start.project,
                    experiment_name=start.experiment_name,
                    mode=Mode.of(start.mode),
                    created_ms=start.start_time_ms,
                )
            self._unsettled.add(info.run_id)
            return info
        if _writer_alive(info):
            # Its client lives and let go of the file (it will reconnect): watch it like any run.
            run.info.pid_started = info.pid_started or process_start_time(info.pid)
            self.state.put_run(run.info)
            return run.info
        await self.finish_crashed(run, "the run ended without a finish record (written without swanlabd)")
        return self.state.get_run(info.run_id) or info

    # -- Stream ------------------------------------------------------------------------------

    def append_batch(self, run: ActiveRun, writer: int, records: Sequence[pb.Record]) -> int:
        """Append a checked client batch as `writer`'s; return the writer's durable client_seq.

        `records` passed the protocol's checks (swanlabd/ingest/validate.py): well formed,
        contiguous, and none of them held yet. Their key definitions take effect with the append.
        """
        run.check_writable()
        if writer in run.ended_writers:
            raise PreconditionFailed(
                f"run {run.run_id} writer {writer} has finished or exited: it takes no more records"
            )
        if records:
            for r in records:
                r.writer = writer  # a client may leave it 0: its stream names the writer
            self._write(run, records)
            self.events.appended(run.run_id)
        return run.held(writer)

    def _write(self, run: ActiveRun, records: Sequence[pb.Record]) -> None:
        """`run.append`, saving the run's entry when its disk fills up or has space again (so
        `ls` without a daemon shows it too)."""
        was_full = run.full is not None
        try:
            run.append(records)
        except DiskFull:
            if not was_full:
                self.publish(run)
            raise
        if was_full:
            self.publish(run)

    def append_system(self, run: ActiveRun, samples: dict[str, float], time_ms: int) -> None:
        """One row of host metrics as a writer-0 `system` record (keys interned on first use).

        A storage failure breaks the run (recorded in its `last_error`) and is not raised; on a
        full disk the row is skipped (the run's `last_error` says so until space is freed).
        """
        if run.closing or run.broken or not samples:
            return
        keys = run.keys.setdefault(DAEMON_WRITER, {})
        ids = {name: i for i, name in keys.items()}
        new = [
            pb.KeyDef(id=len(keys) + n, name=k, type=pb.SYSTEM)
            for n, k in enumerate(k for k in samples if k not in ids)
        ]
        records = []
        if new:
            records.append(pb.Record(time_ms=time_ms, keys=pb.KeyDefs(keys=new)))
        row = pb.ScalarRows(steps=[run.system_rows], row_sizes=[len(samples)])
        all_ids = {**ids, **{k.name: k.id for k in new}}
        row.key_ids.extend(all_ids[k] for k in samples)
        row.values.extend(samples.values())
        records.append(pb.Record(time_ms=time_ms, system=row))
        try:
            self._write(run, records)
        except DiskFull:
            return
        except StorageFailure as exc:
            # Like a client append's failure: this run's file is broken (its next batch and
            # FinishRun get the error, status/ls show it); the daemon and other runs go on.
            log.error("%s", exc)
            self.publish(run)
            return
        run.system_rows += 1
        self.events.appended(run.run_id)

    # -- FinishRun and crashes ---------------------------------------------------------------

    async def finish_run(self, run_id: str, writer: int, last_client_seq: int, finish: pb.Finish) -> int:
        """The primary writer: Finish record + fsync + close, or, while a peer lives, the run
        passes to that peer. Other writers (peers, attached processes): fsync and detach."""
        run = self.active.get(run_id)
        if run is None:
            info = self._info(run_id)
            if info is None:
                raise RunNotFound(run_id)
            if info.state != RunState.RUNNING:
                return last_client_seq  # a retried FinishRun after the first one landed
            try:
                run = await self.activate(info)
            except RunClosed:
                return last_client_seq  # its Finish record is in the file already
        if run.broken:
            raise run.broken
        deadline = time.monotonic() + FINISH_WAIT_S
        while run.held(writer) < last_client_seq:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PreconditionFailed(
                    f"run {run_id} writer {writer}: finish at client_seq {last_client_seq} "
                    f"but the daemon holds only up to {run.held(writer)}; replay the rest first"
                )
            try:
                async with asyncio.timeout(remaining):
                    await run.progress.wait()
            except TimeoutError:
                pass
        if str(writer) in run.info.peers and self._primary_dead(run):
            # The run's last live writers are its peers: one of them goes on with it (maybe this
            # one), so the run ends at the last finish, not at a crash the watch has yet to see.
            await self.writer_died(run, run.info.primary_writer)
        durable = run.held(writer)
        journal_path = run.journal(writer)
        primary = writer == run.info.primary_writer
        if primary and (heir := await self._heir(run)) is not None:
            # No await between finding the heir alive and passing it the run (its finish may come).
            self._pass_run(run, heir, f"writer {writer} finished")
            primary = False
        if not primary:
            run.ended_writers.add(writer)
            run.info.peers.pop(str(writer), None)
            await asyncio.to_thread(run.sync_blocking)
            if run.broken:
                raise run.broken
            if journal_path:
                await self._forget_journal(run, writer, journal_path)
            else:
                self._save(run.current_info())
            return durable
        state = finish.state if finish.state != pb.RUN_STATE_UNSPECIFIED else pb.FINISHED
        if state == pb.RUNNING:
            state = pb.FINISHED
        done = pb.Finish()
        done.CopyFrom(finish)
        done.state = state
        done.finish_time_ms = done.finish_time_ms or now_ms()
        await self._close_run(run, pb.Record(time_ms=now_ms(), writer=writer, finish=done))
        if journal_path:
            await self._forget_journal(run, writer, journal_path)
        return durable

    async def _forget_journal(self, run: ActiveRun, writer: int, path: str) -> None:
        """A writer finished: its journal holds nothing the file does not (its client deletes it
        too; whoever is first)."""
        run.info.journals.pop(str(writer), None)
        self._save(run.current_info())
        await asyncio.to_thread(remove_journal, path)

    async def _heir(self, run: ActiveRun) -> int | None:
        """The peer the run passes to when its primary writer ends: the lowest writer id whose
        process lives, found with no await after its check. Dead peers are settled on the way."""
        for writer, (pid, started) in sorted(run.info.peers.items(), key=lambda item: int(item[0])):
            if int(writer) in run.ended_writers:
                continue  # being settled (`_peer_died`)
            if process_alive(int(pid), started):
                return int(writer)
            await self._peer_died(run, int(writer))
        return None

    def _pass_run(self, run: ActiveRun, heir: int, why: str) -> None:
        """The peer `heir` becomes the primary writer: the run ends at its finish (or crash)."""
        pid, started = run.info.peers.pop(str(heir))
        log.info("run %s: %s; its peer, writer %d (pid %d), goes on with it", run.run_id, why, heir, pid)
        run.info.primary_writer = heir
        run.info.pid, run.info.pid_started = int(pid), started

    async def _peer_died(self, run: ActiveRun, writer: int) -> None:
        """A peer's process is gone without FinishRun: the rows its journal holds past what it
        streamed are appended (as at a crash), and the run goes on without it."""
        if writer in run.ended_writers:
            return
        run.ended_writers.add(writer)  # from here none of its Stream appends lands
        pid = run.info.peers[str(writer)][0]
        log.warning("run %s: writer %d (a peer, pid %d) exited without finishing", run.run_id, writer, pid)
        await self._read_dead_journal(run, writer)
        run.info.peers.pop(str(writer), None)
        self._save(run.current_info())

    async def writer_died(self, run: ActiveRun, writer: int) -> None:
        """The crash watch found `writer`'s process gone (`dead_writers`): a peer is settled; the
        primary's run passes to a live peer, then its journal is read; else the run CRASHED."""
        if run.closing or writer in run.ended_writers:
            return
        if writer != run.info.primary_writer:
            await self._peer_died(run, writer)
            return
        pid = run.info.pid
        heir = await self._heir(run)
        if run.closing or writer in run.ended_writers or writer != run.info.primary_writer:
            return  # settled while dead peers were (a resume took the run over, say)
        if heir is None:
            await self.finish_crashed(run, f"process {pid} exited without finishing the run")
            return
        run.ended_writers.add(writer)
        self._pass_run(run, heir, f"writer {writer} (pid {pid}) exited without finishing")
        await self._read_dead_journal(run, writer)
        self._save(run.current_info())

    async def _read_dead_journal(self, run: ActiveRun, writer: int) -> None:
        """Append the rows of a dead writer's journal past what the file holds, then delete the
        journal (kept if its rows could not be written) and forget it."""
        path = run.journal(writer)
        if not path:
            return
        try:
            keep = not await self._journal_tail(run, writer, path)
        except Exception:  # a bug here must not keep the run from going on (or ending)
            log.exception("run %s: reading writer %d's journal %s failed", run.run_id, writer, path)
            keep = True
        run.info.journals.pop(str(writer), None)
        if not keep:
            await asyncio.to_thread(run.sync_blocking)  # its rows are durable before it goes
            if not run.broken:
                await asyncio.to_thread(remove_journal, path)

    async def finish_crashed(self, run: ActiveRun, error: str) -> None:
        """The primary writer died without FinishRun: the rows its journal holds past what it
        streamed (docs/journal.md), then Finish{CRASHED} as a daemon record."""
        log.warning("run %s: %s; marking CRASHED", run.run_id, error)
        # From here no Stream append lands (append_batch checks `closing`, with no await between
        # that check and the write): the journal position the file holds is final while we read.
        run.closing = RunState.CRASHED
        try:
            await self._read_dead_journal(run, run.info.primary_writer)
        finally:  # closing is set: the run ends whatever became of the read
            finish = pb.Finish(state=pb.CRASHED, error=error, finish_time_ms=now_ms(), exit_code=-1)
            await self._close_run(run, pb.Record(time_ms=now_ms(), writer=DAEMON_WRITER, finish=finish))

    async def _journal_tail(self, run: ActiveRun, writer: int, path: str) -> bool:
        """Append the rows of `writer`'s journal past the range the file holds, with KeyDefs for
        the keys among them the writer never defined. False if the file is to be kept: the rows
        could not be written (it is still there for a person to look at), or it is no journal (a
        path a copied folder names may be anyone's file: only a journal is deleted)."""
        start = run.journal_end(writer)
        tail = await asyncio.to_thread(journal.read_tail, path, start)
        if tail.why_not:
            kept = "" if tail.is_journal else " (kept: not a journal, so not ours to delete)"
            log.warning("run %s: writer %d's journal not read: %s%s", run.run_id, writer, tail.why_not, kept)
            return tail.is_journal
        decoded = tail.decoded
        known = run.keys.get(writer, {})
        new_keys: dict[int, pb.KeyDef] = {}
        for key in decoded.keys:
            if key.id not in known and key.id not in new_keys and key.name:
                new_keys[key.id] = key
        undefined = {k for k in decoded.key_ids if k not in known and k not in new_keys}
        bad = decoded.unstorable()
        if undefined or bad:
            # Never from our client (KEY entries come before the rows that use them, times are
            # time.time()): dropped, since no metric could be named or no record hold them.
            log.warning(
                "run %s: writer %d's journal has %d rows of bad steps or times and uses key ids %s it never "
                "defined; those rows and values are dropped",
                run.run_id,
                writer,
                len(bad),
                sorted(undefined)[:10],
            )
            drop_rows(decoded, set(bad), undefined)
        seq = run.held(writer) + 1
        records: list[pb.Record] = []
        if new_keys:
            when = decoded.time_ms() or now_ms()
            keydefs = pb.KeyDefs(keys=new_keys.values())
            records.append(pb.Record(time_ms=when, writer=writer, client_seq=seq, keys=keydefs))
            seq += 1
        records += journal.tail_records(decoded, writer, seq, TAIL_RECORD_VALUES)
        if not records:
            return True
        try:
            self._write(run, records)
        except (DiskFull, StorageFailure) as exc:
            log.error("run %s: the rows of writer %d's journal %s were not written: %s", run.run_id, writer, path, exc)
            return False
        self.events.appended(run.run_id)
        log.warning(
            "run %s: %d rows its writer %d did not stream read from its journal (positions %d to %d)",
            run.run_id,
            len(decoded.steps),
            writer,
            start,
            decoded.end,
        )
        return True

    async def _close_run(self, run: ActiveRun, finish_record: pb.Record) -> None:
        try:
            await self._close(run, finish_record)
        finally:
            run.close_done.set()  # a resume waiting on this close goes on (`_resume`)
            run.close_done = asyncio.Event()

    async def _close(self, run: ActiveRun, finish_record: pb.Record) -> None:
        state = RunState.of(finish_record.finish.state)
        run.closing = state
        try:
            self._write(run, [finish_record])
        except DiskFull as exc:
            if finish_record.writer != DAEMON_WRITER:
                run.closing = None  # the run stays open: its client's retry finishes it once space is freed
                raise
            # Finish{CRASHED}: nobody would retry it. The run ends CRASHED in the state DB, without it.
            run.broken = StorageFailure(run.run_id, run.path, f"its Finish record was not written: {exc}")
        except StorageFailure:
            pass
        await asyncio.to_thread(run.close_blocking)
        self.active.pop(run.run_id, None)
        run.info.state = state
        run.info.finished_ms = finish_record.finish.finish_time_ms
        self.publish(run)
        self.events.ended(run.run_id)
        if run.broken:
            raise run.broken
        log.info("run %s %s: %d records, %d bytes", run.run_id, state, run.records, run.size)

    def dead_writers(self) -> list[tuple[ActiveRun, int]]:
        """(run, writer) for each primary writer and peer of an active run whose process is gone
        (the crash watcher's question; `writer_died` is its answer).

        Only pids we saw alive at StartRun are watched (their start time): a client in another
        pid namespace (a container sharing the socket) sends a pid we cannot check.
        """
        found = []
        for run in self.active.values():
            if run.closing:
                continue
            if self._primary_dead(run):
                found.append((run, run.info.primary_writer))
            found += [
                (run, int(w)) for w, (pid, started) in run.info.peers.items() if not process_alive(int(pid), started)
            ]
        return found

    def unsettled(self) -> list[RunInfo]:
        """RUNNING runs we do not hold (a client wrote the file itself) whose writer is gone."""
        found = []
        for run_id in list(self._unsettled):
            info = self.state.get_run(run_id)
            if info is None or info.state != RunState.RUNNING or run_id in self.active:
                self._unsettled.discard(run_id)
            elif run_id not in self._activating and not (info.pid and process_alive(info.pid, info.pid_started)):
                found.append(info)
        return found

    # -- fsync and shutdown ------------------------------------------------------------------

    def publish(self, run: ActiveRun) -> None:
        """Write an active run's entry with its live counts and file error to the state DB."""
        self._save(run.current_info())

    def _save(self, info: RunInfo) -> None:
        """Write a run's entry; if the state DB's disk is full, keep it for the next group commit."""
        try:
            self.state.put_run(info)
        except DiskFull as exc:
            if self.state_full is None:
                log.error("%s (runs' state kept in memory meanwhile)", exc)
            self.state_full = exc
            self._unsaved[info.run_id] = info
            return
        self._unsaved.pop(info.run_id, None)
        if self.state_full is not None and not self._unsaved:
            log.info("the state DB takes writes again; every run's state is saved")
            self.state_full = None

    async def fsync(self, run: ActiveRun) -> None:
        """fsync one run now (fsync="always", before an ack); raises its StorageFailure."""
        await asyncio.to_thread(run.sync_blocking)
        if run.broken:
            self.publish(run)
            raise run.broken

    async def sync_dirty(self) -> None:
        """Group commit: fsync every run written since the last round."""
        for run in list(self.active.values()):
            if run.dirty and not run.broken:
                run.dirty = False
                await asyncio.to_thread(run.sync_blocking)
                # Persist the counts too, so ls (even with the daemon down) and the uploader see them.
                self.publish(run)
        self._save_unsaved()

    def _save_unsaved(self) -> None:
        """Try again to write the entries the state DB could not take."""
        for run_id, info in list(self._unsaved.items()):
            holder = self.active.get(run_id)
            self._save(holder.current_info() if holder is not None else info)

    async def close_all(self) -> None:
        """Shutdown: fsync and close every file; runs stay RUNNING (their clients reconnect).

        StartRuns and reopenings under way finish first (their callers are gone by now): a file
        they open after this point would stay open and locked until the process exits.
        """
        while under_way := [*self._starting.values(), *self._activating.values()]:
            await asyncio.wait(under_way)
        for run in list(self.active.values()):
            await asyncio.to_thread(run.close_blocking)
            self.active.pop(run.run_id, None)
            self.publish(run)
        self._save_unsaved()  # what is still unsaved after this is recovered from the files at the next start

    # -- summaries ---------------------------------------------------------------------------

    def infos(self) -> Iterable[RunInfo]:
        """Every known run, with live counts for active ones; a damaged entry as its stand-in (ls says why)."""
        for info in self.state.runs():
            run = self.active.get(info.run_id)
            current = run.current_info() if run is not None else self._unsaved.get(info.run_id, info)
            if info.run_id in self._unsaved and self.state_full is not None and not current.last_error:
                current = replace(current, last_error=str(self.state_full))
            yield current
        yield from self.state.damaged_runs()


def check_journal(path: str) -> None:
    """RequestError unless `path` is an absolute path to a regular file (not a symlink) of this
    daemon's user: a writer's journal, which the daemon reads after the writer's death and then
    deletes. Blocking (a worker thread)."""
    if not os.path.isabs(path) or "\0" in path:
        raise RequestError(f"StartRun: journal {path!r} must be an absolute path")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise RequestError(f"StartRun: journal {path!r} cannot be opened (a symlink?): {exc.strerror}") from None
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(st.st_mode):
        raise RequestError(f"StartRun: journal {path!r} is not a regular file")
    if st.st_uid != os.getuid():
        raise RequestError(f"StartRun: journal {path!r} belongs to uid {st.st_uid}, not the daemon's {os.getuid()}")


def remove_journal(path: str) -> None:
    """Delete a writer's journal (blocking); gone already is fine. Only a file with a journal's
    header is deleted: a path a copied run folder names may be any file of this user's."""
    try:
        with open(path, "rb", opener=_open_nofollow) as f:
            journal.read_header(f)
        os.unlink(path)
    except FileNotFoundError:
        pass
    except journal.JournalError as exc:
        log.warning("not deleting %s, named as a writer's journal: it is %s", path, exc)
    except OSError as exc:
        log.warning("cannot delete the journal %s: %s", path, exc)


def _open_nofollow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)


def _read_journal_header(path: Path) -> tuple[journal.Header, int] | None:
    """The header of the journal at `path` and the file's mtime (ms); None if it is not a
    regular file of this user with a journal's header (or is gone). Blocking."""
    try:
        with open(path, "rb", opener=_open_nofollow) as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
                return None
            return journal.read_header(f), int(st.st_mtime * 1000)
    except (OSError, journal.JournalError):
        return None


def _read_journal_start(path: Path, head: journal.Header) -> bytes:
    """The run's start after the journal's ring (`journal.read_start`). Blocking."""
    with open(path, "rb", opener=_open_nofollow) as f:
        data = journal.read_start(f, head)
    if not data:
        raise journal.JournalError("no run start")
    return data


def _names_file(named: Iterable[str], path: Path) -> bool:
    """One of the paths `named` is the file at `path` (the client and the daemon may spell the
    socket's folder differently). Blocking."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    for other in named:
        try:
            o = os.stat(other)
        except OSError:
            continue
        if (o.st_dev, o.st_ino) == (st.st_dev, st.st_ino):
            return True
    return False


def sweep_journals(directory: Path, named: Iterable[str]) -> None:
    """At daemon start (blocking), after `RunStore.orphan_journals`: delete the journals in
    `directory` (the clients' `<socket dir>/journals/`) that no run names and whose writer
    process is gone (a journal of another boot counts as gone): those a daemon or a fallback
    folder had the run of (STARTED), and those with no run start. A journal a run names is the
    crash watch's or adoption's to read; one of this boot with a run start and no STARTED flag is
    `orphan_journals`'. Files there that are not journals of this user's are left alone, named in
    one line."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("cannot list the journals in %s: %s", directory, exc)
        return
    keep = set()
    for named_path in named:
        try:
            st = os.stat(named_path)
        except OSError:
            continue
        keep.add((st.st_dev, st.st_ino))
    others = []
    for name in names:
        path = directory / name
        try:
            with open(path, "rb", opener=_open_nofollow) as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
                    raise journal.JournalError("not a regular file of this user")
                head = journal.read_header(f)
        except (OSError, journal.JournalError):
            others.append(name)
            continue
        if (st.st_dev, st.st_ino) in keep:
            continue
        if head.this_boot() and head.start_bytes and not head.started:
            # No daemon had its run: `orphan_journals` made it, or keeps the file (a live writer,
            # a start that does not parse, a run that could not be made yet).
            continue
        if not head.this_boot():
            why = "written before this boot"
        elif started_before(head.pid, int(st.st_mtime * 1000)):
            continue  # its writer lives (it started before the file was last written)
        else:
            why = f"its process {head.pid} is gone"
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot delete the leftover journal %s: %s", path, exc)
            continue
        log.info("deleted the leftover journal %s: %s and no run names it", path, why)
    if others:
        shown = ", ".join(others[:10]) + (f" and {len(others) - 10} more" if len(others) > 10 else "")
        log.warning("%d files in %s are not journals of this user; left alone: %s", len(others), directory, shown)


def drop_rows(decoded: journal.Decoded, rows: set[int], key_ids: set[int]) -> None:
    """Take rows `rows` out of `decoded`, and the scalars of `key_ids` out of the rest."""
    ends = decoded.row_ends or []
    out = journal.Decoded(end=decoded.end, keys=decoded.keys, row_ends=[])
    assert out.row_ends is not None
    i = 0
    for r, size in enumerate(decoded.row_sizes):
        if r not in rows:
            row = zip(decoded.key_ids[i : i + size], decoded.values[i : i + size], strict=True)
            kept = [(k, v) for k, v in row if k not in key_ids]
            out.steps.append(decoded.steps[r])
            out.times.append(decoded.times[r])
            out.row_sizes.append(len(kept))
            out.key_ids += [k for k, _ in kept]
            out.values += [v for _, v in kept]
            out.row_ends.append(ends[r])
        i += size
    decoded.steps, decoded.times, decoded.row_sizes = out.steps, out.times, out.row_sizes
    decoded.key_ids, decoded.values, decoded.row_ends = out.key_ids, out.values, out.row_ends


def _writer_alive(info: RunInfo) -> bool:
    """The run's primary writer lives: the process of its recorded start time, or else one that
    started before the run did (so it can be the one that wrote it)."""
    if info.pid_started:
        return process_alive(info.pid, info.pid_started)
    return started_before(info.pid, info.created_ms)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _grew(info: RunInfo) -> bool:
    """An ended run's file is larger than its entry says: written to since it ended. (A smaller
    one lost its tail: the uploader reports that, and no writer may append to it.)"""
    return _size(Path(info.run_dir) / backup.BACKUP_FILENAME) > info.backup_bytes
