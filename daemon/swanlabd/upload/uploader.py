"""One run's upload: `RunUploader`, started and stopped by the `Uploader` (registry.py; docs/upload.md).

    RunUploader (one asyncio task per run with uploading on, plus one per lane)
      setup      RunStart -> login -> project get/create -> experiment(cuid = run id)
                 -> server summaries when the experiment already existed (resume)
      lanes      profile | scalar0-3 | console | media | files : each reads the backup from its own
                 cursor, builds a batch (batches.py), sends it, advances its cursor after the
                 server accepted it
      heartbeat  at start, then every 10 min while the run lives or has a backlog
      finisher   all lanes at end of file, run ended -> PUT state -> complete

The unit that flows is a batch of at most 10,000 metric items built straight from the file:
nothing waits in memory, the backup file is the queue. A lane never blocks another: each has
its own cursor, its own retry loop and its own error. Every HTTP request holds two FIFO
semaphores: its run's (`Tuning.per_run_inflight`, 4) and its api host's (`Tuning.max_inflight`,
8, hosts.py), so a run with a huge backlog or slow answers leaves half of a host's slots to the
others.

Retry: forever, as retry.py's policy says; 401 logs in again (cloudapi). A 4xx that rejects
data is recorded in the run's upload state (`swanlabctl status`/`ls` show it) and the lane
moves on; a 4xx on setup (project, experiment, login with a wrong key) blocks the run until the
user acts, shown the same way. After any failure where the server may have stored the data
(`maybe_committed`), the next batch first asks the server's summaries, so a retried batch skips
what the server has.

No task dies silently: every step, every lane's and the heartbeat's loop, the finisher and the
upload as a whole run under `_retry`, so an exception nobody expected (a bug) is logged with its
traceback, shown as the run's error, blocks it (`sync` stops waiting and says why) and is tried
again after a backoff, until it passes.

A RunUploader hears of its run from the `Uploader` (registry.py), which hears it from storage (RunEvents):
`wake()` when the file grew, `set_running(False)` when the run ended. Whether the run is still
being written is read from the state DB once, when the uploader is made.

All on the daemon's event loop; not thread-safe.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import mimetypes
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

from swanlabd.format import backup
from swanlabd.format.runstate import RunState
from swanlabd.local.credentials import resolve_hosts
from swanlabd.storage.state import State
from swanlabd.upload import batches, retry, uploadstate
from swanlabd.upload.batches import LANES, MEDIA_BATCH, SCALAR, Batch, KeyTable, media_type
from swanlabd.upload.cloudapi import MAX_METRICS_PER_CALL, CloudAPI, Rejected
from swanlabd.upload.hosts import Hosts
from swanlabd.upload.retry import NeedsUser
from swanlabd.upload.stepset import StepSet
from swanlabd.upload.tuning import Tuning
from swanlabd.upload.uploadstate import LossRecorder, Rejection, UploadState
from swanlabd_pb import records_pb2 as pb

log = logging.getLogger(__name__)

__all__ = ["MissingCredentials", "MissingRunStart", "RunUploader"]

T = TypeVar("T")

# The SDK uploads files of this size and more in parts (prepare-multipart); not done here yet.
MULTIPART_BYTES = 100 * 1024 * 1024
# The SDK's preset experiment colours, picked by the project's experiment count.
PRESET_COLORS = (
    "#528d59",
    "#587ad2",
    "#c24d46",
    "#9cbe5d",
    "#6ebad3",
    "#dfb142",
    "#6d4ba4",
    "#8cc5b7",
    "#892d58",
    "#40877c",
    "#d0703c",
    "#d47694",
    "#e3b292",
    "#b15fbb",
    "#905f4a",
    "#989fa3",
)


class MissingCredentials(NeedsUser):
    """The run has no API key: neither its script nor `swanlabctl sync` gave one."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"run {run_id}: no SwanLab API key; run `swanlabctl login` or set SWANLAB_API_KEY, then `swanlabctl sync`"
        )


class MissingRunStart(NeedsUser):
    """The backup file has no RunStart record (yet): nothing to name the experiment by."""

    def __init__(self, run_id: str, path: Path) -> None:
        super().__init__(f"run {run_id}: {path} has no RunStart record yet")


class _Shrink(Exception):
    """A 413: read the batch again with the smaller limit now set."""


class RunUploader:
    """Uploads one run; see the module docstring for its tasks.

    `running`: the run is still being written (its state when the `Uploader` made this RunUploader).
    """

    def __init__(
        self, run_id: str, run_dir: Path, *, state: State, hosts: Hosts, tuning: Tuning, running: bool
    ) -> None:
        self.run_id = run_id
        self.run_dir = run_dir
        self.path = run_dir / backup.BACKUP_FILENAME
        self.state = state
        self.hosts = hosts
        self.tuning = tuning
        self.running = running
        self.st = uploadstate.load(state, run_id, run_dir)
        self.api: CloudAPI | None = None
        self.keys = KeyTable.from_stored(self.st.keys)
        # scalar key -> the steps sent in this upload (kept in memory: after a restart, records
        # the lanes may have sent are told by `sent_seqs`, and only steps above the server's go)
        self.sent_steps: dict[str, StepSet] = {}
        # Where the file ended when this upload set up an experiment that existed: records before
        # it may have gone up in an earlier upload (a daemon restart) whatever `sent_seqs` says,
        # (a state saved before a full disk or a crash can lag), so only their steps above the
        # server's go up. 0 for an experiment this upload created.
        self.doubt_end = 0
        self.wakeups = {lane: asyncio.Event() for lane in LANES}
        self.idle = {lane: False for lane in LANES}
        # lane -> the file size when its last read began, recorded when that read hit the end
        self.eof_size: dict[str, int] = {}
        self._read_size: dict[str, int] = {}
        self.idle_changed = asyncio.Event()
        self.kicked = asyncio.Event()
        self.errors: dict[str, str] = {}
        self._blocked: set[str] = set()  # steps whose latest failure only the user (or a fix) can end
        self.need_summary = False
        self.max_seq = 0
        self.complete = False
        self.limits = {lane: MAX_METRICS_PER_CALL for lane in LANES}
        self.limits["media"] = MEDIA_BATCH
        self.gate = asyncio.Semaphore(tuning.run_inflight)
        self._json_saved = 0.0
        self._reported_losses: set[int] = set()
        self.task: asyncio.Task[None] | None = None
        # Counts resumes: a final state sent for an earlier part must not end the upload of a later one.
        self.part = 0
        # Lanes send only while set: from setup until the final state goes (a part resumed
        # meanwhile waits for the setup that reopens the experiment; the cloud refuses data
        # for a finished one, 409).
        self.open = asyncio.Event()
        if running:
            self._reopened()
        info = state.get_run(run_id)
        # Converted from another tool's files: points the experiment holds already were uploaded
        # from the same source (by that tool, or an earlier sync), so skipping them loses nothing.
        self.foreign = bool(info and info.source)
        if info is not None and info.cut_tail:
            # Cut off when the folder was adopted: the file reads whole now, but that tail is lost.
            offset, nbytes, last_seq = info.cut_tail
            LossRecorder(self.st, self._reported_losses).torn(offset, nbytes, last_seq)

    # -- public face -----------------------------------------------------------------------

    def wake(self) -> None:
        """The file grew (or may have): idle lanes read again."""
        for event in self.wakeups.values():
            event.set()

    def kick(self) -> None:
        """Retry now: cut the current backoff short (`swanlabctl sync`).

        Not blocked until that retry fails again: what blocked it (a missing or wrong key) may be
        what the caller just changed, and `Uploader.sync` stops waiting for a blocked run.
        """
        self._blocked.clear()
        self.kicked.set()
        self.wake()

    def set_running(self, running: bool) -> None:
        """The run ended (False), or was resumed (True): the finisher waits only for a running run."""
        self.running = running
        if running:
            self._reopened()
        self.wake()

    def _reopened(self) -> None:
        """A running run has no final state yet: one read or sent before it was resumed is history.

        Setup makes the experiment again, which reopens it on the cloud; the new Finish record
        is then sent as the state, as for a run that never ended. An upload that was ending
        (its final state on the way) goes on instead (`run`).
        """
        self.part += 1
        if self.st.finish_state:
            self.st.floor_steps = None  # resumed after it ended: setup takes where the experiment is
        self.st.finish_state, self.st.finish_ms, self.st.finish_sent = 0, 0, ""
        self.complete = self.st.complete = False

    @property
    def error(self) -> str:
        for where in ("upload", "setup", *LANES, "finisher", "state", "heartbeat"):
            if self.errors.get(where):
                return self.errors[where]
        return self.st.last_rejection

    @property
    def blocked(self) -> bool:
        """The upload waits for the user (or a fixed daemon); a failing heartbeat holds up nothing."""
        return bool(self._blocked - {"heartbeat"})

    @property
    def uploaded_bytes(self) -> int:
        """The lowest lane cursor; the whole file once every lane read to its end.

        (Damaged bytes at the very end of a file are reported, not read: a cursor stops before
        them, yet nothing is left to upload.)
        """
        if self.caught_up(self._file_size()):
            return self._file_size()
        return min((self.st.cursor(lane).offset for lane in LANES), default=0)

    def caught_up(self, target: int) -> bool:
        """Every lane idle after reading the file to its end, the file then at least `target` bytes."""
        return all(self.idle.values()) and all(self.eof_size.get(lane, -1) >= target for lane in LANES)

    @property
    def uploaded_seq(self) -> int:
        return min((self.st.cursor(lane).seq for lane in LANES), default=0)

    # -- the run's life --------------------------------------------------------------------

    async def run(self) -> None:
        """Upload until complete, then return (the uploader cancels it at shutdown)."""
        try:
            while not self.complete:  # again after a resume that came while the upload ended
                await self._retry("upload", self._attempt)
        finally:
            await self._end_session()

    async def _attempt(self) -> None:
        if (
            self.st.complete
            and self.st.uploaded_bytes >= self._file_size()
            and not self.running
            and self._target_host() == self.st.api_host
        ):
            self.complete = True  # uploaded there before and nothing new since: not one request
            return
        try:
            self.st.complete = False
            await self._retry("setup", self._setup)
            loops = {lane: functools.partial(self._lane, lane) for lane in LANES} | {"heartbeat": self._heartbeat}
            tasks = [
                asyncio.create_task(self._retry(where, loop), name=f"fwd-{self.run_id}-{where}")
                for where, loop in loops.items()
            ]
            try:
                await self._retry("finisher", self._finisher)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self.save(json_too=True)

    async def _setup(self) -> None:
        start = self._read_run_start()
        cloud = self.state.get_cloud(self.run_id) or {}
        if not cloud.get("api_key"):
            raise MissingCredentials(self.run_id)
        api_host, web_host = resolve_hosts(cloud.get("api_host") or None, cloud.get("web_host") or None)
        if self.st.api_host and self.st.api_host != api_host:
            log.info(
                "run %s: uploading to %s now (was %s): starting over there", self.run_id, api_host, self.st.api_host
            )
            self.st = UploadState(run_id=self.run_id, keys=self.st.keys)
        self.st.api_host, self.st.web_host = api_host, web_host
        if self.api is None or self.api.api_host != api_host:
            await self._end_session()
            client, host_gate = self.hosts.acquire(api_host)
            self.api = CloudAPI(client, api_host, cloud["api_key"], gates=(self.gate, host_gate))
        await self.api.login()
        overrides = self.state.get_upload_on(self.run_id) or {}
        workspace = overrides.get("workspace") or start.workspace or self.st.workspace or self.api.username
        project_name = overrides.get("project") or start.project or self.st.project or "swanlabd"
        project = await self.api.get_or_create_project(workspace, project_name, start.visibility or "PRIVATE")
        experiment = await self.api.create_experiment(
            project.username,
            project.name,
            cuid=self.run_id,
            name=start.experiment_name or self.st.experiment_name or self.run_id,
            created_at_ms=start.start_time_ms or int(time.time() * 1000),
            color=start.colors[0] if start.colors else PRESET_COLORS[project.experiments % len(PRESET_COLORS)],
            description=start.description,
            tags=list(start.tags),
            job_type=start.job_type,
            group=start.group,
        )
        self.st.workspace, self.st.project, self.st.project_cuid = project.username, project.name, project.cuid
        self.st.experiment_cuid, self.st.experiment_name = experiment.cuid, experiment.name
        self.st.experiment_created_ms = self.st.experiment_created_ms or start.start_time_ms
        if experiment.created:
            # The server has nothing of this run (a first upload, or a server that lost it).
            self.st.cursors, self.st.last_steps, self.st.columns, self.st.finish_sent = {}, {}, [], ""
            self.st.floor_steps = {}
            self.doubt_end = 0
        else:
            self.doubt_end = self._file_size()
            await self._refresh_summary()
            if self.st.floor_steps is None:
                # Resumed (or first uploaded here, with the experiment begun elsewhere): the
                # official SDK sends nothing at or below the steps the experiment holds.
                self.st.floor_steps = {kind: dict(steps) for kind, steps in self.st.last_steps.items()}
        self.save(json_too=True)
        self.open.set()
        log.info(
            "run %s: uploading to %s as %s/%s/%s",
            self.run_id,
            api_host,
            project.username,
            project.name,
            experiment.cuid,
        )

    def _read_run_start(self) -> pb.RunStart:
        for rec, _ in backup.read_records(self.path, 0):
            if rec.WhichOneof("kind") == "run_start":
                return rec.run_start
        raise MissingRunStart(self.run_id, self.path)

    def _session(self) -> CloudAPI:
        assert self.api is not None, "setup makes the session before anything else runs"
        return self.api

    async def _end_session(self) -> None:
        """Give the session's host back (hosts.py closes its client when no run uses it)."""
        if self.api is not None:
            api_host, self.api = self.api.api_host, None
            await self.hosts.release(api_host)

    async def _refresh_summary(self) -> None:
        api = self._session()
        summary = await api.summaries(self.st.project_cuid, self.st.experiment_cuid, self.st.experiment_created_ms)
        for kind, steps in summary.items():
            last = self.st.last_steps.setdefault(kind, {})
            for key, step in steps.items():
                # Console lines are one series whatever key the server files them under.
                key = "" if kind == "log" else key
                if step > last.get(key, -1):
                    last[key] = step
        self.need_summary = False

    async def _finisher(self) -> None:
        # The condition first: after a retry, every lane may be idle already (no change to wait for).
        while self.running or not self.caught_up(self._file_size()):
            await self.idle_changed.wait()
            self.idle_changed.clear()
        part = self.part
        self.open.clear()
        if self.st.finish_state and not self.st.finish_sent:
            await self._retry("state", functools.partial(self._send_state, part))
        if part != self.part:
            return  # resumed meanwhile: the cloud may hold it as ended, so `run` sets it up again
        self.complete = self.st.complete = True
        self.errors.pop("heartbeat", None)
        self.save(json_too=True)
        log.info("run %s: upload complete (%d bytes)", self.run_id, self._file_size())

    async def _send_state(self, part: int) -> None:
        api = self._session()
        state = RunState.of(self.st.finish_state)
        name = state if state.final else RunState.FINISHED
        finished = self.st.finish_ms or int(time.time() * 1000)
        await api.set_state(self.st.workspace, self.st.project, self.st.experiment_cuid, name, finished)
        if part == self.part:
            self.st.finish_sent = name

    async def _heartbeat(self) -> None:
        api = self._session()
        while True:
            await self._retry("heartbeat", functools.partial(api.heartbeat, self.st.experiment_cuid))
            await asyncio.sleep(self.tuning.heartbeat_s)

    async def _retry(self, where: str, op: Callable[[], Awaitable[T]]) -> T:
        """`op()` until it returns; each failure shown as `errors[where]` and waited out (retry.py).

        Loops (a lane's, the heartbeat's) run under their step's name too: an exception escaping
        a loop is shown there, and the step's next success clears it.
        """
        attempt = 0
        while True:
            try:
                result = await op()
            except Exception as exc:
                failed = retry.failure(exc, where, attempt, self.tuning.retry, self.path)
                if self.errors.get(where) != failed.message:
                    if failed.bug:
                        log.error("run %s: %s", self.run_id, failed.message, exc_info=exc)
                    else:
                        log.warning("run %s: %s", self.run_id, failed.message)
            else:
                self._blocked.discard(where)
                if self.errors.pop(where, None) is not None:
                    log.info("run %s: %s recovered", self.run_id, where)
                return result
            if failed.maybe_committed:
                self.need_summary = True
            self.errors[where] = failed.message
            if failed.blocked:
                self._blocked.add(where)
            else:
                self._blocked.discard(where)
            attempt += 1
            self.kicked.clear()
            try:
                await asyncio.wait_for(self.kicked.wait(), failed.delay)
                attempt = 0
            except TimeoutError:
                pass

    # -- lanes -----------------------------------------------------------------------------

    async def _lane(self, lane: str) -> None:
        steps: dict[str, Callable[[], Awaitable[bool]]] = {
            "profile": self._profile_step,
            "console": self._console_step,
            "media": self._media_step,
            "files": self._files_step,
            **{name: functools.partial(self._scalar_step, name, i) for i, name in enumerate(SCALAR)},
        }
        step = steps[lane]
        while True:
            await self.open.wait()
            full = await self._retry(lane, step)
            if full:
                await asyncio.sleep(0)  # let other runs' lanes take their turn
                continue
            self.eof_size[lane] = self._read_size.get(lane, 0)
            self.idle[lane] = True
            self.idle_changed.set()
            self.save(json_too=False)
            try:
                await asyncio.wait_for(self.wakeups[lane].wait(), self.tuning.poll_s)
            except TimeoutError:
                pass
            self.wakeups[lane].clear()
            self.idle[lane] = False
            if self.running:
                await asyncio.sleep(self.tuning.linger_s)  # let a burst of appends make one batch

    def _records(self, lane: str) -> Iterator[tuple[pb.Record, int, int]]:
        """(record, start offset, end offset) from the lane's cursor; KeyDefs and Finish noted on the way."""
        start = self.st.cursor(lane).offset
        self._read_size[lane] = self._file_size()
        losses = LossRecorder(self.st, self._reported_losses)
        reader = backup.BackupReader(self.path, start, losses)
        for rec, end in reader:
            kind = rec.WhichOneof("kind")
            if kind == "keys":
                for k in self.keys.learn(rec):
                    shape = [k.x_axis, k.hidden] if k.x_axis or k.hidden else []
                    self.st.keys[f"{rec.writer}:{k.id}"] = [k.name, k.type, k.section, *shape]
            elif kind == "finish" and rec.seq > self.st.finish_seq:
                # Kept in the upload state: after a restart no lane may read this record again.
                # The latest Finish only (lanes read at their own pace); one after the Finish whose
                # state was sent ends a part resumed since, perhaps while no upload ran: its state
                # is still to be sent.
                self.st.finish_seq, self.st.finish_sent = rec.seq, ""
                self.st.finish_state = rec.finish.state or pb.FINISHED
                self.st.finish_ms = rec.finish.finish_time_ms or rec.time_ms
            if rec.seq > self.max_seq:
                self.max_seq = rec.seq
            yield rec, start, end
            start = end
        if reader.torn_tail is not None and not self.running:
            # A torn tail is a write in progress while the run lives; once it has ended, the
            # records there are lost, and sync and ls must say so rather than "uploaded".
            losses.torn(*reader.torn_tail, self.max_seq)

    async def _maybe_refresh(self) -> None:
        if self.need_summary:
            await self._refresh_summary()

    def _commit(self, lane: str, batch: Batch, kind: str | None) -> None:
        if kind is not None and batch.steps:
            last = self.st.last_steps.setdefault(kind, {})
            for key, step in batch.steps.items():
                if step > last.get(key, -1):
                    last[key] = step
        for key, steps in batch.sent.items():
            self.sent_steps.setdefault(key, StepSet()).update(steps)
        self.st.cursors[lane] = batch.cursor
        self.save(json_too=False)

    def _reject(self, lane: str, exc: Rejected | OSError, batch: Batch, what: str) -> None:
        now_ms = int(time.time() * 1000)
        if isinstance(exc, Rejected):
            rejection = Rejection(
                lane, what, exc.status, exc.code, exc.server_message, exc.traceid, batch.seqs, len(batch.items), now_ms
            )
        else:
            rejection = Rejection(lane, what, 0, type(exc).__name__, str(exc), "", batch.seqs, len(batch.items), now_ms)
        self.st.add_rejection(rejection)
        log.error("run %s: %s", self.run_id, rejection.summary())

    async def _send(self, lane: str, batch: Batch, what: str, call: Callable[[], Awaitable[None]]) -> bool:
        """Send one request of a batch; False if the server rejected it (recorded, batch skipped).

        A 413 on a batch of more than one item halves the lane's batch size instead: raises
        `_Shrink` so the lane reads a smaller batch.
        """
        try:
            await call()
        except Rejected as exc:
            if exc.status == 413 and len(batch.items) > 1:
                self.limits[lane] = max(1, len(batch.items) // 2)
                raise _Shrink() from exc
            self._reject(lane, exc, batch, what)
            return False
        return True

    async def _columns(self, lane: str, batch: Batch) -> None:
        new, series = batches.columns(batch, self.st.columns, self.keys.shapes)
        if not new:
            return
        api, ws, proj = self._session(), self.st.workspace, self.st.project
        await self._send(lane, batch, "columns", lambda: api.post_series(ws, proj, series))
        self.st.columns.extend(new)

    def _skipped(self, lane: str, batch: Batch) -> None:
        """Points the server will not take (it holds their steps) are recorded, never lost in silence."""
        if not batch.skipped or self.foreign:
            return
        count, what = batch.skipped_summary()
        message = (
            f"{what}: the experiment already holds these steps (a resumed run logged steps its earlier "
            "part had, or a step logged twice); the cloud keeps the first value of a step"
        )
        now_ms = int(time.time() * 1000)
        rejection = Rejection(lane, "points", 0, "SKIPPED", message, "", batch.skipped_seqs, count, now_ms)
        self.st.add_rejection(rejection)
        log.warning("run %s: %s", self.run_id, rejection.summary())

    def _sending(self, lane: str, batch: Batch) -> None:
        """Note, before the request, that the batch's records may be on the server from now on."""
        if batch.seqs and batch.seqs[1] > self.st.sent_seqs.get(lane, 0):
            self.st.sent_seqs[lane] = batch.seqs[1]
            self.save(json_too=False)

    async def _send_metrics(self, lane: str, batch: Batch, kind: Literal["scalar", "log"]) -> bool:
        if batch.items:
            self._sending(lane, batch)
            try:
                if kind != "log":
                    await self._columns(lane, batch)
                api, pid, eid, items = self._session(), self.st.project_cuid, self.st.experiment_cuid, batch.items
                await self._send(lane, batch, f"{kind} metrics", lambda: api.post_metrics(kind, pid, eid, items))
            except _Shrink:
                return True
        self._commit(lane, batch, kind)
        return batch.full

    async def _scalar_step(self, lane: str, part: int) -> bool:
        await self._maybe_refresh()
        last = self.st.last_steps.setdefault("scalar", {})
        batch = batches.scalar_batch(
            self._records(lane),
            self.keys,
            part,
            self.st.cursor(lane),
            last,
            self.limits[lane],
            self.st.sent_seqs.get(lane, 0),
            self.sent_steps,
            (self.st.floor_steps or {}).get("scalar", {}),
            self.doubt_end,
        )
        self._skipped(lane, batch)
        return await self._send_metrics(lane, batch, "scalar")

    async def _console_step(self) -> bool:
        await self._maybe_refresh()
        last = self.st.last_steps.setdefault("log", {}).get("", 0)
        batch = batches.console_batch(self._records("console"), self.st.cursor("console"), last, self.limits["console"])
        return await self._send_metrics("console", batch, "log")

    async def _media_step(self) -> bool:
        api = self._session()
        await self._maybe_refresh()
        last = self.st.last_steps.setdefault("media", {})
        batch, media = batches.media_batch(
            self._records("media"),
            self.keys,
            self.st.cursor("media"),
            last,
            self.limits["media"],
            self.st.sent_seqs.get("media", 0),
        )
        self._skipped("media", batch)
        if media:
            self._sending("media", batch)
            try:
                await self._columns("media", batch)
                paths = [m.path for m in media]
                if await self._send("media", batch, "media upload URLs", lambda: self._put_media(paths)):
                    batch.items = batches.media_metrics(media)
                    pid, eid, items = self.st.project_cuid, self.st.experiment_cuid, batch.items
                    await self._send(
                        "media", batch, "media metrics", lambda: api.post_metrics("media", pid, eid, items)
                    )
            except _Shrink:
                return True
            except OSError as exc:
                self._reject("media", exc, batch, "media file")
        self._commit("media", batch, "media")
        return batch.full

    async def _put_media(self, paths: list[str]) -> None:
        api = self._session()
        urls = await api.presign(self.st.experiment_cuid, paths)
        for path, url in zip(paths, urls, strict=True):  # presign checks it got one URL per path
            data = await asyncio.to_thread((self.run_dir / path).read_bytes)
            await api.put_object(url, data, media_type(path))

    async def _files_step(self) -> bool:
        batch, saved = batches.files_batch(self._records("files"), self.st.cursor("files"))
        if saved is not None:
            try:
                await self._send("files", batch, "saved file", functools.partial(self._put_file, saved))
            except OSError as exc:
                self._reject("files", exc, batch, "saved file")
        self._commit("files", batch, None)
        return batch.full

    async def _put_file(self, saved: pb.SavedFile) -> None:
        api = self._session()
        data = await asyncio.to_thread((self.run_dir / saved.path).read_bytes)
        name = saved.path.removeprefix("files/")
        if len(data) >= MULTIPART_BYTES:
            raise Rejected(
                "POST files/prepare",
                413,
                "too_large",
                f"{name}: {len(data)} bytes needs a multipart upload, not supported yet",
                "",
            )
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        entry = {"path": name, "size": len(data), "md5": hashlib.md5(data).hexdigest(), "mimeType": mime}
        (url,) = await api.prepare_files(self.st.experiment_cuid, [entry])
        await api.put_object(url, data, mime)
        await api.complete_files(self.st.experiment_cuid, [{"path": name, "state": "UPLOADED"}])

    async def _profile_step(self) -> bool:
        api = self._session()
        batch, parts = batches.profile_batch(self._records("profile"), self.st.cursor("profile"))
        ws, proj, eid = self.st.workspace, self.st.project, self.st.experiment_cuid
        for kind, value in parts:
            put = functools.partial(api.put_profile, ws, proj, eid, kind, value)
            await self._send("profile", batch, f"profile {kind}", put)
        self._commit("profile", batch, None)
        return batch.full

    # -- state files -----------------------------------------------------------------------

    def save(self, *, json_too: bool) -> None:
        """Cursor to the state DB now; to the run folder's upload-state.json at most once a second."""
        self.st.uploaded_bytes = self.uploaded_bytes
        self.state.put_upload_state(self.st.run_id, self.st.to_json())
        now = time.monotonic()
        if json_too or now - self._json_saved >= 1.0:
            self._json_saved = now
            try:
                uploadstate.write_file(self.run_dir, self.st)
            except OSError as exc:
                log.warning("run %s: cannot write %s: %s", self.run_id, uploadstate.UPLOAD_STATE_FILENAME, exc)

    def _target_host(self) -> str:
        cloud = self.state.get_cloud(self.run_id) or {}
        return resolve_hosts(cloud.get("api_host") or None, cloud.get("web_host") or None)[0]

    def _file_size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0
