"""`DaemonRuns`: the daemon's policy behind the RPCs, the service side of `ingest.ports.RunService`.

It turns each RPC into calls on the run store and the uploader, and owns the decisions the
handlers used to make:

- StartRun of a run not open yet is refused (RESOURCE_EXHAUSTED) while the daemon's file
  descriptors run short (fdlimit.py);
- StartRun stores the credentials its script resolved (primary writer only) and starts
  uploading a cloud-mode run, both as part of starting it (even if the RPC is cancelled);
- Sync adopts the folders it names, refuses unknown runs, stores the caller's credentials where
  a run has none of its own, then hands the runs to the uploader;
- `keep_credentials` is the one writer of a run's credentials (`cred/<run_id>` in the state DB);
- with `fsync = "always"` a batch is fsynced before its ack;
- status and ls combine each run's registry entry with its upload progress.

Runs on the daemon's event loop, like the store it drives.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from swanlabd.foreign import ForeignError
from swanlabd.foreign import sources as foreign_sources
from swanlabd.format.backup import BACKUP_FILENAME
from swanlabd.format.runstate import Mode
from swanlabd.ingest.ports import DaemonStatus, RunView, Started
from swanlabd.service import fdlimit, foreignsync
from swanlabd.service.config import DaemonConfig
from swanlabd.storage.activerun import ActiveRun
from swanlabd.storage.errors import PreconditionFailed, RequestError, RunNotFound
from swanlabd.storage.runstore import RunStore
from swanlabd.storage.state import RunInfo
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2

if TYPE_CHECKING:
    from swanlabd.upload.registry import Uploader


class DaemonRuns:
    """`RunService` over a `RunStore` and the uploader (None when the daemon does not upload)."""

    def __init__(
        self,
        config: DaemonConfig,
        store: RunStore,
        uploader: Uploader | None,
        *,
        started_ms: int,
        on_stream_end: Callable[[], None],
    ) -> None:
        self.config = config
        self.store = store
        self.converter = foreignsync.Converter(store)
        self.state = store.state
        self.uploader = uploader
        self.started_ms = started_ms
        self.on_stream_end = on_stream_end
        self._starting = 0  # StartRuns admitted that may still open a run's file (fdlimit.check_room)

    # -- credentials: the one place they are written ---------------------------------------

    def keep_credentials(self, run_id: str, cloud: service_pb2.Cloud, *, from_script: bool) -> None:
        """Store the credentials a run uploads with, unless it keeps its own.

        A run recorded in cloud mode keeps the host and key its script resolved (`from_script`:
        its primary writer's StartRun); any other run uploads with the caller's (`swanlabctl sync`).
        """
        if not cloud.api_key:
            return
        if not from_script:
            info = self.state.get_run(run_id)
            own = self.state.get_cloud(run_id)
            if info is not None and info.mode == Mode.CLOUD and own and own.get("api_key"):
                return
        self.state.put_cloud(run_id, {"api_host": cloud.api_host, "web_host": cloud.web_host, "api_key": cloud.api_key})

    # -- RunService ------------------------------------------------------------------------

    async def start(self, request: service_pb2.StartRunRequest) -> Started:
        # Only a run that is not open yet costs a descriptor: a writer attaching to an open run,
        # or a retry that finds its run made, is never refused.
        opens_a_file = not request.attach and request.start.run_id not in self.store.active
        if opens_a_file:
            fdlimit.check_room(len(self.store.active), self._starting)
            self._starting += 1
        try:
            run, writer, durable = await self.store.start_run(request, functools.partial(self.started, request))
        finally:
            if opens_a_file:
                self._starting -= 1
        if self.config.fsync == "always":
            # Records written after the last good fsync (it then failed: the run is broken) are
            # not durable: the client must keep them, never count them as acked.
            durable = min(durable, run.synced_seq(writer))
        return Started(run.run_id, run.info.run_dir, writer, durable, run.last_step + 1)

    def started(self, request: service_pb2.StartRunRequest, run: ActiveRun, writer: int) -> None:
        """What a started run takes from its StartRun (or from the start in the journal of a
        process killed before its StartRun: `RunStore.orphan_journals`). The run store calls this
        in the task that starts the run, so it comes with the run even if the RPC was cancelled."""
        if writer == run.info.primary_writer:
            self.keep_credentials(run.run_id, request.cloud, from_script=True)
        if run.info.mode == Mode.CLOUD and self.uploader is not None:
            self.uploader.enable(run.run_id)

    async def open_stream(self, run_id: str, writer: int) -> ActiveRun:
        run = await self.store.get_active(run_id)
        if not run.knows_writer(writer):
            raise RunNotFound(run_id, f"writer {writer} never attached (StartRun attach first)")
        return run

    async def append(self, run: ActiveRun, writer: int, records: Sequence[pb.Record]) -> int:
        durable = self.store.append_batch(run, writer, records)
        if self.config.fsync == "always" and run.synced_seq(writer) < durable:
            await self.store.fsync(run)  # raises if the fsync failed: nothing is acked past it
        return durable

    def stream_ended(self) -> None:
        self.on_stream_end()

    async def finish(self, run_id: str, writer: int, last_client_seq: int, finish: pb.Finish) -> int:
        return await self.store.finish_run(run_id, writer, last_client_seq, finish)

    def status(self) -> DaemonStatus:
        views = self._views(self.store.infos())
        return DaemonStatus(
            socket=str(self.config.socket),
            data_root=str(self.config.data_root),
            started_ms=self.started_ms,
            active_runs=[view for view in views if view.info.run_id in self.store.active],
            queued_bytes=queued_bytes(views),
        )

    def list_runs(self) -> list[RunView]:
        return self._views(sorted(self.store.infos(), key=lambda i: (i.created_ms, i.run_id)))

    async def sync(self, request: service_pb2.SyncRequest) -> AsyncIterator[service_pb2.SyncProgress]:
        run_ids = list(request.run_ids)
        reports: list[foreignsync.Report] = []
        for path in request.paths:
            if (Path(path) / BACKUP_FILENAME).is_file():
                info = await self.store.adopt(Path(path))
                run_ids.append(info.run_id)
                continue
            # Another tool's run (docs/sync.md): converted into a run of ours first.
            try:
                sources = await asyncio.to_thread(foreign_sources.find, Path(path))
                if not sources:
                    raise RequestError(f"{path} is neither a swanlabd run folder nor a run of a tool sync reads")
                for source in sources:
                    report = await self.converter.convert(source)
                    reports.append(report)
                    run_ids.append(report.run_id)
            except ForeignError as exc:
                raise RequestError(str(exc)) from None
        for run_id in run_ids:
            if self.state.get_run(run_id) is None:
                raise RunNotFound(run_id)
        if self.uploader is None:
            raise PreconditionFailed("this daemon does not upload (upload=false in its configuration)")
        # None named: every queued run (the uploader's choice); those take the caller's credentials too.
        run_ids = run_ids or self.uploader.queued_runs()
        for run_id in run_ids:
            self.keep_credentials(run_id, request.cloud, from_script=False)
        for report in reports:
            yield service_pb2.SyncProgress(run_id=report.run_id, conversion=report.message())
        async for progress in self.uploader.sync(request, run_ids):
            yield progress

    # -- status ----------------------------------------------------------------------------

    def queued_bytes(self) -> int:
        """Bytes of cloud runs not uploaded yet (status, and systemd's STATUS= line)."""
        return queued_bytes(self._views(self.store.infos()))

    def _views(self, infos: Iterable[RunInfo]) -> list[RunView]:
        if self.uploader is None:
            return [RunView(info) for info in infos]
        return [RunView(info, *self.uploader.upload_info(info.run_id)) for info in infos]


def queued_bytes(views: Iterable[RunView]) -> int:
    return sum(view.bytes_not_uploaded for view in views if view.info.mode == Mode.CLOUD)
