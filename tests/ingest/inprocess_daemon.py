"""The daemon in the test's own process and event loop, so a test can patch what it calls
(a failing fsync, a folder creation held in its thread) and look at its run store.

Socket paths must stay short: use the `short_dir` fixture (conftest.py) as the root."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from swanlabd.service.config import DaemonConfig
from swanlabd.service.daemon import Daemon
from swanlabd_pb import service_pb2 as svc
from swanlabd_pb import service_pb2_grpc


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    """`await probe()`'s first truthy value, as helpers.waiting.wait_for, without blocking the loop
    the daemon under test runs on."""
    deadline = time.monotonic() + timeout
    while not (value := await probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.05)
    return value


async def run_summaries(stub) -> dict[str, svc.RunSummary]:
    return {r.run_id: r for r in (await stub.ListRuns(svc.ListRunsRequest())).runs}


def run_in_process_daemon(short_dir: Path, body, **config) -> None:
    """Run `await body(stub, daemon)` against a Daemon served by this process's event loop."""

    async def main():
        cfg = DaemonConfig(
            socket=short_dir / "s" / "d.sock",
            data_root=short_dir / "home",
            upload=False,
            **{"monitor_interval_s": 0, **config},
        )
        daemon = Daemon(cfg)
        ready = asyncio.Event()
        daemon.on_ready = ready.set
        task = asyncio.create_task(daemon.run())
        await asyncio.wait_for(ready.wait(), 20)
        try:
            async with grpc.aio.insecure_channel(f"unix:{cfg.socket}") as channel:
                await body(service_pb2_grpc.SwanlabdStub(channel), daemon)
        finally:
            daemon.shutdown()
            await asyncio.wait_for(task, 20)

    asyncio.run(main())


async def stream_batches(stub, run_id, batches, writer=1):
    """Send each batch on one Stream as `writer`; return (acks, the AioRpcError it ended with or None)."""
    call = stub.Stream()
    acks = []
    try:
        for i, batch in enumerate(batches):
            await call.write(
                svc.StreamRequest(run_id=run_id if i == 0 else "", writer=writer if i == 0 else 0, records=batch)
            )
            reply = await call.read()
            if reply is grpc.aio.EOF:
                break
            acks.append(reply.durable_client_seq)
        await call.done_writing()
        code = await call.code()
        if code != grpc.StatusCode.OK:
            metadata = (await call.initial_metadata(), await call.trailing_metadata())
            raise grpc.aio.AioRpcError(code, *metadata, await call.details())
    except grpc.aio.AioRpcError as exc:
        return acks, exc
    return acks, None
