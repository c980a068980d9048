"""A resume that comes while the run's last writer's FinishRun is closing it (torchrun ranks whose
StartRuns land late, CI at 9683dc0): the resume waits for the close, then reopens the ended run as
its new primary writer. Before, it cleared the close half way, the close then ended the run under
the new writer, and the new writer's rows were refused. The run store without gRPC; the close is
held in its worker thread so the resume comes in the middle of it, deterministically.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.standin import sleeper
from swanlabd.format import backup
from swanlabd.format.runstate import RunState
from swanlabd.storage.runstore import RunStore
from swanlabd.storage.state import State
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc


@pytest.fixture
def other_process() -> Iterator[int]:
    proc = sleeper()
    yield proc.pid
    proc.kill()
    proc.wait()


def request(pid: int) -> svc.StartRunRequest:
    return svc.StartRunRequest(start=pb.RunStart(project="p", run_id="shared-1", resume="allow"), pid=pid)


def test_a_resume_during_the_close_waits_for_it_and_reopens_the_run(
    tmp_path: Path, state: State, other_process: int
) -> None:
    async def main() -> None:
        store = RunStore(tmp_path / "home", state)
        run, writer, _ = await store.start_run(request(os.getpid()))
        release = threading.Event()
        close = run.close_blocking

        def held_close() -> None:
            release.wait(30)
            close()

        run.close_blocking = held_close  # type: ignore[method-assign]
        finishing = asyncio.create_task(store.finish_run("shared-1", writer, 0, pb.Finish(state=pb.FINISHED)))
        while not run.closing:
            await asyncio.sleep(0.001)
        resuming = asyncio.create_task(store.start_run(request(other_process)))
        done, _ = await asyncio.wait({resuming}, timeout=0.2)
        assert not done  # it waits for the close: no writer while the run is half closed
        release.set()
        await finishing
        reopened, new_writer, _ = await resuming
        assert reopened is not run and new_writer == 2
        assert reopened.info.primary_writer == 2 and reopened.info.pid == other_process
        assert store.state.get_run("shared-1").state == RunState.RUNNING
        store.append_batch(reopened, 2, [pb.Record(client_seq=1, keys=pb.KeyDefs(keys=[pb.KeyDef(id=1, name="a")]))])
        await store.finish_run("shared-1", 2, 1, pb.Finish(state=pb.FINISHED))
        assert store.state.get_run("shared-1").state == RunState.FINISHED
        kinds = [(r.writer, r.WhichOneof("kind")) for r, _ in backup.read_records(run.path)]
        assert kinds[-3:] == [(1, "finish"), (2, "keys"), (2, "finish")]
        await store.close_all()

    asyncio.run(main())
