"""The gRPC face of the daemon: `Swanlabd` (proto/swanlabd_pb/service.proto) on a Unix socket.

Handlers are thin: they check the request's shape (and a Stream batch against the protocol,
validate.py), call the `RunService` they were given (ports.py; policy and files live behind it)
and translate the daemon's exceptions to status codes in exactly one place, `translate_errors`.
A handler never lets an exception escape unmapped: anything unexpected is logged with its
traceback and answered INTERNAL, and the daemon keeps serving. Bytes that are not a protobuf
message are decoded under `translate_errors` too (`DecodeInHandlers`): INVALID_ARGUMENT.

Socket: `unix:<path>` (never `unix-abstract:`) in a directory created 0700, so only the user can
connect. `<socket>.lock` next to it is flocked from before the daemon checks
the socket until it exits: one daemon per socket, whatever its data root. A request may be up
to MAX_MESSAGE_BYTES (larger ones get RESOURCE_EXHAUSTED from grpc): that bounds what one batch
costs the daemon's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeAlias

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from swanlabd import __version__
from swanlabd.ingest import validate
from swanlabd.ingest.ports import RunService, RunView
from swanlabd.local.limits import MAX_MESSAGE_BYTES
from swanlabd.storage.errors import (
    DiskFull,
    PreconditionFailed,
    RequestError,
    RunExists,
    RunNotFound,
    ShuttingDown,
    StorageFailure,
    SwanlabdError,
    TooManyOpenRuns,
)
from swanlabd_pb import service_pb2, service_pb2_grpc

log = logging.getLogger(__name__)

Context: TypeAlias = grpc.aio.ServicerContext

# The name a health check asks for (service.proto's package and service).
HEALTH_SERVICE = "swanlabd.v1.Swanlabd"

# The one place daemon errors become gRPC codes (service.proto's header lists the same).
# Order matters: the first matching class wins, so subclasses come before their bases.
STATUS_CODES: tuple[tuple[type[SwanlabdError], grpc.StatusCode], ...] = (
    (RequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (RunNotFound, grpc.StatusCode.NOT_FOUND),
    (RunExists, grpc.StatusCode.ALREADY_EXISTS),
    (PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (TooManyOpenRuns, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),
    (StorageFailure, grpc.StatusCode.INTERNAL),
    (DiskFull, grpc.StatusCode.RESOURCE_EXHAUSTED),
)


def status_code(exc: SwanlabdError) -> grpc.StatusCode:
    for cls, code in STATUS_CODES:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


@contextlib.asynccontextmanager
async def translate_errors(context: Context, what: str) -> AsyncIterator[None]:
    """Turn a daemon exception into the RPC's status; log the unexpected ones, never crash."""
    try:
        yield
    except SwanlabdError as exc:
        code = status_code(exc)
        # INTERNAL is ours to fix, RESOURCE_EXHAUSTED the operator's (a limit); the rest the client's.
        level = {grpc.StatusCode.INTERNAL: logging.ERROR, grpc.StatusCode.RESOURCE_EXHAUSTED: logging.WARNING}.get(
            code, logging.INFO
        )
        log.log(level, "%s: %s: %s", what, code.name, exc)
        await context.abort(code, str(exc))
    except grpc.aio.AbortError:
        raise
    except Exception as exc:
        log.exception("%s: unexpected error", what)
        await context.abort(grpc.StatusCode.INTERNAL, f"swanlabd internal error in {what}: {exc!r}")


def summary(view: RunView) -> service_pb2.RunSummary:
    info = view.info
    return service_pb2.RunSummary(
        run_id=info.run_id,
        run_dir=info.run_dir,
        project=info.project,
        experiment_name=info.experiment_name,
        mode=info.mode.pb,
        state=info.state.pb,
        records=info.records,
        backup_bytes=info.backup_bytes,
        bytes_not_uploaded=view.bytes_not_uploaded,
        last_error=view.upload_error or info.last_error,
        uploading=view.uploading,
        cloud_url=view.cloud_url,
        source_kind=info.source,
    )


class Servicer(service_pb2_grpc.SwanlabdServicer):
    """The RPC handlers over a `RunService`; all run on the daemon's event loop.

    `stopping` is set when the daemon begins to shut down: new work is refused UNAVAILABLE and
    open streams end, so clients reconnect and replay.
    """

    def __init__(self, runs: RunService, stopping: asyncio.Event) -> None:
        self.runs = runs
        self.stopping = stopping

    def _check_open(self) -> None:
        if self.stopping.is_set():
            raise ShuttingDown()

    async def StartRun(self, request: service_pb2.StartRunRequest, context: Context) -> service_pb2.StartRunReply:
        async with translate_errors(context, "StartRun"):
            self._check_open()
            started = await self.runs.start(request)
            return service_pb2.StartRunReply(
                run_id=started.run_id,
                run_dir=started.run_dir,
                writer=started.writer,
                durable_client_seq=started.durable_client_seq,
                next_step=started.next_step,
            )

    async def Stream(self, request_iterator: AsyncIterator[service_pb2.StreamRequest], context: Context) -> None:
        # Reads race the daemon's stop: at shutdown an idle stream ends at once with UNAVAILABLE
        # (the client reconnects and replays) instead of holding the server's grace period.
        stopping = asyncio.ensure_future(self.stopping.wait())
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
                        run = await self.runs.open_stream(req.run_id, req.writer)
                        writer = req.writer
                    elif (req.run_id and req.run_id != run.run_id) or (req.writer and req.writer != writer):
                        raise RequestError(
                            f"stream is bound to run {run.run_id} writer {writer}; got {req.run_id} {req.writer}"
                        )
                    run.check_writable()  # a finished or broken run says so before a malformed batch would
                    fresh = validate.check_batch(run, writer, req.records)
                    durable = await self.runs.append(run, writer, fresh)
                    await context.write(service_pb2.StreamReply(durable_client_seq=durable))
        finally:
            stopping.cancel()
            if read is not None:
                read.cancel()  # pending only if this handler itself was cancelled mid-wait
            self.runs.stream_ended()

    async def FinishRun(self, request: service_pb2.FinishRunRequest, context: Context) -> service_pb2.FinishRunReply:
        async with translate_errors(context, "FinishRun"):
            if not request.run_id or not request.writer:
                raise RequestError("FinishRun needs run_id and writer (>= 1)")
            durable = await self.runs.finish(request.run_id, request.writer, request.last_client_seq, request.finish)
            return service_pb2.FinishRunReply(durable_client_seq=durable)

    async def Status(self, request: service_pb2.StatusRequest, context: Context) -> service_pb2.StatusReply:
        async with translate_errors(context, "Status"):
            status = self.runs.status()
            return service_pb2.StatusReply(
                version=__version__,
                pid=os.getpid(),
                socket=status.socket,
                data_root=status.data_root,
                started_ms=status.started_ms,
                active_runs=[summary(view) for view in status.active_runs],
                queued_bytes=status.queued_bytes,
            )

    async def ListRuns(self, request: service_pb2.ListRunsRequest, context: Context) -> service_pb2.ListRunsReply:
        async with translate_errors(context, "ListRuns"):
            return service_pb2.ListRunsReply(runs=[summary(view) for view in self.runs.list_runs()])

    async def Sync(self, request: service_pb2.SyncRequest, context: Context) -> None:
        async with translate_errors(context, "Sync"):
            self._check_open()
            async for progress in self.runs.sync(request):
                await context.write(progress)


class DecodeInHandlers(grpc.aio.ServerInterceptor):
    """A request that is not a valid protobuf message is INVALID_ARGUMENT, through `translate_errors`.

    grpc decodes a unary request before it calls the handler, and answers a DecodeError there
    UNKNOWN ("Unexpected <class ...>"): no handler can catch it, nor can a deserializer set a
    status. So a unary handler gets the raw bytes and decodes them inside `translate_errors`. A
    streamed request is decoded by `context.read()`, inside the handler already: its decoder
    raises RequestError instead of DecodeError. Every handler here is a coroutine function.
    """

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler  # no such method (grpc answers UNIMPLEMENTED), or it takes raw bytes
        decode = strict_decoder(handler.request_deserializer)
        if handler.request_streaming:
            return handler._replace(request_deserializer=decode)
        what = handler_call_details.method.rsplit("/", 1)[-1]
        if handler.unary_unary is not None:
            return handler._replace(request_deserializer=None, unary_unary=decoding(handler.unary_unary, decode, what))
        return handler._replace(request_deserializer=None, unary_stream=decoding(handler.unary_stream, decode, what))


def strict_decoder(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """`deserializer` raising RequestError (INVALID_ARGUMENT) for bytes that are not its message."""

    def decode(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except DecodeError as exc:
            raise RequestError(f"the request is not a valid protobuf message: {exc}") from None

    return decode


def decoding(
    behavior: Callable[[Any, Context], Awaitable[Any]], decode: Callable[[bytes], Any], what: str
) -> Callable[[bytes, Context], Awaitable[Any]]:
    """A unary handler that takes the raw request and decodes it under `translate_errors`."""

    async def handle(raw: bytes, context: Context) -> Any:
        async with translate_errors(context, what):
            request = decode(raw)
        return await behavior(request, context)

    return handle


class Health(health.aio.HealthServicer):
    """The standard gRPC health service (grpc.health.v1.Health) for probes and monitoring.

    `Check` answers SERVING for "" (the whole server) and for HEALTH_SERVICE while the daemon
    serves, NOT_SERVING once `stopping` is set.
    """

    def __init__(self, stopping: asyncio.Event) -> None:
        super().__init__()
        self.stopping = stopping

    async def Check(self, request: health_pb2.HealthCheckRequest, context: Context) -> health_pb2.HealthCheckResponse:
        if self.stopping.is_set() and request.service in ("", HEALTH_SERVICE):
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)
        return await super().Check(request, context)


async def start_server(socket: Path, runs: RunService, stopping: asyncio.Event) -> grpc.aio.Server:
    """Bind `socket` (prepared by `service.locks.prepare_socket`) and serve `runs` on it."""
    server = grpc.aio.server(
        interceptors=[DecodeInHandlers()],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    service_pb2_grpc.add_SwanlabdServicer_to_server(Servicer(runs, stopping), server)
    health_servicer = Health(stopping)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set(HEALTH_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    server.add_insecure_port(f"unix:{socket}")  # RuntimeError if it cannot listen: the daemon reports it
    await server.start()
    return server
