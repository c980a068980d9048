"""The forwarder: replays each run's backup file to the SwanLab cloud (docs/forwarder.md).

    Forwarder (one per daemon, an asyncio task)
      RunUploader per run with forwarding on
        setup      RunStart -> login -> project get/create -> experiment(cuid = run id)
                   -> server summaries when the experiment already existed (resume)
        lanes      profile | scalar0-3 | console | media | files : each reads the backup from its own
                   cursor, sends batches, advances its cursor after the server accepted them
        heartbeat  at start, then every 10 min while the run lives or has a backlog
        finisher   all lanes at end of file, run no longer RUNNING -> PUT state -> complete

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
import bisect
import functools
import hashlib
import json
import logging
import math
import mimetypes
import random
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from pathlib import Path
from typing import Any

import httpx

from swanlabd.format import backup
from swanlabd.local.credentials import resolve_hosts
from swanlabd.upload import cloudapi, uploadstate
from swanlabd.upload.cloudapi import CloudAPI, CloudError, RateLimited, Rejected, Unauthorized
from swanlabd.upload.uploadstate import LaneCursor, Rejection, UploadState
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2

log = logging.getLogger(__name__)

__all__ = ["LANES", "Forwarder", "MissingCredentials", "RetryPolicy", "RunUploader"]

# Scalar keys are spread over SCALAR_LANES lanes by a hash of the key, so a backlog goes up as
# several requests in flight while each key's points still reach the server in step order
# (which is what makes the server's "last step per key" summaries an exact resume point).
SCALAR_LANES = 4
SCALAR = tuple(f"scalar{i}" for i in range(SCALAR_LANES))
LANES = ("profile", *SCALAR, "console", "media", "files")
MEDIA_BATCH = 64
# The SDK uploads files of this size and more in parts (prepare-multipart); not done here yet.
MULTIPART_BYTES = 100 * 1024 * 1024
PROFILE_KINDS = {"config", "metadata", "requirements"}
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
SYSTEM_PREFIX = "__swanlab__."
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


@dataclass
class _Batch:
    """What a lane read from its cursor: items to send and where the cursor goes once they are in."""

    cursor: LaneCursor
    items: list[Any] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)  # key -> highest step in this batch
    keys: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (KeyType, section) used
    seqs: tuple[int, int] | None = None
    full: bool = False  # stopped at the size limit: more may follow right away


def _json_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _iso(times: dict[int, str], t_ms: int) -> str:
    ts = times.get(t_ms)
    if ts is None:
        ts = times[t_ms] = cloudapi.iso_utc(t_ms)
    return ts


@dataclass
class _Layout:
    """Which items of a ScalarRows record belong to one scalar lane, and in which rows."""

    key_ids: list[int]
    sizes: list[int]
    known: int  # how many keys the writer had defined: a new KeyDefs can make more items the lane's
    mine: list[int]  # item indexes of the lane's keys
    rows: list[int]  # the row of each
    kids: list[int]  # the key id of each
    no_repeats: bool  # no key of the lane twice in one row

    @classmethod
    def of(cls, key_ids: list[int], sizes: list[int], parts: dict[int, int], part: int) -> _Layout:
        mine = list(compress(range(len(key_ids)), map(part.__eq__, map(parts.get, key_ids))))
        item_rows = list(chain.from_iterable(map(repeat, range(len(sizes)), sizes)))
        rows = list(map(item_rows.__getitem__, mine))
        kids = list(map(key_ids.__getitem__, mine))
        return cls(key_ids, sizes, len(parts), mine, rows, kids, len(set(zip(kids, rows, strict=True))) == len(mine))


class RunUploader:
    """Uploads one run. Created and driven by `Forwarder`; see the module docstring for its tasks."""

    def __init__(self, fwd: Forwarder, run_id: str, run_dir: Path) -> None:
        self.fwd = fwd
        self.run_id = run_id
        self.run_dir = run_dir
        self.path = run_dir / backup.BACKUP_FILENAME
        self.st = fwd.load_state(run_id, run_dir)
        self.api: CloudAPI | None = None
        # writer -> key id -> (name, KeyType, section)
        self.keymap: dict[int, dict[int, tuple[str, int, str]]] = {}
        self.partmap: dict[int, dict[int, int]] = {}  # writer -> key id -> scalar lane index
        for wk, (name, ktype, section) in self.st.keys.items():
            writer, kid = wk.split(":")
            self._add_key(int(writer), int(kid), name, int(ktype), section)
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
                and self._run_state() != "RUNNING"
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
        overrides = self.fwd.overrides(self.run_id)
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
            if self._run_state() == "RUNNING":
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
            if self._run_state() == "RUNNING":
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

    def _records(self, lane: str) -> Iterable[tuple[pb.Record, int, int]]:
        """(record, start offset, end offset) from the lane's cursor; KeyDefs and Finish noted on the way."""
        start = self.st.cursor(lane).offset
        self._read_size[lane] = self._file_size()
        for rec, end in backup.read_records(self.path, start, reporter=_LossReporter(self)):
            kind = rec.WhichOneof("kind")
            if kind == "keys":
                table = self.keymap.get(rec.writer, {})
                for k in rec.keys.keys:
                    if k.id not in table:
                        self._add_key(rec.writer, k.id, k.name, k.type, k.section)
                        self.st.keys[f"{rec.writer}:{k.id}"] = [k.name, k.type, k.section]
            elif kind == "finish":
                # Kept in the upload state: after a restart no lane may read this record again.
                self.st.finish_state = rec.finish.state or pb.FINISHED
                self.st.finish_ms = rec.finish.finish_time_ms or rec.time_ms
            if rec.seq > self.max_seq:
                self.max_seq = rec.seq
            yield rec, start, end
            start = end

    def _add_key(self, writer: int, kid: int, name: str, ktype: int, section: str) -> None:
        self.keymap.setdefault(writer, {})[kid] = (name, ktype, section)
        self.partmap.setdefault(writer, {})[kid] = zlib.crc32(name.encode()) % SCALAR_LANES

    async def _maybe_refresh(self) -> None:
        if self.need_summary:
            await self._refresh_summary()

    def _commit(self, lane: str, batch: _Batch, kind: str | None) -> None:
        if kind is not None and batch.steps:
            last = self.st.last_steps.setdefault(kind, {})
            for key, step in batch.steps.items():
                if step > last.get(key, -1):
                    last[key] = step
        self.st.cursors[lane] = batch.cursor
        self.save(json_too=False)

    def _reject(self, lane: str, exc: Rejected | OSError, batch: _Batch, what: str) -> None:
        if isinstance(exc, Rejected):
            rejection = Rejection(
                lane,
                what,
                exc.status,
                exc.code,
                exc.server_message,
                exc.traceid,
                batch.seqs,
                len(batch.items),
                int(time.time() * 1000),
            )
        else:
            rejection = Rejection(
                lane, what, 0, type(exc).__name__, str(exc), "", batch.seqs, len(batch.items), int(time.time() * 1000)
            )
        self.st.add_rejection(rejection)
        log.error("run %s: %s", self.run_id, rejection.summary())

    async def _send(self, lane: str, batch: _Batch, what: str, call: Callable[[], Awaitable[None]]) -> bool:
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

    async def _columns(self, lane: str, batch: _Batch) -> None:
        assert self.api is not None
        sent = set(self.st.columns)
        new = [key for key in batch.keys if key not in sent]
        if not new:
            return
        series = []
        for key in new:
            ktype, section = batch.keys[key]
            if key.startswith(SYSTEM_PREFIX) or ktype == pb.SYSTEM:
                column: dict[str, Any] = {"key": key, "type": "SYSTEM"}
            else:
                column = {"key": key, "type": pb.KeyType.Name(ktype) if ktype else "FLOAT"}
                parts = key.split("/")
                section = section or ("/".join(parts[:1]) if len(parts) >= 2 else "")
                if section:
                    column["sectionName"] = section
            series.append(column)
        ws, proj = self.st.workspace, self.st.project
        await self._send(lane, batch, "columns", lambda: self.api.post_series(ws, proj, series))  # type: ignore[union-attr]
        self.st.columns.extend(new)

    # scalar lane: user scalars and system metrics -----------------------------------------

    async def _scalar_step(self, lane: str, part: int) -> bool:
        await self._maybe_refresh()
        return await self._send_metrics(lane, self._scalar_batch(lane, part, self.limits[lane]), "scalar")

    async def _send_metrics(self, lane: str, batch: _Batch, kind: str) -> bool:
        assert self.api is not None
        if batch.items:
            try:
                if kind != "log":
                    await self._columns(lane, batch)
                pid, eid = self.st.project_cuid, self.st.experiment_cuid
                items = batch.items if kind == "scalar" else [json.dumps(i, ensure_ascii=False) for i in batch.items]
                await self._send(lane, batch, f"{kind} metrics", lambda: self.api.post_metrics(kind, pid, eid, items))  # type: ignore[union-attr]
            except _Shrink:
                return True
        self._commit(lane, batch, kind)
        return batch.full

    def _scalar_batch(self, lane: str, part: int, limit: int) -> _Batch:
        """Up to `limit` new points of this lane's keys, as JSON text, from the lane's cursor.

        The hot loop of a backlog drain. Each scalar lane sees every record, and reading a
        protobuf column costs per element, so a record's layout (which items are this lane's,
        in which rows) is worked out once and reused while the records repeat it, as a training
        loop's do. A record whose points are all new (steps rising, no key twice in a row, all
        above the keys' last steps) is encoded column by column; any other goes point by point.
        Time strings are memoised per millisecond.
        """
        last = self.st.last_steps.setdefault("scalar", {})
        cur = self.st.cursor(lane)
        batch = _Batch(cursor=LaneCursor(cur.offset, cur.seq))
        items, steps, keys = batch.items, batch.steps, batch.keys
        # writer -> key id -> name, and -> name as JSON; steps holds each seen key's last step so far
        names: dict[int, dict[int, str]] = {}
        jsons: dict[int, dict[int, str]] = {}
        layouts: dict[int, _Layout] = {}
        times: dict[int, str] = {}
        skip = cur.item
        for rec, start, end in self._records(lane):
            kind = rec.WhichOneof("kind")
            if kind == "scalars" or kind == "system":
                rows = rec.system if kind == "system" else rec.scalars
                writer = rec.writer
                layout = layouts.get(writer)
                key_ids, sizes = rows.key_ids[:], rows.row_sizes[:]
                parts = self.partmap.get(writer, {})
                if layout is None or layout.key_ids != key_ids or layout.sizes != sizes or layout.known != len(parts):
                    layout = layouts[writer] = _Layout.of(key_ids, sizes, parts, part)
                mine, mine_rows, mine_kids = layout.mine, layout.rows, layout.kids
                if skip:
                    first = bisect.bisect_left(mine, skip)
                    mine, mine_rows, mine_kids = mine[first:], mine_rows[first:], mine_kids[first:]
                if mine:
                    row_steps = rows.steps[:]
                    mine_steps = list(map(row_steps.__getitem__, mine_rows))
                    table = self.keymap[writer]
                    wnames = names.setdefault(writer, {})
                    wjsons = jsons.setdefault(writer, {})
                    kids = set(mine_kids)
                    for kid in kids - wnames.keys():
                        name = wnames[kid] = table[kid][0]
                        wjsons[kid] = _json_str(name)
                        steps.setdefault(name, last.get(name, -1))
                    deltas = rows.time_deltas_ms[:]
                    mine_ms = [rec.time_ms + deltas[r] for r in mine_rows] if deltas else None
                    if (
                        layout.no_repeats
                        and all(map(int.__lt__, row_steps, row_steps[1:]))
                        and mine_steps[0] > max(steps[wnames[kid]] for kid in kids)
                    ):
                        room = limit - len(items)
                        cut = mine[room] if room < len(mine) else None  # the first item that does not fit
                        mine, mine_kids, mine_steps = mine[:room], mine_kids[:room], mine_steps[:room]
                        if mine:
                            self._encode(
                                batch,
                                rec,
                                kind,
                                table,
                                wnames,
                                wjsons,
                                times,
                                mine,
                                mine_kids,
                                mine_steps,
                                mine_ms[:room] if mine_ms else None,
                                rows.values,
                            )
                        if cut is not None:
                            batch.full = True
                            batch.cursor = LaneCursor(start, batch.cursor.seq, 0, cut)
                            return batch
                    else:
                        values = rows.values
                        for n, i in enumerate(mine):
                            kid = mine_kids[n]
                            name = wnames[kid]
                            step = mine_steps[n]
                            if step <= steps[name]:
                                continue  # the server has it, or an older step (the SDK drops those too)
                            if name not in keys:
                                kdef = table[kid]
                                keys[name] = (kdef[1] or (pb.SYSTEM if kind == "system" else pb.FLOAT), kdef[2])
                            if len(items) >= limit:
                                batch.full = True
                                batch.cursor = LaneCursor(start, batch.cursor.seq, 0, i)
                                return batch
                            value = values[i]
                            data = repr(value) if value - value == 0.0 else '"nan"'  # inf - inf and nan are nan
                            ts = _iso(times, mine_ms[n] if mine_ms else rec.time_ms)
                            items.append(f'{{"key":{wjsons[kid]},"index":{step},"data":{data},"create_time":"{ts}"}}')
                            steps[name] = step
                            batch.seqs = (batch.seqs[0] if batch.seqs else rec.seq, rec.seq)
            skip = 0
            batch.cursor = LaneCursor(end, rec.seq)
            if len(items) >= limit:
                batch.full = True
                return batch
        return batch

    @staticmethod
    def _encode(
        batch: _Batch,
        rec: pb.Record,
        kind: str,
        table: dict[int, tuple[str, int, str]],
        wnames: dict[int, str],
        wjsons: dict[int, str],
        times: dict[int, str],
        mine: list[int],
        mine_kids: list[int],
        mine_steps: list[int],
        mine_ms: list[int] | None,
        values: Any,
    ) -> None:
        """Append the items `mine` of one record, all of them new points, column by column."""
        keys, steps = batch.keys, batch.steps
        for kid in set(mine_kids):
            name = wnames[kid]
            if name not in keys:
                kdef = table[kid]
                keys[name] = (kdef[1] or (pb.SYSTEM if kind == "system" else pb.FLOAT), kdef[2])
        mine_values = list(map(values.__getitem__, mine))
        if all(map(math.isfinite, mine_values)):
            data = list(map(repr, mine_values))
        else:
            data = [repr(v) if v - v == 0.0 else '"nan"' for v in mine_values]  # inf - inf and nan are nan
        if mine_ms is None:
            stamps: Iterable[str] = repeat(_iso(times, rec.time_ms), len(mine))
        else:
            for t_ms in set(mine_ms) - times.keys():
                times[t_ms] = cloudapi.iso_utc(t_ms)
            stamps = map(times.__getitem__, mine_ms)
        batch.items.extend(
            f'{{"key":{k},"index":{i},"data":{d},"create_time":"{t}"}}'
            for k, i, d, t in zip(map(wjsons.__getitem__, mine_kids), mine_steps, data, stamps, strict=True)
        )
        for kid, step in dict(zip(mine_kids, mine_steps, strict=True)).items():
            steps[wnames[kid]] = step
        batch.seqs = (batch.seqs[0] if batch.seqs else rec.seq, rec.seq)

    # console lane ------------------------------------------------------------------------

    async def _console_step(self) -> bool:
        await self._maybe_refresh()
        return await self._send_metrics("console", self._console_batch(self.limits["console"]), "log")

    def _console_batch(self, limit: int) -> _Batch:
        last = self.st.last_steps.setdefault("log", {}).get("", 0)
        cur = self.st.cursor("console")
        batch = _Batch(cursor=LaneCursor(cur.offset, cur.seq, cur.epoch))
        epoch = cur.epoch
        for rec, start, end in self._records("console"):
            if rec.WhichOneof("kind") == "console":
                record_epoch = epoch
                for line in rec.console.lines:
                    epoch += 1
                    if epoch <= last:
                        continue
                    if len(batch.items) >= limit:
                        batch.full = True
                        batch.cursor = LaneCursor(start, batch.cursor.seq, record_epoch)
                        return batch
                    batch.items.append(
                        {
                            "level": "ERROR" if line.stream == pb.STDERR else "INFO",
                            "epoch": epoch,
                            "message": line.text,
                            "create_time": cloudapi.iso_utc(line.time_ms or rec.time_ms),
                        }
                    )
                    batch.steps[""] = epoch
                    batch.seqs = (batch.seqs[0] if batch.seqs else rec.seq, rec.seq)
            batch.cursor = LaneCursor(end, rec.seq, epoch)
            if len(batch.items) >= limit:
                batch.full = True
                return batch
        return batch

    # media lane --------------------------------------------------------------------------

    async def _media_step(self) -> bool:
        assert self.api is not None
        await self._maybe_refresh()
        batch, refs = self._media_batch(self.limits["media"])
        if refs:
            try:
                await self._columns("media", batch)
                ok = await self._send(
                    "media", batch, "media upload URLs", lambda: self._put_media([r[2] for r in refs])
                )
                if ok:
                    metrics: dict[tuple[str, int], dict[str, Any]] = {}
                    for name, step, path, caption, t_ms in refs:
                        entry = metrics.setdefault(
                            (name, step),
                            {
                                "key": name,
                                "index": step,
                                "data": [],
                                "more": [],
                                "create_time": cloudapi.iso_utc(t_ms),
                            },
                        )
                        entry["data"].append(path)
                        entry["more"].append({"caption": caption} if caption else {})
                    batch.items = list(metrics.values())
                    pid, eid = self.st.project_cuid, self.st.experiment_cuid
                    items = [json.dumps(m) for m in batch.items]
                    await self._send(
                        "media", batch, "media metrics", lambda: self.api.post_metrics("media", pid, eid, items)
                    )  # type: ignore[union-attr]
            except _Shrink:
                return True
            except OSError as exc:
                self._reject("media", exc, batch, "media file")
        self._commit("media", batch, "media")
        return batch.full

    async def _put_media(self, paths: list[str]) -> None:
        assert self.api is not None
        urls = await self.api.presign(self.st.experiment_cuid, paths)
        for path, url in zip(paths, urls, strict=True):  # presign checks it got one URL per path
            data = await asyncio.to_thread((self.run_dir / path).read_bytes)
            await self.api.put_object(url, data)

    def _media_batch(self, limit: int) -> tuple[_Batch, list[tuple[str, int, str, str, int]]]:
        last = self.st.last_steps.setdefault("media", {})
        batch = _Batch(cursor=LaneCursor(**vars(self.st.cursor("media"))))
        refs: list[tuple[str, int, str, str, int]] = []
        for rec, start, end in self._records("media"):
            kind = rec.WhichOneof("kind")
            if kind == "media":
                table = self.keymap.get(rec.writer, {})
                for item in rec.media.items:
                    kdef = table.get(item.key_id)
                    if kdef is None:
                        continue
                    name = kdef[0]
                    prev = batch.steps.get(name, last.get(name, -1))
                    # Several media of one key share a step (a list of images): same-step items
                    # inside the batch go together; the server holds older steps already.
                    if item.step < prev or (item.step == prev and name not in batch.steps):
                        continue
                    if len(refs) >= limit and name not in batch.steps:
                        batch.full = True
                        batch.cursor = LaneCursor(start, batch.cursor.seq)
                        return batch, refs
                    refs.append((name, item.step, item.path, item.caption, rec.time_ms))
                    batch.items.append(item.path)
                    batch.steps[name] = item.step
                    batch.keys.setdefault(name, (kdef[1] or pb.IMAGE, kdef[2]))
                    batch.seqs = (batch.seqs[0] if batch.seqs else rec.seq, rec.seq)
            batch.cursor = LaneCursor(end, rec.seq)
            if len(refs) >= limit:
                batch.full = True
                return batch, refs
        return batch, refs

    # files lane: SavedFile records, one at a time (prepare, PUT, complete) ----------------

    async def _files_step(self) -> bool:
        batch = _Batch(cursor=LaneCursor(**vars(self.st.cursor("files"))))
        found: pb.Record | None = None
        for rec, _start, end in self._records("files"):
            batch.cursor = LaneCursor(end, rec.seq)
            if rec.WhichOneof("kind") == "file":
                found = rec
                break
        if found is not None:
            batch.seqs, batch.items = (found.seq, found.seq), [found]
            saved = found.file
            try:
                await self._send("files", batch, "saved file", lambda: self._put_file(saved))
            except OSError as exc:
                self._reject("files", exc, batch, "saved file")
        self._commit("files", batch, None)
        return found is not None

    async def _put_file(self, saved: pb.SavedFile) -> None:
        assert self.api is not None
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
        (url,) = await self.api.prepare_files(self.st.experiment_cuid, [entry])
        await self.api.put_object(url, data, mime)
        await self.api.complete_files(self.st.experiment_cuid, [{"path": name, "state": "UPLOADED"}])

    # profile lane: config, metadata, requirements (idempotent PUTs) ------------------------

    async def _profile_step(self) -> bool:
        assert self.api is not None
        batch = _Batch(cursor=LaneCursor(**vars(self.st.cursor("profile"))))
        found: pb.Record | None = None
        for rec, _start, end in self._records("profile"):
            batch.cursor = LaneCursor(end, rec.seq)
            if rec.WhichOneof("kind") in PROFILE_KINDS:
                found = rec
                break
        if found is not None:
            batch.seqs = (found.seq, found.seq)
            batch.items = [found]
            ws, proj, eid = self.st.workspace, self.st.project, self.st.experiment_cuid
            for kind, value in _profile_parts(found):
                await self._send(
                    "profile",
                    batch,
                    f"profile {kind}",
                    lambda k=kind, v=value: self.api.put_profile(ws, proj, eid, k, v),
                )  # type: ignore[union-attr]
        self._commit("profile", batch, None)
        return found is not None

    # -- state files -----------------------------------------------------------------------

    def save(self, *, json_too: bool) -> None:
        """Cursor to plyvel now; to the run folder's upload-state.json at most once a second."""
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

    def _run_state(self) -> str:
        info = self.fwd.state.get_run(self.run_id)
        return info.state if info is not None else "RUNNING"


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


def _profile_parts(rec: pb.Record) -> list[tuple[str, Any]]:
    kind = rec.WhichOneof("kind")
    if kind == "config":
        return [("config", _sdk_config(_loads(rec.config.json)))]
    if kind == "metadata":
        return [("metadata", _loads(rec.metadata.json))]
    parts: list[tuple[str, Any]] = []
    if rec.requirements.pip:
        parts.append(("requirements", rec.requirements.pip))
    if rec.requirements.conda:
        parts.append(("conda", rec.requirements.conda))
    return parts


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _sdk_config(config: dict[str, Any]) -> dict[str, Any]:
    """The profile's config is `{key: {value, desc, sort}}`; wrap a plain dict that way."""
    if config and all(isinstance(v, dict) and "value" in v for v in config.values()):
        return config
    return {k: {"value": v, "desc": "", "sort": i} for i, (k, v) in enumerate(config.items())}


class Forwarder:
    """Uploads every run with forwarding on; the daemon's `forwarder` task (contracts.md seam).

    `enable(run_id)` switches a run on (the daemon calls it for cloud runs; Sync for the rest);
    `wake(run_id)` after appends; `sync(...)` streams progress for the Sync RPC;
    `upload_info(run_id)` feeds status and ls. Which runs are on survives restarts (`fwd/on/`).
    """

    def __init__(
        self,
        config: Any,
        state: Any,
        *,
        runstore: Any = None,
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
        self.runstore = runstore
        self.retry = retry or RetryPolicy()
        self.heartbeat_s = heartbeat_s
        self.poll_s = poll_s
        self.linger_s = linger_s
        self.timeout = timeout
        self.max_inflight = max_inflight
        self.per_run_inflight = max(1, min(per_run_inflight, max_inflight))
        self._host_gates: dict[str, asyncio.Semaphore] = {}
        db = state.sub(b"fwd/")
        self._on = db.prefixed_db(b"on/")  # run_id -> {"project": ..., "workspace": ...}
        self._up = db.prefixed_db(b"up/")  # run_id -> UploadState JSON
        self._uploaders: dict[str, RunUploader] = {}
        self._http: dict[str, httpx.AsyncClient] = {}
        self._stopped = asyncio.Event()
        self._closing = False

    # -- the daemon's side of the seam -------------------------------------------------------

    async def run(self) -> None:
        """Resume every run that was on when the daemon stopped; then serve until shutdown()."""
        for info in list(self.state.runs()):
            on = self._on.get(info.run_id.encode()) is not None
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
        self.appended(run_id)

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
        self._on.put(run_id.encode(), json.dumps(overrides).encode())
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
        active = getattr(self.runstore, "active", {}).get(run_id)
        if active is not None:
            return active.size
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
        uploader = self._uploaders.get(run_id)
        if uploader is not None and uploader.task is not None and not uploader.task.done():
            return uploader
        info = self.state.get_run(run_id)
        if info is None:
            return None
        uploader = RunUploader(self, run_id, Path(info.run_dir))
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
            self._on.delete(uploader.run_id.encode())

    def overrides(self, run_id: str) -> dict[str, str]:
        raw = self._on.get(run_id.encode())
        return json.loads(raw) if raw else {}

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

    # -- upload state in plyvel ------------------------------------------------------------

    def load_state(self, run_id: str, run_dir: Path) -> UploadState:
        """From plyvel; else from the folder's upload-state.json (a copied folder); else new."""
        raw = self._up.get(run_id.encode())
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
        self._up.put(st.run_id.encode(), st.to_json())

    def _stored(self, run_id: str) -> UploadState | None:
        raw = self._up.get(run_id.encode())
        if raw is None:
            return None
        try:
            return UploadState.from_json(raw)
        except (ValueError, TypeError, KeyError):
            return None
