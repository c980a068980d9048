"""The forwarder: replays each run's backup file to the SwanLab cloud (docs/forwarder.md).

    Forwarder (one per daemon, an asyncio task)
      RunUploader per run with forwarding on
        setup      RunStart -> login -> project get/create -> experiment(cuid = run id)
                   -> server summaries when the experiment already existed (resume)
        lanes      profile | scalar0-3 | console | media | files : each reads the backup from its own
                   cursor, sends batches (built by batches.py, pure code), advances its cursor
                   after the server accepted them
        heartbeat  at start, then every 10 min while the run lives or has a backlog
        finisher   all lanes at end of file, run no longer RUNNING -> PUT state -> complete

An uploader reads its run's state once, when made; storage then tells the forwarder what
changes (storage/events.py): `appended` wakes the run's lanes, `ended` lets its finisher finish.
Sizes come from the backup file (or the run's RunInfo): nothing here reads the run store.

The unit that flows is a batch of at most 10,000 metric items built straight from the file:
nothing waits in memory, the backup file is the queue. A lane never blocks another: each has
its own cursor, its own retry loop and its own error. Every HTTP request holds two FIFO
semaphores: its run's (`per_run_inflight`, 4) and its api host's (`max_inflight`, 8), so a run
with a huge backlog or slow answers leaves half of a host's slots to the others.

Retry: forever, capped exponential backoff with jitter (`RetryPolicy`); 401 logs in again
(cloudapi); 429 waits Retry-After; a 4xx that rejects data is recorded in the run's upload
state (`swanlabctl status`/`ls` show it) and the lane moves on; a 4xx on setup (project,
experiment, login with a wrong key) blocks the run until the user acts, shown the same way.
After any failure where the server may have stored the data (`maybe_committed`), the next
batch first asks the server's summaries, so a retried batch skips what the server has.

All on the daemon's event loop; not thread-safe.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import mimetypes
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from swanlabd.format import backup
from swanlabd.local.credentials import resolve_hosts
from swanlabd.upload import batches, cloudapi, uploadstate
from swanlabd.upload.batches import LANES, MEDIA_BATCH, SCALAR, Batch, KeyTable
from swanlabd.upload.cloudapi import CloudAPI, CloudError, RateLimited, Rejected, Unauthorized
from swanlabd.upload.uploadstate import Rejection, UploadState
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2

log = logging.getLogger(__name__)

__all__ = ["LANES", "Forwarder", "MissingCredentials", "RetryPolicy", "RunUploader"]

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
STATE_NAMES = {pb.FINISHED: "FINISHED", pb.CRASHED: "CRASHED", pb.ABORTED: "ABORTED"}


class MissingCredentials(Exception):
    """The run has no API key: neither its script nor `swanlabctl sync` gave one."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"run {run_id}: no SwanLab API key; run `swanlabctl login` or set SWANLAB_API_KEY, then `swanlabctl sync`"
        )


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter: attempt n waits U(d/2, d), d = min(cap, base * 2**n).

    `blocked_cap_s` bounds the wait for trouble only the user can fix (a wrong key, a 403 on the
    project): the run keeps trying, slowly, and `swanlabctl sync` wakes it at once.
    """

    base_s: float = 0.5
    cap_s: float = 10.0
    blocked_cap_s: float = 60.0

    def delay(self, attempt: int, *, blocked: bool = False) -> float:
        cap = self.blocked_cap_s if blocked else self.cap_s
        d = min(cap, self.base_s * (2 ** min(attempt, 30)))
        return random.uniform(d / 2, d)


class RunUploader:
    """Uploads one run. Created and driven by `Forwarder`; see the module docstring for its tasks."""

    def __init__(self, fwd: Forwarder, run_id: str, run_dir: Path, *, running: bool) -> None:
        self.fwd = fwd
        self.run_id = run_id
        self.run_dir = run_dir
        self.path = run_dir / backup.BACKUP_FILENAME
        self.running = running
        self.st = fwd.load_state(run_id, run_dir)
        self.api: CloudAPI | None = None
        self.keys = KeyTable.from_stored(self.st.keys)
        self.wakeups = {lane: asyncio.Event() for lane in LANES}
        self.idle = {lane: False for lane in LANES}
        # lane -> the file size when its last read began, recorded when that read hit the end
        self.eof_size: dict[str, int] = {}
        self._read_size: dict[str, int] = {}
        self.idle_changed = asyncio.Event()
        self.kicked = asyncio.Event()
        self.errors: dict[str, str] = {}
        self.blocked = False
        self.need_summary = False
        self.max_seq = 0
        self.complete = False
        self.limits = {lane: cloudapi.MAX_METRICS_PER_CALL for lane in LANES}
        self.limits["media"] = MEDIA_BATCH
        # At most this many of the host's request slots for one run: a run with a huge backlog
        # or slow answers leaves the rest to the others.
        self.gate = asyncio.Semaphore(fwd.per_run_inflight)
        self._json_saved = 0.0
        self._reported_losses: set[int] = set()
        self.task: asyncio.Task[None] | None = None

    # -- public face -----------------------------------------------------------------------

    def wake(self) -> None:
        for event in self.wakeups.values():
            event.set()

    def kick(self) -> None:
        """Retry now: cut the current backoff short (`swanlabctl sync`)."""
        self.kicked.set()
        self.wake()

    def set_running(self, running: bool) -> None:
        """The run ended (False), or was resumed (True): the finisher waits only for a running run."""
        self.running = running
        self.wake()

    @property
    def error(self) -> str:
        for where in ("setup", *LANES, "state", "heartbeat"):
            if self.errors.get(where):
                return self.errors[where]
        return self.st.last_rejection

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
        try:
            if (
                self.st.complete
                and self.st.uploaded_bytes >= self._file_size()
                and not self.running
                and self._target_host() == self.st.api_host
            ):
                self.complete = True  # uploaded there before and nothing new since: not one request
                return
            self.st.complete = False
            await self._retry("setup", self._setup)
            tasks = [asyncio.create_task(self._lane(lane), name=f"fwd-{self.run_id}-{lane}") for lane in LANES]
            tasks.append(asyncio.create_task(self._heartbeat(), name=f"fwd-{self.run_id}-heartbeat"))
            try:
                await self._finisher()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self.save(json_too=True)

    async def _setup(self) -> None:
        start = self._read_run_start()
        cloud = self.fwd.state.get_cloud(self.run_id) or {}
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
            gates = (self.gate, self.fwd.host_gate(api_host))
            self.api = CloudAPI(self.fwd.http_client(api_host), api_host, cloud["api_key"], gates=gates)
        await self.api.login()
        overrides = self.fwd.state.get_forwarding(self.run_id) or {}
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
        else:
            await self._refresh_summary()
        self.save(json_too=True)
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

    async def _refresh_summary(self) -> None:
        assert self.api is not None
        summary = await self.api.summaries(self.st.project_cuid, self.st.experiment_cuid, self.st.experiment_created_ms)
        for kind, steps in summary.items():
            last = self.st.last_steps.setdefault(kind, {})
            for key, step in steps.items():
                # Console lines are one series whatever key the server files them under.
                key = "" if kind == "log" else key
                if step > last.get(key, -1):
                    last[key] = step
        self.need_summary = False

    async def _finisher(self) -> None:
        while True:
            await self.idle_changed.wait()
            self.idle_changed.clear()
            if not self.caught_up(self._file_size()):
                continue
            if self.running:
                continue
            if self.st.finish_state and not self.st.finish_sent:
                await self._retry("state", self._send_state)
            self.complete = self.st.complete = True
            self.errors.pop("heartbeat", None)
            self.save(json_too=True)
            log.info("run %s: upload complete (%d bytes)", self.run_id, self._file_size())
            return

    async def _send_state(self) -> None:
        assert self.api is not None
        name = STATE_NAMES.get(self.st.finish_state, "FINISHED")
        finished = self.st.finish_ms or int(time.time() * 1000)
        await self.api.set_state(self.st.workspace, self.st.project, self.st.experiment_cuid, name, finished)  # type: ignore[arg-type]
        self.st.finish_sent = name

    async def _heartbeat(self) -> None:
        assert self.api is not None
        attempt = 0
        while True:
            try:
                await self.api.heartbeat(self.st.experiment_cuid)
                self.errors.pop("heartbeat", None)
                attempt, delay = 0, self.fwd.heartbeat_s
            except CloudError as exc:
                self.errors["heartbeat"] = f"heartbeat: {exc}"
                delay = self.fwd.retry.delay(attempt)
                attempt += 1
            await asyncio.sleep(delay)

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
            full = await self._retry(lane, step)
            if full:
                await asyncio.sleep(0)  # let other runs' lanes take their turn
                continue
            self.eof_size[lane] = self._read_size.get(lane, 0)
            self.idle[lane] = True
            self.idle_changed.set()
            self.save(json_too=False)
            try:
                await asyncio.wait_for(self.wakeups[lane].wait(), self.fwd.poll_s)
            except TimeoutError:
                pass
            self.wakeups[lane].clear()
            self.idle[lane] = False
            if self.running:
                await asyncio.sleep(self.fwd.linger_s)  # let a burst of appends make one batch

    async def _retry(self, where: str, op: Callable[[], Awaitable[Any]]) -> Any:
        attempt = 0
        while True:
            blocked = False
            try:
                result = await op()
            except RateLimited as exc:
                delay = exc.retry_after if exc.retry_after is not None else self.fwd.retry.delay(attempt)
                message = f"{where}: rate limited by the server, waiting as it asks ({exc.server_message})"
            except (Unauthorized, Rejected, MissingCredentials, MissingRunStart) as exc:
                # Only setup and state get here with a 4xx (lanes record theirs): the user must act.
                blocked = True
                delay = self.fwd.retry.delay(attempt, blocked=True)
                message = f"{where}: {exc}"
            except CloudError as exc:
                if exc.maybe_committed:
                    self.need_summary = True
                delay = self.fwd.retry.delay(attempt)
                message = f"{where}: {exc}; retrying"
            except OSError as exc:
                blocked = True  # the run folder is gone or unreadable: the user must act
                delay = self.fwd.retry.delay(attempt, blocked=True)
                message = f"{where}: cannot read {self.path}: {exc}"
            else:
                if self.errors.pop(where, None) is not None:
                    log.info("run %s: %s recovered", self.run_id, where)
                if where == "setup":
                    self.blocked = False
                return result
            if self.errors.get(where) != message:
                log.warning("run %s: %s", self.run_id, message)
            self.errors[where] = message
            if where == "setup":
                self.blocked = blocked
            attempt += 1
            self.kicked.clear()
            try:
                await asyncio.wait_for(self.kicked.wait(), delay)
                attempt = 0
            except TimeoutError:
                pass

    def _records(self, lane: str) -> Iterator[tuple[pb.Record, int, int]]:
        """(record, start offset, end offset) from the lane's cursor; KeyDefs and Finish noted on the way."""
        start = self.st.cursor(lane).offset
        self._read_size[lane] = self._file_size()
        for rec, end in backup.read_records(self.path, start, reporter=_LossReporter(self)):
            kind = rec.WhichOneof("kind")
            if kind == "keys":
                for k in self.keys.learn(rec):
                    self.st.keys[f"{rec.writer}:{k.id}"] = [k.name, k.type, k.section]
            elif kind == "finish":
                # Kept in the upload state: after a restart no lane may read this record again.
                self.st.finish_state = rec.finish.state or pb.FINISHED
                self.st.finish_ms = rec.finish.finish_time_ms or rec.time_ms
            if rec.seq > self.max_seq:
                self.max_seq = rec.seq
            yield rec, start, end
            start = end

    async def _maybe_refresh(self) -> None:
        if self.need_summary:
            await self._refresh_summary()

    def _commit(self, lane: str, batch: Batch, kind: str | None) -> None:
        if kind is not None and batch.steps:
            last = self.st.last_steps.setdefault(kind, {})
            for key, step in batch.steps.items():
                if step > last.get(key, -1):
                    last[key] = step
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
        new, series = batches.columns(batch, self.st.columns)
        if not new:
            return
        api, ws, proj = self._session(), self.st.workspace, self.st.project
        await self._send(lane, batch, "columns", lambda: api.post_series(ws, proj, series))
        self.st.columns.extend(new)

    async def _send_metrics(self, lane: str, batch: Batch, kind: Literal["scalar", "log"]) -> bool:
        if batch.items:
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
            self._records(lane), self.keys, part, self.st.cursor(lane), last, self.limits[lane]
        )
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
            self._records("media"), self.keys, self.st.cursor("media"), last, self.limits["media"]
        )
        if media:
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
            await api.put_object(url, data)

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
        self.fwd.store_state(self.st)
        now = time.monotonic()
        if json_too or now - self._json_saved >= 1.0:
            self._json_saved = now
            try:
                uploadstate.write_file(self.run_dir, self.st)
            except OSError as exc:
                log.warning("run %s: cannot write %s: %s", self.run_id, uploadstate.UPLOAD_STATE_FILENAME, exc)

    def _target_host(self) -> str:
        cloud = self.fwd.state.get_cloud(self.run_id) or {}
        return resolve_hosts(cloud.get("api_host") or None, cloud.get("web_host") or None)[0]

    def _file_size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


class MissingRunStart(Exception):
    def __init__(self, run_id: str, path: Path) -> None:
        super().__init__(f"run {run_id}: {path} has no RunStart record yet")


class _Shrink(Exception):
    """A 413: read the batch again with the smaller limit now set."""


class _LossReporter:
    """backup.read_records' reporter: damaged bytes become a rejection entry, once per offset."""

    def __init__(self, uploader: RunUploader) -> None:
        self.uploader = uploader

    def lost(self, nbytes: int, reason: str, offset: int, seqs: tuple[int, int] | None) -> None:
        if offset in self.uploader._reported_losses:
            return
        self.uploader._reported_losses.add(offset)
        self.uploader.st.add_rejection(
            Rejection(
                "backup",
                "read",
                0,
                "damaged",
                f"{nbytes} bytes at offset {offset} lost in the backup file: {reason}",
                "",
                seqs,
                0,
                int(time.time() * 1000),
            )
        )


class Forwarder:
    """Uploads every run with forwarding on; the daemon's `forwarder` task (contracts.md seam).

    `enable(run_id)` switches a run on (the daemon calls it for cloud runs; Sync for the rest);
    storage calls `appended` and `ended` (it is the run store's `RunEvents`); `sync(...)` streams
    progress for the Sync RPC; `upload_info(run_id)` feeds status and ls. Which runs are on
    survives restarts (`State.put_forwarding`).
    """

    def __init__(
        self,
        config: Any,
        state: Any,
        *,
        max_inflight: int = 8,
        per_run_inflight: int = 4,
        retry: RetryPolicy | None = None,
        heartbeat_s: float = 600.0,
        poll_s: float = 2.0,
        linger_s: float = 0.1,
        timeout: httpx.Timeout = cloudapi.DEFAULT_TIMEOUT,
    ) -> None:
        self.config = config
        self.state = state
        self.retry = retry or RetryPolicy()
        self.heartbeat_s = heartbeat_s
        self.poll_s = poll_s
        self.linger_s = linger_s
        self.timeout = timeout
        self.max_inflight = max_inflight
        self.per_run_inflight = max(1, min(per_run_inflight, max_inflight))
        self._host_gates: dict[str, asyncio.Semaphore] = {}
        self._uploaders: dict[str, RunUploader] = {}
        self._http: dict[str, httpx.AsyncClient] = {}
        self._stopped = asyncio.Event()
        self._closing = False

    # -- the daemon's side of the seam -------------------------------------------------------

    async def run(self) -> None:
        """Resume every run that was on when the daemon stopped; then serve until shutdown()."""
        for info in list(self.state.runs()):
            on = self.state.get_forwarding(info.run_id) is not None
            if on or (self.config.forward and info.mode == "MODE_CLOUD" and not self._complete(info.run_id)):
                self._start(info.run_id)
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Stop every upload and save its cursors; idempotent."""
        self._closing = True
        tasks = [u.task for u in self._uploaders.values() if u.task is not None and not u.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in self._http.values():
            await client.aclose()
        self._http.clear()
        self._stopped.set()

    def appended(self, run_id: str) -> None:
        """storage.events.RunEvents: the run's file grew."""
        uploader = self._uploaders.get(run_id)
        if uploader is not None:
            uploader.wake()

    def ended(self, run_id: str) -> None:
        """storage.events.RunEvents: the run left RUNNING."""
        uploader = self._uploaders.get(run_id)
        if uploader is not None:
            uploader.set_running(False)

    def enable(
        self, run_id: str, *, cloud: dict[str, str] | None = None, project: str = "", workspace: str = ""
    ) -> None:
        """Forward this run (now and after restarts) until it is uploaded.

        `cloud`: the caller's credentials (`swanlabctl sync`). A run recorded in cloud mode keeps
        the host and key its script resolved; any other run uploads with the caller's.
        """
        info = self.state.get_run(run_id)
        if info is None:
            raise KeyError(run_id)
        if cloud and cloud.get("api_key"):
            own = self.state.get_cloud(run_id)
            if info.mode != "MODE_CLOUD" or not (own and own.get("api_key")):
                self.state.put_cloud(run_id, cloud)
        overrides = {k: v for k, v in (("project", project), ("workspace", workspace)) if v}
        self.state.put_forwarding(run_id, overrides)
        uploader = self._start(run_id)
        if uploader is not None:
            uploader.kick()

    def upload_info(self, run_id: str) -> tuple[int, bool, str, str]:
        """(bytes uploaded, forwarding on, cloud URL, last upload error) for status and ls."""
        uploader = self._uploaders.get(run_id)
        if uploader is not None:
            return uploader.uploaded_bytes, not uploader.complete, uploader.st.cloud_url(), uploader.error
        st = self._stored(run_id)
        if st is None:
            return 0, False, "", ""
        return st.uploaded_bytes, False, st.cloud_url(), st.last_rejection

    async def sync(
        self, request: service_pb2.SyncRequest, run_ids: list[str]
    ) -> AsyncIterator[service_pb2.SyncProgress]:
        """Switch runs on (every queued run if none named) and stream their progress.

        A run is done when everything the file held when sync began is on the server (and its
        final state, if it has finished). With `request.wait` false, one message per run and
        return. The stream ends when every run is done or blocked (needs the user: a missing or
        wrong key, a refused project); a blocked run's message carries the reason.
        """
        cloud = None
        if request.cloud.api_key:
            cloud = {
                "api_host": request.cloud.api_host,
                "web_host": request.cloud.web_host,
                "api_key": request.cloud.api_key,
            }
        ids = run_ids or self.queued_runs()
        targets: dict[str, int] = {}
        for run_id in ids:
            self.enable(run_id, cloud=cloud, project=request.project, workspace=request.workspace)
            targets[run_id] = self._size(run_id)
        sent: dict[str, tuple[Any, ...]] = {}
        while True:
            progress = [self.progress(run_id, targets[run_id]) for run_id in ids]
            for p in progress:
                key = (p.records_done, p.bytes_done, p.done, p.error)
                if sent.get(p.run_id) != key:
                    sent[p.run_id] = key
                    yield p
            if not request.wait or all(p.done or (p.error and self._blocked(p.run_id)) for p in progress):
                return
            await asyncio.sleep(0.2)

    # -- progress and queries --------------------------------------------------------------

    def progress(self, run_id: str, target: int) -> service_pb2.SyncProgress:
        uploader = self._uploaders.get(run_id)
        info = self.state.get_run(run_id)
        # Records counted as `swanlabctl ls` counts them: every record of the file, header included.
        total_records = info.records if info else 0
        if uploader is None:
            st = self._stored(run_id)
            done_bytes = st.uploaded_bytes if st else 0
            return service_pb2.SyncProgress(
                run_id=run_id,
                records_done=total_records if done_bytes >= target else 0,
                records_total=total_records,
                bytes_done=done_bytes,
                bytes_total=target,
                done=done_bytes >= target,
                error=st.last_rejection if st else "",
            )
        total_records = max(total_records, uploader.max_seq + 1)
        done_bytes = uploader.uploaded_bytes
        done = uploader.complete or (
            uploader.caught_up(target) and (not uploader.st.finish_state or bool(uploader.st.finish_sent))
        )
        return service_pb2.SyncProgress(
            run_id=run_id,
            records_done=total_records if done else uploader.uploaded_seq + 1,
            records_total=total_records,
            bytes_done=min(done_bytes, target),
            bytes_total=target,
            done=done,
            error=uploader.error,
        )

    def queued_runs(self) -> list[str]:
        """Runs `swanlabctl sync` flushes with no argument: cloud runs with a backlog, offline runs not uploaded."""
        queued = []
        for info in self.state.runs():
            if info.mode in ("MODE_CLOUD", "MODE_OFFLINE") and not self._complete(info.run_id):
                queued.append(info.run_id)
        return queued

    def _blocked(self, run_id: str) -> bool:
        uploader = self._uploaders.get(run_id)
        return uploader is not None and uploader.blocked

    def _complete(self, run_id: str) -> bool:
        uploader = self._uploaders.get(run_id)
        if uploader is not None:
            return uploader.complete
        st = self._stored(run_id)
        info = self.state.get_run(run_id)
        if st is None or info is None or info.state == "RUNNING":
            return False
        return st.complete and st.uploaded_bytes >= self._size(run_id)

    def _size(self, run_id: str) -> int:
        info = self.state.get_run(run_id)
        if info is None:
            return 0
        try:
            return (Path(info.run_dir) / backup.BACKUP_FILENAME).stat().st_size
        except OSError:
            return info.backup_bytes

    def _start(self, run_id: str) -> RunUploader | None:
        if self._closing:
            return None
        info = self.state.get_run(run_id)
        uploader = self._uploaders.get(run_id)
        if uploader is not None and uploader.task is not None and not uploader.task.done():
            if info is not None and info.state == "RUNNING" and not uploader.running:
                # Resumed after it ended (StartRun enables it again): storage sends no event for that.
                uploader.set_running(True)
            return uploader
        if info is None:
            return None
        # The state DB changes before storage's events go out: from here on `ended` keeps this current.
        uploader = RunUploader(self, run_id, Path(info.run_dir), running=info.state == "RUNNING")
        self._uploaders[run_id] = uploader
        uploader.task = asyncio.create_task(self._drive(uploader), name=f"fwd-{run_id}")
        return uploader

    async def _drive(self, uploader: RunUploader) -> None:
        try:
            await uploader.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug must not take the daemon (and the runs it writes) down: log it, keep the cursor.
            log.exception("run %s: upload failed unexpectedly", uploader.run_id)
            uploader.errors["setup"] = "internal error in the forwarder (see the daemon log)"
            return
        if uploader.complete:
            self.state.delete_forwarding(uploader.run_id)

    def host_gate(self, api_host: str) -> asyncio.Semaphore:
        """The FIFO bound on requests in flight to one api host, shared by every run that uploads there."""
        gate = self._host_gates.get(api_host)
        if gate is None:
            gate = self._host_gates[api_host] = asyncio.Semaphore(self.max_inflight)
        return gate

    def http_client(self, api_host: str) -> httpx.AsyncClient:
        client = self._http.get(api_host)
        if client is None:
            client = self._http[api_host] = cloudapi.new_http_client(timeout=self.timeout)
        return client

    # -- upload state in the state DB ------------------------------------------------------------

    def load_state(self, run_id: str, run_dir: Path) -> UploadState:
        """From the state DB; else from the folder's upload-state.json (a copied folder); else new."""
        raw = self.state.get_upload_state(run_id)
        if raw is not None:
            try:
                return UploadState.from_json(raw)
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("run %s: unreadable upload state in the state DB (%s); reading the folder's", run_id, exc)
        from_file = uploadstate.read_file(run_dir)
        if from_file is not None and from_file.run_id == run_id:
            return from_file
        return UploadState(run_id=run_id)

    def store_state(self, st: UploadState) -> None:
        self.state.put_upload_state(st.run_id, st.to_json())

    def _stored(self, run_id: str) -> UploadState | None:
        raw = self.state.get_upload_state(run_id)
        if raw is None:
            return None
        try:
            return UploadState.from_json(raw)
        except (ValueError, TypeError, KeyError):
            return None
