"""Property: however peers' starts, rows, finishes, deaths and crash-watch rounds interleave, the
shared run is open exactly while one of its processes lives, ends with the last one's ending
(FINISHED at a finish, CRASHED when the crash watch finds the last one dead), takes every row a
live writer sends, and its file holds each acked row exactly once (docs/daemon.md, "Peers").

Hypothesis drives the run store (no gRPC) with up to three processes. Which pids live is a table
the test keeps in place of /proc (the store's `process_alive` and `process_start_time`): dying is
one assignment, so any order of deaths and rounds can be drawn. tests/service/test_peers.py has
the same rules with real processes, journals and the daemon as a process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from swanlabd.format import backup, scalarcodec
from swanlabd.format.runstate import RunState
from swanlabd.storage import runstore
from swanlabd.storage.runstore import RunStore
from swanlabd.storage.state import State
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

RUN_ID = "shared-1"
PIDS = (1001, 1002, 1003)
# Starts and finishes weigh more than deaths and watch rounds: most runs then get peers.
KINDS = ["start"] * 3 + ["log"] * 2 + ["finish"] * 2 + ["kill", "watch"]
OPS = st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(PIDS)), max_size=30)


class Processes:
    """The pid table the store sees in place of /proc: a pid lives until it is killed."""

    def __init__(self) -> None:
        self.alive: set[int] = set(PIDS)

    def process_alive(self, pid: int, started: float) -> bool:
        return pid in self.alive

    def process_start_time(self, pid: int) -> float:
        return float(pid) if pid in self.alive else 0.0


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Processes]:
    table = Processes()
    monkeypatch.setattr(runstore, "process_alive", table.process_alive)
    monkeypatch.setattr(runstore, "process_start_time", table.process_start_time)
    yield table


def start_request(pid: int) -> svc.StartRunRequest:
    return svc.StartRunRequest(start=pb.RunStart(project="p", run_id=RUN_ID, resume="allow"), pid=pid)


def row(cs: int, step: int, value: float) -> pb.Record:
    return pb.Record(client_seq=cs, scalars=pb.ScalarRows(steps=[step], row_sizes=[1], key_ids=[1], values=[value]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
# The maker finishes first; a peer finishes while the maker lies dead, unseen; the maker dies,
# seen, while its peer logs on; a resume after the run ended.
@example(ops=[("start", 1001), ("start", 1002), ("finish", 1001), ("log", 1002), ("finish", 1002)])
@example(ops=[("start", 1001), ("start", 1002), ("kill", 1001), ("finish", 1002), ("watch", 0)])
@example(ops=[("start", 1001), ("start", 1002), ("kill", 1001), ("watch", 0), ("log", 1002), ("finish", 1002)])
@example(ops=[("start", 1001), ("finish", 1001), ("start", 1002), ("log", 1002), ("kill", 1002), ("watch", 0)])
def test_the_run_ends_with_its_last_process_and_keeps_every_acked_row(
    tmp_path_factory: pytest.TempPathFactory, processes: Processes, ops: list[tuple[str, int]]
) -> None:
    processes.alive = set(PIDS)
    home = tmp_path_factory.mktemp("peers")
    asyncio.run(drive(home, processes, ops))


async def drive(home: Path, processes: Processes, ops: list[tuple[str, int]]) -> None:
    state = State(home / "state")
    store = RunStore(home / "runs", state)
    writers: dict[int, int] = {}  # pid -> its writer id, while it writes the run
    seqs: dict[int, int] = {}  # writer -> its last client_seq
    acked: dict[int, list[float]] = {}  # writer -> the values of its acked rows
    dead_unseen: set[int] = set()  # pids killed while they wrote, not yet seen by a watch round
    run_dir = ""
    ended: RunState | None = None  # the state the model says the run ended in, while it is ended
    try:
        for op, pid in ops:
            if op == "start" and pid in processes.alive:
                run, writer, _ = await store.start_run(start_request(pid))
                run_dir = run.info.run_dir
                if pid in writers:
                    assert writer == writers[pid]  # a retried StartRun: the same writer
                writers[pid] = writer
                seqs.setdefault(writer, 0)
                ended = None
            elif op == "log" and pid in writers and pid in processes.alive:
                writer = writers[pid]
                run = store.active[RUN_ID]  # open: a live process writes it
                batch = []
                if seqs[writer] == 0:
                    seqs[writer] += 1
                    batch.append(pb.Record(client_seq=1, keys=pb.KeyDefs(keys=[pb.KeyDef(id=1, name="v")])))
                seqs[writer] += 1
                value = writer * 1000 + seqs[writer]
                batch.append(row(seqs[writer], seqs[writer], value))
                assert store.append_batch(run, writer, batch) == seqs[writer]
                acked.setdefault(writer, []).append(value)
            elif op == "finish" and pid in writers and pid in processes.alive:
                writer = writers.pop(pid)
                await store.finish_run(RUN_ID, writer, seqs[writer], pb.Finish(state=pb.FINISHED))
                if not [p for p in writers if p in processes.alive]:
                    ended = RunState.FINISHED
                    writers.clear()  # the dead ones' rows are read at the close; none writes now
                    dead_unseen.clear()
            elif op == "kill" and pid in processes.alive:
                processes.alive.discard(pid)
                if pid in writers:
                    dead_unseen.add(pid)
            elif op == "watch":
                for run, writer in store.dead_writers():
                    await store.writer_died(run, writer)
                for pid in dead_unseen:
                    writers.pop(pid, None)
                if dead_unseen and not writers:
                    ended = RunState.CRASHED
                dead_unseen.clear()
            info = state.get_run(RUN_ID)
            if info is not None:
                want = RunState.RUNNING if ended is None else ended
                assert info.state == want, (op, pid, info)
                assert (RUN_ID in store.active) == (ended is None)
        if run_dir:
            values: dict[int, list[float]] = {}
            for r, _ in backup.read_records(Path(run_dir) / backup.BACKUP_FILENAME):
                if r.WhichOneof("kind") == "scalars":
                    values.setdefault(r.writer, []).extend(scalarcodec.decode(r.scalars).values)
            assert values == acked
    finally:
        await store.close_all()
        state.close()
