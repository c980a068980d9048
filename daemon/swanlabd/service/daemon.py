"""`Daemon`: the supervisor of swanlabd's asyncio tasks, with one shutdown path (style habit 8).

    Daemon.run()
      lock the data root (<home>/swanlabd.lock, flock) and write <home>/swanlabd.pid
      lock the socket (<socket>.lock, flock) and clear a stale socket file
      make state/ and runs/ (a file there is a StartupError naming it)
      open the state DB, reopen RUNNING runs, adopt folders written without a daemon
      make the runs of processes killed before any daemon had them, from their journals in
      <socket dir>/journals/ (then Finish{CRASHED}); delete leftover journals no run names,
      of dead writers
      start the named tasks:
        server        gRPC on the Unix socket (ingest/server.py) over DaemonRuns (runservice.py);
                      on_ready() once connect() works
        fsync         group commit: fsync every written run each fsync_interval_ms
        crash-watch   primary writer's pid gone without FinishRun -> Finish{CRASHED} (<= 1 s);
                      a journal whose writer died before any daemon had its run -> that run,
                      CRASHED (<= 3 s)
        adopt         every ADOPT_SCAN_INTERVAL_S: adopt run folders clients wrote without a daemon
        uploader     swanlabd.upload.registry.Uploader.run(), if installed and config.upload
        monitor       host + process-tree metrics into every active run, each monitor_interval_s
        sd-notify     under systemd: watchdog pings and STATUS= lines (sdnotify.py)
      wait for the first task to fail (or for shutdown()), then stop the rest in order:
        stop accepting (in-flight batches are acked) -> monitor, crash watch, adopt -> uploader
        -> fsync and close every backup -> state DB -> unlock socket and data root;
        re-raise the failure.

`shutdown()` is idempotent, safe before `run()` and from a signal handler (cmd_run wires
SIGTERM and SIGINT to it). One event loop, one thread; blocking file work goes to threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import plyvel

from swanlabd.ingest import server as server_mod
from swanlabd.local import paths
from swanlabd.service import locks, sdnotify
from swanlabd.service.config import DaemonConfig
from swanlabd.service.errors import StartupError
from swanlabd.service.runservice import DaemonRuns
from swanlabd.storage.runstore import RunStore, now_ms
from swanlabd.storage.state import State

if TYPE_CHECKING:
    from swanlabd.ingest.monitor import Monitor
    from swanlabd.storage.activerun import ActiveRun

log = logging.getLogger(__name__)

CRASH_WATCH_INTERVAL_S = 0.5
# A client that could not reach the daemon writes its run folder itself; the daemon finds it by
# listing runs/ (folder names only, so an idle daemon stays idle).
ADOPT_SCAN_INTERVAL_S = 10.0
STREAM_END_RECHECK_S = 0.05
CANCEL_WAIT_S = 2.0
STATE_OPEN_WAIT_S = 5.0
# Part of shutdown_timeout_s that in-flight RPCs get to finish before they are cancelled.
SERVER_GRACE_FRACTION = 0.3


class Daemon:
    """One daemon per data root. See the module docstring for the tasks and the shutdown order.

    `on_ready` is called once the socket accepts connections (sd_notify READY=1 goes there).
    """

    def __init__(self, config: DaemonConfig, *, on_ready: Callable[[], None] | None = None) -> None:
        self.config = config
        self.on_ready = on_ready
        self.stopping = False
        self.state: State | None = None
        self.store: RunStore | None = None
        self.uploader: Any = None
        self.runs: DaemonRuns | None = None
        self.server: grpc.aio.Server | None = None
        self._lock_fd: int | None = None
        self._socket_lock_fd: int | None = None
        self._shutdown: asyncio.Event | None = None
        # Set when shutdown begins: the servicer refuses new work, open streams end, health says NOT_SERVING.
        self.stopped = asyncio.Event()
        self._stream_ended = asyncio.Event()  # a Stream ended: the crash watch looks at once
        self._shutdown_requested = False
        # The clients' journals (docs/journal.md): next to the socket.
        self.journals_dir = config.socket.parent / "journals"
        # systemd's NOTIFY_SOCKET/WATCHDOG_USEC, if any (a no-op otherwise): see sdnotify.py.
        self.notifier = sdnotify.Notifier.from_environ()

    # -- the one shutdown path ---------------------------------------------------------------

    def shutdown(self) -> None:
        """Ask the daemon to stop (idempotent; safe before run() and from signal handlers)."""
        if not self._shutdown_requested:
            log.info("shutdown requested")
        self._shutdown_requested = True
        if self._shutdown is not None:
            self._shutdown.set()

    async def run(self) -> None:
        """Serve until shutdown() or until a task fails (then re-raise its exception)."""
        self._shutdown = asyncio.Event()
        if self._shutdown_requested:
            return
        self._lock_fd = locks.lock_data_root(self.config.data_root)
        tasks: dict[str, asyncio.Task[None]] = {}
        failure: BaseException | None = None
        try:
            # Refuse a taken socket before touching any state: the one-line message is the only output.
            self._socket_lock_fd = locks.prepare_socket(self.config.socket)
            started_ms = now_ms()
            for folder, what in (
                (self.config.data_root / "state", "state DB"),
                (paths.runs_dir(self.config.data_root), "run folders"),
            ):
                usable_dir(folder, what)
            self.state = await self._open_state()
            self.store = RunStore(self.config.data_root, self.state)
            await self.store.recover()
            self.uploader = self._make_uploader()
            if self.uploader is not None:
                self.store.events = self.uploader
            self.runs = DaemonRuns(
                self.config, self.store, self.uploader, started_ms=started_ms, on_stream_end=self._stream_ended.set
            )
            try:
                # Runs whose process was killed before any daemon had them, from their journals
                # (their credentials kept and their upload on, as StartRun's are).
                await self.store.orphan_journals(self.journals_dir, self.runs.started)
            except OSError as exc:
                log.warning("cannot list the journals in %s: %s", self.journals_dir, exc)
            await self.store.sweep_journals(self.journals_dir)
            try:
                self.server = await server_mod.start_server(self.config.socket, self.runs, self.stopped)
            except RuntimeError as exc:
                raise StartupError(f"cannot listen on {self.config.socket}: {exc}") from None
            log.info(
                "swanlabd serving on %s (data root %s, pid %d, fsync=%s)",
                self.config.socket,
                self.config.data_root,
                os.getpid(),
                self.config.fsync,
            )
            named: dict[str, Coroutine[Any, Any, None]] = {
                "server": self.server.wait_for_termination(),
                "fsync": self._group_commit(),
                "crash-watch": self._crash_watch(),
                "adopt": self._adopt_scan(),
            }
            if self.uploader is not None:
                named["uploader"] = self.uploader.run()
            if self.config.monitor_interval_s > 0:
                named["monitor"] = self._monitor()
            if self.notifier.enabled:
                named["sd-notify"] = self.notifier.run(self.status_line)
            for name, coro in named.items():
                tasks[name] = asyncio.create_task(self._guard(name, coro), name=name)
            if self.on_ready is not None:
                self.on_ready()
            self.notifier.ready(self.config.socket, self.status_line())
            stop = asyncio.create_task(self._shutdown.wait(), name="shutdown")
            done, _ = await asyncio.wait([stop, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            for task in done:
                if task is not stop and not task.cancelled() and task.exception() is not None:
                    failure = task.exception()
                    log.error("task %s failed: %r; shutting down", task.get_name(), failure)
                    break
        finally:
            await self._stop(tasks)
        if failure is not None:
            raise failure

    async def _guard(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        """A supervised task may only end by cancellation or by raising: returning is a bug."""
        await coro
        if not self.stopping:
            raise RuntimeError(f"task {name} exited unexpectedly")

    async def _stop(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        self.stopping = True
        self.notifier.stopping()
        self.stopped.set()
        timeout = self.config.shutdown_timeout_s
        deadline = time.monotonic() + timeout
        if self.server is not None:
            # Stop accepting; in-flight batches get the grace period to be written and acked.
            await self.server.stop(grace=timeout * SERVER_GRACE_FRACTION)
        for name in ("monitor", "crash-watch", "adopt"):
            await cancel(tasks.get(name))
        if self.uploader is not None:
            try:
                await asyncio.wait_for(self.uploader.shutdown(), max(0.1, deadline - time.monotonic() - 1))
            except Exception as exc:
                log.warning("uploader shutdown: %r", exc)
            await cancel(tasks.get("uploader"))
        if self.store is not None:
            try:
                await asyncio.wait_for(self.store.close_all(), max(0.1, deadline - time.monotonic()))
            except Exception as exc:
                log.error("closing run files: %r", exc)
        await cancel(tasks.get("fsync"))
        await cancel(tasks.get("server"))
        for task in tasks.values():  # anything else (sd-notify) goes last
            await cancel(task)
        if self.state is not None:
            self.state.close()
        if self._socket_lock_fd is not None:
            locks.release_socket(self._socket_lock_fd)
            self._socket_lock_fd = None
        if self._lock_fd is not None:
            locks.unlock_data_root(self.config.data_root, self._lock_fd)
            self._lock_fd = None
        if self.server is not None:
            log.info("swanlabd stopped")

    async def _open_state(self) -> State:
        """Open the state DB; wait out a brief holder (`swanlabctl ls` reads it while no daemon runs)."""
        path = self.config.data_root / "state"
        deadline = time.monotonic() + STATE_OPEN_WAIT_S
        repaired = False
        while True:
            try:
                return State(path)
            except plyvel.CorruptionError as exc:
                if repaired:
                    raise StartupError(f"state DB {path} is corrupt and repair failed: {exc}") from None
                # Run folders hold the data; the DB holds the registry and cursors: repair and go on.
                log.error("state DB %s is corrupt (%s); repairing", path, exc)
                plyvel.repair_db(str(path))
                repaired = True
            except plyvel.IOError as exc:
                if time.monotonic() > deadline:
                    raise StartupError(f"state DB {path} is held by another process: {exc}") from None
                await asyncio.sleep(0.1)

    # -- tasks -------------------------------------------------------------------------------

    # Each task below runs a step over and over. An OSError in a step (EMFILE: every file
    # descriptor in use; the state DB's plyvel.IOError is one too) costs that round, never the
    # task: a task that raises stops the daemon, and the next round may well work.

    async def _group_commit(self) -> None:
        interval = self.config.fsync_interval_ms / 1000
        assert self.store is not None
        trouble = Trouble("group commit")
        while True:
            await asyncio.sleep(interval)
            try:
                # A run is fsynced before its entry is written: a failed write leaves the rest dirty
                # for the next round.
                await self.store.sync_dirty()
            except OSError as exc:
                trouble.failed(exc)
            else:
                trouble.cleared()

    async def _crash_watch(self) -> None:
        assert self.store is not None
        store = self.store
        trouble = Trouble("crash watch")
        while True:
            try:
                for run, writer in store.dead_writers():
                    try:
                        await store.writer_died(run, writer)
                    except Exception as exc:
                        log.error("run %s: cannot settle writer %d's exit: %r", run.run_id, writer, exc)
                for info in store.unsettled():
                    try:
                        await store.settle(info)
                    except Exception as exc:
                        log.debug("run %s: not settled yet: %r", info.run_id, exc)
                # A process killed before any daemon had its run: the run, from its journal.
                await store.orphan_journals(self.journals_dir, self.runs.started if self.runs else None)
            except OSError as exc:  # /proc or the state DB unreadable for now: nobody is judged dead
                trouble.failed(exc)
            else:
                trouble.cleared()
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow the cancel of shutdown.
            try:
                async with asyncio.timeout(CRASH_WATCH_INTERVAL_S):
                    await self._stream_ended.wait()
                # A client's stream broke: look again once a dying process has had time to exit.
                await asyncio.sleep(STREAM_END_RECHECK_S)
            except TimeoutError:
                pass
            self._stream_ended.clear()

    async def _adopt_scan(self) -> None:
        assert self.store is not None
        while True:
            await asyncio.sleep(ADOPT_SCAN_INTERVAL_S)
            try:
                await self.store.adopt_new()
            except OSError as exc:  # runs/ unreadable for a moment: not worth stopping the daemon
                log.warning("cannot list %s: %s", self.store.runs_dir, exc)

    async def _monitor(self) -> None:
        from swanlabd.ingest.monitor import Monitor

        assert self.store is not None
        monitor: Monitor | None = None
        trouble = Trouble("system metrics")
        try:
            while True:
                await asyncio.sleep(self.config.monitor_interval_s)
                runs = [r for r in self.store.active.values() if not r.closing]
                if not runs:
                    continue
                try:
                    # Made here, not before the loop: its first reads of /proc may fail like any sample.
                    monitor = monitor or Monitor(self.config.data_root)
                    await self._sample(monitor, runs)
                except OSError as exc:
                    trouble.failed(exc)  # this round's remaining rows are skipped
                else:
                    trouble.cleared()
        finally:
            if monitor is not None:
                monitor.close()

    async def _sample(self, monitor: Monitor, runs: list[ActiveRun]) -> None:
        """One row of system metrics per run; an OSError (out of descriptors) ends the round."""
        assert self.store is not None
        host = await asyncio.to_thread(monitor.sample)
        for run in runs:
            # Only a pid we could see at StartRun is the client's (not one from another namespace).
            pid = run.info.pid if run.info.pid_started else 0
            try:
                tree = await asyncio.to_thread(monitor.sample_process_tree, pid) if pid else {}
                if run.run_id in self.store.active:
                    self.store.append_system(run, {**host, **tree}, now_ms())
            except OSError:
                raise  # not this run's trouble: the next run's sample would fail alike
            except Exception as exc:  # a lost sample must not stop the daemon (a task failure would)
                log.error("run %s: system sample not written: %r", run.run_id, exc)

    # -- systemd notification (sdnotify.py) --------------------------------------------------

    def status_line(self) -> str:
        """STATUS= for systemd: active runs, and bytes of cloud runs not uploaded yet."""
        if self.runs is None:
            return "starting"
        return sdnotify.status_line(len(self.runs.store.active), self.runs.queued_bytes())

    # -- uploader seam ----------------------------------------------------------------------

    def _make_uploader(self) -> Any:
        """The `swanlabd.upload.registry.Uploader`, if that module is installed and upload is on."""
        if not self.config.upload or importlib.util.find_spec("swanlabd.upload.registry") is None:
            return None
        from swanlabd.upload.registry import Uploader

        return Uploader(self.config, self.state) if self.state is not None else None


class Trouble:
    """Whether a task's recurring step fails: one warning when it starts failing, one line when it
    works again, not one per round (the crash watch runs twice a second)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.failing = False

    def failed(self, exc: OSError) -> None:
        if not self.failing:
            log.warning("%s: %s; skipped until it works again", self.what, exc)
            self.failing = True

    def cleared(self) -> None:
        if self.failing:
            log.info("%s: works again", self.what)
            self.failing = False


def usable_dir(path: Path, what: str) -> None:
    """Make `path` (0700) if missing; a StartupError naming it if it is not a folder the daemon can use.

    Checked before anything is opened: the error it would cause later (a `FileExistsError` from
    deep in a mkdir, a LevelDB error) names neither the path nor what to do about it.
    """
    try:
        paths.make_private_dir(path)
    except OSError as exc:
        raise StartupError(f"cannot use {what} {path}: {exc.strerror or exc}") from None
    if not path.is_dir():
        raise StartupError(f"cannot use {what} {path}: it exists and is not a directory; move it out of the way")
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise StartupError(f"cannot use {what} {path}: permission denied (the daemon reads and writes it)")


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a task and wait for it (bounded); its own errors were already reported by run()."""
    if task is None or task.done():
        return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
    if not done:
        log.error("task %s ignored its cancellation for %.0f s; going on without it", task.get_name(), CANCEL_WAIT_S)
        return
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
