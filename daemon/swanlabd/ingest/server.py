"""The gRPC face of the daemon: `Swanlabd` (proto/swanlabd_pb/service.proto) on a Unix socket.

Handlers are thin: they check the request's shape, call `RunStore` (policy and files) and
translate the daemon's exceptions to status codes in exactly one place, `translate_errors`.
A handler never lets an exception escape unmapped: anything unexpected is logged with its
traceback and answered INTERNAL, and the daemon keeps serving.

Socket: `unix:<path>` (never `unix-abstract:`) in a directory created 0700, so only the user can
connect (design decision 1). `<socket>.lock` next to it is flocked from before the daemon checks
the socket until it exits: one daemon per socket, whatever its data root. A request may be up
to MAX_MESSAGE_BYTES (larger ones get RESOURCE_EXHAUSTED from grpc): that bounds what one batch
costs the daemon's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from swanlabd import __version__
from swanlabd.ingest import validate
from swanlabd.local.limits import MAX_MESSAGE_BYTES
from swanlabd.storage.errors import (
    PreconditionFailed,
    RequestError,
    RunExists,
    RunNotFound,
    ShuttingDown,
    StorageFailure,
    SwanlabdError,
)
from swanlabd.storage.state import RunInfo
from swanlabd_pb import service_pb2, service_pb2_grpc

if TYPE_CHECKING:
    from swanlabd.service.daemon import Daemon

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext

# The name a health check asks for (service.proto's package and service).
HEALTH_SERVICE = "swanlabd.v1.Swanlabd"

# The one place daemon errors become gRPC codes (service.proto's header lists the same).
# Order matters: the first matching class wins, so subclasses come before their bases.
STATUS_CODES: tuple[tuple[type[SwanlabdError], grpc.StatusCode], ...] = (
    (RequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (RunNotFound, grpc.StatusCode.NOT_FOUND),
    (RunExists, grpc.StatusCode.ALREADY_EXISTS),
    (PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),
    (StorageFailure, grpc.StatusCode.INTERNAL),
)


def status_code(exc: SwanlabdError) -> grpc.StatusCode:
    for cls, code in STATUS_CODES:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


@contextlib.asynccontextmanager
async def translate_errors(context: grpc.aio.ServicerContext, what: str) -> AsyncIterator[None]:
    """Turn a daemon exception into the RPC's status; log the unexpected ones, never crash."""
    try:
        yield
    except SwanlabdError as exc:
        code = status_code(exc)
        level = logging.ERROR if code == grpc.StatusCode.INTERNAL else logging.INFO
        log.log(level, "%s: %s: %s", what, code.name, exc)
        await context.abort(code, str(exc))
    except grpc.aio.AbortError:
        raise
    except Exception as exc:
        log.exception("%s: unexpected error", what)
        await context.abort(grpc.StatusCode.INTERNAL, f"swanlabd internal error in {what}: {exc!r}")


def summary(info: RunInfo, daemon: Daemon) -> service_pb2.RunSummary:
    uploaded, forwarding, cloud_url, error = daemon.upload_info(info.run_id)
    return service_pb2.RunSummary(
        run_id=info.run_id,
        run_dir=info.run_dir,
        project=info.project,
        experiment_name=info.experiment_name,
        mode=info.mode_value,
        state=info.run_state,
        records=info.records,
        backup_bytes=info.backup_bytes,
        bytes_not_uploaded=max(0, info.backup_bytes - uploaded),
        last_error=error or info.last_error,
        forwarding=forwarding,
        cloud_url=cloud_url,
    )


class Servicer(service_pb2_grpc.SwanlabdServicer):
    """The RPC handlers; all run on the daemon's event loop."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def _check_open(self) -> None:
        if self.daemon.stopping:
            raise ShuttingDown()

    async def StartRun(self, request: service_pb2.StartRunRequest, context: Context) -> service_pb2.StartRunReply:
        async with translate_errors(context, "StartRun"):
            self._check_open()
            run, writer, durable = await self.daemon.store.start_run(request)
            if request.cloud.api_key and writer == run.info.primary_writer:
                self.daemon.state.put_cloud(
                    run.run_id,
                    {
                        "api_host": request.cloud.api_host,
                        "web_host": request.cloud.web_host,
                        "api_key": request.cloud.api_key,
                    },
                )
            if run.info.mode == "MODE_CLOUD":
                self.daemon.enable_forwarding(run.run_id)
            return service_pb2.StartRunReply(
                run_id=run.run_id, run_dir=run.info.run_dir, writer=writer, durable_client_seq=durable
            )

    async def Stream(self, request_iterator: AsyncIterator[service_pb2.StreamRequest], context: Context) -> None:
        store = self.daemon.store
        # Reads race the daemon's stop: at shutdown an idle stream ends at once with UNAVAILABLE
        # (the client reconnects and replays) instead of holding the server's grace period.
        stopping = asyncio.ensure_future(self.daemon.stopped.wait())
        read: asyncio.Future | None = None
        try:
            async with translate_errors(context, "Stream"):
                run = None
                writer = 0
                while True:
                    read = asyncio.ensure_future(context.read())
                    await asyncio.wait((read, stopping), return_when=asyncio.FIRST_COMPLETED)
                    if not read.done():
                        read.cancel()
                        raise ShuttingDown()
                    req = read.result()
                    if req is grpc.aio.EOF:
                        return
                    self._check_open()
                    if run is None:
                        if not req.run_id or not req.writer:
                            raise RequestError("the first StreamRequest must set run_id and writer (>= 1)")
                        run = await store.get_active(req.run_id)
                        writer = req.writer
                        if writer >= run.info.next_writer and writer != run.info.primary_writer:
                            raise RunNotFound(req.run_id, f"writer {writer} never attached (StartRun attach first)")
                    elif (req.run_id and req.run_id != run.run_id) or (req.writer and req.writer != writer):
                        raise RequestError(
                            f"stream is bound to run {run.run_id} writer {writer}; got {req.run_id} {req.writer}"
                        )
                    before = run.held(writer)
                    run.check_writable()  # a finished or broken run says so before a malformed batch would
                    durable = store.append_batch(run, writer, validate.check_batch(run, writer, req.records))
                    if self.daemon.config.fsync == "always" and durable > before:
                        await store.fsync(run)
                    await context.write(service_pb2.StreamReply(durable_client_seq=durable))
        finally:
            stopping.cancel()
            if read is not None:
                read.cancel()  # pending only if this handler itself was cancelled mid-wait
            self.daemon.stream_ended()

    async def FinishRun(self, request: service_pb2.FinishRunRequest, context: Context) -> service_pb2.FinishRunReply:
        async with translate_errors(context, "FinishRun"):
            if not request.run_id or not request.writer:
                raise RequestError("FinishRun needs run_id and writer (>= 1)")
            durable = await self.daemon.store.finish_run(
                request.run_id, request.writer, request.last_client_seq, request.finish
            )
            return service_pb2.FinishRunReply(durable_client_seq=durable)

    async def Status(self, request: service_pb2.StatusRequest, context: Context) -> service_pb2.StatusReply:
        async with translate_errors(context, "Status"):
            d = self.daemon
            infos = list(d.store.infos())
            runs = [summary(info, d) for info in infos if info.run_id in d.store.active]
            queued = sum(summary(info, d).bytes_not_uploaded for info in infos if info.mode == "MODE_CLOUD")
            return service_pb2.StatusReply(
                version=__version__,
                pid=os.getpid(),
                socket=str(d.config.socket),
                data_root=str(d.config.home),
                started_ms=d.started_ms,
                active_runs=runs,
                queued_bytes=queued,
            )

    async def ListRuns(self, request: service_pb2.ListRunsRequest, context: Context) -> service_pb2.ListRunsReply:
        async with translate_errors(context, "ListRuns"):
            infos = sorted(self.daemon.store.infos(), key=lambda i: (i.created_ms, i.run_id))
            return service_pb2.ListRunsReply(runs=[summary(i, self.daemon) for i in infos])

    async def Sync(self, request: service_pb2.SyncRequest, context: Context) -> None:
        async with translate_errors(context, "Sync"):
            self._check_open()
            run_ids = list(request.run_ids)
            for path in request.paths:
                info = await self.daemon.store.adopt(Path(path))
                run_ids.append(info.run_id)
            for run_id in run_ids:
                if self.daemon.state.get_run(run_id) is None:
                    raise RunNotFound(run_id)
            if self.daemon.forwarder is None:
                raise PreconditionFailed("this daemon does not forward (forward=false, or no forwarder installed)")
            async for progress in self.daemon.forwarder.sync(request, run_ids):
                await context.write(progress)


class Health(health.aio.HealthServicer):
    """The standard gRPC health service (grpc.health.v1.Health) for probes and monitoring.

    `Check` answers SERVING for "" (the whole server) and for HEALTH_SERVICE while the daemon
    serves, NOT_SERVING once it is stopping.
    """

    def __init__(self, daemon: Daemon) -> None:
        super().__init__()
        self.daemon = daemon

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        if self.daemon.stopping and request.service in ("", HEALTH_SERVICE):
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)
        return await super().Check(request, context)


async def start_server(daemon: Daemon) -> grpc.aio.Server:
    """Bind the socket (prepared by `service.locks.prepare_socket`) and start serving."""
    path = daemon.config.socket
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ]
    )
    service_pb2_grpc.add_SwanlabdServicer_to_server(Servicer(daemon), server)
    health_servicer = Health(daemon)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set(HEALTH_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    server.add_insecure_port(f"unix:{path}")  # RuntimeError if it cannot listen: the daemon reports it
    await server.start()
    return server
