"""The seam between the servicer and the daemon: ingest.ports.RunService and its service side.

The servicer is served here over a fake RunService (no Daemon, no run store), so what it owns
shows on its own: request shape, error translation, the stopping flag. The credential rules are
checked on DaemonRuns.keep_credentials, their one writer.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from swanlabd.ingest import server
from swanlabd.ingest.ports import DaemonStatus, RunView, Started
from swanlabd.service.config import DaemonConfig
from swanlabd.service.runservice import DaemonRuns
from swanlabd.storage import errors
from swanlabd.storage.runstore import RunStore
from swanlabd.storage.state import RunInfo, State
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc
from swanlabd_pb import service_pb2_grpc


class FakeRuns:
    """A RunService that answers StartRun from a table: run id -> reply, or the error to raise."""

    def __init__(self, answers: dict[str, Started | Exception]) -> None:
        self.answers = answers

    async def start(self, request: svc.StartRunRequest) -> Started:
        answer = self.answers[request.start.run_id]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def open_stream(self, run_id: str, writer: int):
        raise errors.RunNotFound(run_id)

    async def append(self, run, writer: int, records) -> int:
        raise AssertionError("no stream gets this far")

    def stream_ended(self) -> None:
        pass

    async def finish(self, run_id: str, writer: int, last_client_seq: int, finish: pb.Finish) -> int:
        return last_client_seq

    def status(self) -> DaemonStatus:
        return DaemonStatus(socket="s", data_root="d", started_ms=1, active_runs=[], queued_bytes=0)

    def list_runs(self) -> list[RunView]:
        info = RunInfo(run_id="r1", run_dir="/runs/r1", mode="MODE_CLOUD", backup_bytes=100)
        return [RunView(info, uploaded_bytes=40, uploading=True, cloud_url="https://c/r1")]

    async def sync(self, request: svc.SyncRequest) -> AsyncIterator[svc.SyncProgress]:
        yield svc.SyncProgress(run_id="r1", done=True)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))  # unix socket paths must stay short
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_servicer_serves_a_run_service_and_translates_its_errors(short_dir: Path) -> None:
    runs = FakeRuns(
        {
            "ok": Started("ok", "/runs/ok", writer=1, durable_client_seq=0),
            "taken": errors.RunExists("taken"),
            "bug": ZeroDivisionError("a bug"),
        }
    )

    async def main() -> None:
        stopping = asyncio.Event()
        socket = short_dir / "d.sock"
        srv = await server.start_server(socket, runs, stopping)
        try:
            async with grpc.aio.insecure_channel(f"unix:{socket}") as channel:
                stub = service_pb2_grpc.SwanlabdStub(channel)
                reply = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(run_id="ok")))
                assert (reply.run_id, reply.run_dir, reply.writer) == ("ok", "/runs/ok", 1)
                for run_id, code in (("taken", grpc.StatusCode.ALREADY_EXISTS), ("bug", grpc.StatusCode.INTERNAL)):
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(run_id=run_id)))
                    assert info.value.code() == code, run_id
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.FinishRun(svc.FinishRunRequest(run_id="ok"))  # no writer: malformed
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                (summary,) = (await stub.ListRuns(svc.ListRunsRequest())).runs
                assert summary.bytes_not_uploaded == 60 and summary.uploading and summary.mode == pb.MODE_CLOUD
                assert [p.run_id async for p in stub.Sync(svc.SyncRequest())] == ["r1"]

                stopping.set()
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(run_id="ok")))
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
                health = health_pb2_grpc.HealthStub(channel)
                check = await health.Check(health_pb2.HealthCheckRequest(service=server.HEALTH_SERVICE))
                assert check.status == health_pb2.HealthCheckResponse.NOT_SERVING
        finally:
            await srv.stop(None)

    asyncio.run(main())


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[DaemonRuns]:
    state = State(tmp_path / "state")
    config = DaemonConfig(socket=tmp_path / "d.sock", data_root=tmp_path / "home", upload=False)
    yield DaemonRuns(config, RunStore(config.data_root, state), None, started_ms=0, on_stream_end=lambda: None)
    state.close()


def cloud(key: str) -> svc.Cloud:
    return svc.Cloud(api_host="https://api.example", web_host="https://web.example", api_key=key)


@pytest.mark.parametrize(
    ("mode", "own_key", "kept"),
    [
        ("MODE_CLOUD", "script-key", "script-key"),  # a cloud run keeps what its script resolved
        ("MODE_CLOUD", "", "sync-key"),  # ... unless its script had none
        ("MODE_OFFLINE", "script-key", "sync-key"),  # any other run uploads with the caller's
        ("MODE_OFFLINE", "", "sync-key"),
    ],
)
def test_sync_credentials_replace_a_runs_own_only_outside_cloud_mode(
    runs: DaemonRuns, mode: str, own_key: str, kept: str
) -> None:
    runs.state.put_run(RunInfo(run_id="r1", run_dir="/runs/r1", mode=mode))
    runs.keep_credentials("r1", cloud(own_key), from_script=True)
    runs.keep_credentials("r1", cloud("sync-key"), from_script=False)
    assert (runs.state.get_cloud("r1") or {}).get("api_key") == kept


def test_a_script_key_replaces_the_stored_one_and_no_key_writes_nothing(runs: DaemonRuns) -> None:
    runs.state.put_run(RunInfo(run_id="r1", run_dir="/runs/r1", mode="MODE_CLOUD"))
    runs.keep_credentials("r1", cloud(""), from_script=True)
    assert runs.state.get_cloud("r1") is None
    runs.keep_credentials("r1", cloud("first"), from_script=True)
    runs.keep_credentials("r1", cloud("resumed"), from_script=True)  # resume: the new script's key
    assert runs.state.get_cloud("r1") == {
        "api_host": "https://api.example",
        "web_host": "https://web.example",
        "api_key": "resumed",
    }
