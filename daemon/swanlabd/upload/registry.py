"""The uploader: which runs upload to the SwanLab cloud, and their progress (docs/upload.md).

    Uploader (one per daemon, the daemon's `uploader` task)
      which runs are on   runs switched on (`enable`, kept in the state DB across restarts) and,
                          with `forward` on, cloud runs not yet uploaded
      their uploaders     one RunUploader per run that is on (uploader.py), started here, stopped
                          at shutdown; a run whose upload is complete is switched off and its
                          uploader dropped: nothing of it stays in memory (its upload state,
                          in the state DB, answers for it from then on)
      what storage says   `appended` and `ended` (storage/events.py) go to the run's uploader
      progress            `sync` streams it for the Sync RPC; `upload_info` feeds status and ls

Sizes come from the backup file (or the run's RunInfo when it cannot be read); nothing here
reads the run store.

All on the daemon's event loop; not thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from swanlabd.format import backup
from swanlabd.format.runstate import Mode, RunState
from swanlabd.storage.state import State
from swanlabd.upload import uploadstate
from swanlabd.upload.hosts import Hosts
from swanlabd.upload.tuning import Tuning
from swanlabd.upload.uploader import RunUploader
from swanlabd.upload.uploadstate import UploadState
from swanlabd_pb import service_pb2

log = logging.getLogger(__name__)

__all__ = ["Uploader", "UploaderConfig"]


class UploaderConfig(Protocol):
    """What the uploader reads of the daemon's configuration (service/config.py's DaemonConfig has it)."""

    @property
    def upload(self) -> bool:
        """Upload runs in cloud mode without being asked."""
        ...


class Uploader:
    """Uploads every run with uploading on; the daemon's `uploader` task (storage's RunEvents land here).

    `enable(run_id)` switches a run on (the daemon calls it for cloud runs; Sync for the rest);
    storage calls `appended` and `ended` (it is the run store's `RunEvents`); `sync(...)` streams
    progress for the Sync RPC; `upload_info(run_id)` feeds status and ls. Which runs are on
    survives restarts (`State.put_upload_on`).
    """

    def __init__(self, config: UploaderConfig, state: State, *, tuning: Tuning | None = None) -> None:
        self.config = config
        self.state = state
        self.tuning = tuning or Tuning()
        self.hosts = Hosts(self.tuning.max_inflight, self.tuning.timeout)
        self._uploaders: dict[str, RunUploader] = {}
        # run id -> why its upload could not start or stopped (a bug); the next `enable` tries again
        self._broken: dict[str, str] = {}
        self._stopped = asyncio.Event()
        self._closing = False

    # -- the daemon's side of the seam -------------------------------------------------------

    async def run(self) -> None:
        """Resume every run that was on when the daemon stopped; then serve until shutdown()."""
        for info in list(self.state.runs()):
            on = self.state.get_upload_on(info.run_id) is not None
            if on or (self.config.upload and info.mode == Mode.CLOUD and not self._complete(info.run_id)):
                self._start(info.run_id)
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Stop every upload and save its cursors; idempotent."""
        self._closing = True
        tasks = [u.task for u in self._uploaders.values() if u.task is not None and not u.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.hosts.aclose()
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

    def enable(self, run_id: str, *, project: str = "", workspace: str = "") -> None:
        """Upload this run (now and after restarts) until it is uploaded.

        It uploads with the credentials in the state DB (the service layer's `keep_credentials`).
        """
        info = self.state.get_run(run_id)
        if info is None:
            raise KeyError(run_id)
        overrides = {k: v for k, v in (("project", project), ("workspace", workspace)) if v}
        self.state.put_upload_on(run_id, overrides)
        uploader = self._start(run_id)
        if uploader is not None:
            uploader.kick()

    def upload_info(self, run_id: str) -> tuple[int, bool, str, str]:
        """(bytes uploaded, uploading on, cloud URL, last upload error) for status and ls."""
        uploader = self._uploaders.get(run_id)
        if uploader is not None:
            return uploader.uploaded_bytes, not uploader.complete, uploader.st.cloud_url(), uploader.error
        st, broken = self._stored(run_id), self._broken.get(run_id)
        if st is None:
            return 0, broken is not None, "", broken or ""
        return st.uploaded_bytes, broken is not None, st.cloud_url(), broken or st.last_rejection

    async def sync(
        self, request: service_pb2.SyncRequest, run_ids: list[str]
    ) -> AsyncIterator[service_pb2.SyncProgress]:
        """Switch runs on (every queued run if none named) and stream their progress.

        A run is done when everything the file held when sync began is on the server (and its
        final state, if it has finished). With `request.wait` false, one message per run and
        return. The stream ends when every run is done or blocked (needs the user: a missing or
        wrong key, a refused project); a blocked run's message carries the reason.
        """
        ids = run_ids or self.queued_runs()
        targets: dict[str, int] = {}
        for run_id in ids:
            self.enable(run_id, project=request.project, workspace=request.workspace)
            targets[run_id] = self._size(run_id)
        sent: dict[str, tuple[int, int, bool, str]] = {}
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
                error=self._broken.get(run_id) or (st.last_rejection if st else ""),
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
            if info.mode in (Mode.CLOUD, Mode.OFFLINE) and not self._complete(info.run_id):
                queued.append(info.run_id)
        return queued

    def _blocked(self, run_id: str) -> bool:
        uploader = self._uploaders.get(run_id)
        return run_id in self._broken or (uploader is not None and uploader.blocked)

    def _complete(self, run_id: str) -> bool:
        uploader = self._uploaders.get(run_id)
        if uploader is not None:
            return uploader.complete
        st = self._stored(run_id)
        info = self.state.get_run(run_id)
        if st is None or info is None or info.state == RunState.RUNNING:
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
            if info is not None and info.state == RunState.RUNNING and not uploader.running:
                # Resumed after it ended (StartRun enables it again): storage sends no event for that.
                uploader.set_running(True)
            return uploader
        if info is None:
            return None
        # The state DB changes before storage's events go out: from here on `ended` keeps this current.
        running = info.state == RunState.RUNNING
        try:
            uploader = RunUploader(
                run_id, Path(info.run_dir), state=self.state, hosts=self.hosts, tuning=self.tuning, running=running
            )
        except Exception:
            # One run's trouble, never the daemon's (this runs at its start): skipped and shown.
            self._broke(run_id, "could not start")
            return None
        self._broken.pop(run_id, None)
        self._uploaders[run_id] = uploader
        uploader.task = asyncio.create_task(self._drive(uploader), name=f"fwd-{run_id}")
        return uploader

    async def _drive(self, uploader: RunUploader) -> None:
        try:
            await uploader.run()  # retries everything itself: returns once the upload is complete
            if uploader.complete:
                self.state.delete_upload_on(uploader.run_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Past every retry of the uploader's own (giving its host back, switching the run off).
            self._broke(uploader.run_id, "stopped")
        if self._uploaders.get(uploader.run_id) is uploader:
            del self._uploaders[uploader.run_id]
            if not uploader.complete and not self._closing:
                self._start(uploader.run_id)  # resumed while its upload was ending

    def _broke(self, run_id: str, what: str) -> None:
        """A bug stopped the run's upload: logged with its traceback, shown, tried again at the next `enable`."""
        log.exception("run %s: upload %s (a bug)", run_id, what)
        self._broken[run_id] = (
            f"upload {what}: internal error (a bug; see the daemon log); `swanlabctl sync` tries again"
        )

    def _stored(self, run_id: str) -> UploadState | None:
        return uploadstate.read_stored(self.state, run_id)
