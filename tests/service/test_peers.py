"""Peers (docs/daemon.md, "Peers"): processes whose init() joined one run with resume="allow"
while another live process wrote it, as torchrun ranks do. The run ends at the finish of the last
of them, whichever order their finishes (or deaths) come in; a dead peer's journal is read as a
crashed primary's is. Against the daemon as a process; the writers are stand-in processes the
daemon watches, and the test speaks the wire protocol for them (helpers/rawclient.py).
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import grpc
import pytest

from helpers.journalfile import Ring, chunks
from helpers.rawclient import finish, keys, read_backup, run_summary, stream
from helpers.standin import sleeper
from helpers.waiting import wait_for
from swanlabd.format import scalarcodec
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

RUN_ID = "shared-run-1"
CRASH_BOUND_S = 5.0


def join(stub, pid: int, journal: Path | None = None) -> svc.StartRunReply:
    """init(id=RUN_ID, resume="allow") of process `pid`."""
    start = pb.RunStart(project="proj", experiment_name="shared", mode=pb.MODE_OFFLINE, run_id=RUN_ID, resume="allow")
    return stub.StartRun(svc.StartRunRequest(start=start, pid=pid, journal=str(journal or "")), timeout=10)


def log_rows(stub, writer: int, first_step: int, count: int, first_cs: int = 1) -> int:
    """`count` rows of `rank<writer>` as writer `writer` (its key defined first); its last client_seq."""
    batch = [keys(first_cs, {1: f"rank{writer}"})]
    for i in range(count):
        step = first_step + i
        rows = pb.ScalarRows(steps=[step], row_sizes=[1], key_ids=[1], values=[step + writer / 10])
        batch.append(pb.Record(client_seq=first_cs + 1 + i, scalars=rows))
    [ack] = stream(stub, RUN_ID, writer, [batch])
    return ack


def points(run_dir: str) -> dict[int, list[tuple[int, float]]]:
    """writer -> every (step, value) of its scalars in file order."""
    out: dict[int, list[tuple[int, float]]] = {}
    for r in read_backup(run_dir):
        if r.WhichOneof("kind") == "scalars":
            rows = scalarcodec.decode(r.scalars)
            out.setdefault(r.writer, []).extend(zip(rows.steps, rows.values, strict=True))
    return out


def finishes(run_dir: str) -> list[tuple[int, int]]:
    """(writer, state) of every Finish record in the file."""
    return [(r.writer, r.finish.state) for r in read_backup(run_dir) if r.WhichOneof("kind") == "finish"]


def state(stub) -> int:
    return run_summary(stub, RUN_ID).state


@pytest.fixture
def processes():
    procs: list[subprocess.Popen] = []

    def make() -> subprocess.Popen:
        procs.append(sleeper())
        return procs[-1]

    yield make
    for proc in procs:
        proc.kill()
        proc.wait()


def test_a_peer_that_finishes_first_leaves_the_run_to_the_process_that_made_it(daemon, processes) -> None:
    stub = daemon.stub()
    rank0, rank1 = processes(), processes()
    made = join(stub, rank0.pid)
    joined = join(stub, rank1.pid)
    assert (made.writer, joined.writer) == (1, 2) and joined.run_dir == made.run_dir
    finish(stub, RUN_ID, 2, log_rows(stub, 2, 0, 5))
    assert state(stub) == pb.RUNNING
    # rank 0's rows come after rank 1's finish (its sender was slower): taken, not refused.
    finish(stub, RUN_ID, 1, log_rows(stub, 1, 0, 5))
    assert state(stub) == pb.FINISHED
    assert points(made.run_dir) == {w: [(s, s + w / 10) for s in range(5)] for w in (1, 2)}
    assert finishes(made.run_dir) == [(1, pb.FINISHED)]


def test_when_the_process_that_made_the_run_finishes_first_its_peer_goes_on_with_it(daemon, processes) -> None:
    """The order the ranks' StartRuns land in is not the order of their init()s: whichever made
    the run, the run ends at the last finish."""
    stub = daemon.stub()
    rank0, rank1 = processes(), processes()
    made = join(stub, rank0.pid)
    join(stub, rank1.pid)
    finish(stub, RUN_ID, 1, log_rows(stub, 1, 0, 3), state=pb.FINISHED)
    assert state(stub) == pb.RUNNING
    # Writer 1 is done: a late batch of it is refused, nothing added.
    with pytest.raises(grpc.RpcError) as refused:
        stream(stub, RUN_ID, 1, [[keys(9, {2: "late"})]])
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finish(stub, RUN_ID, 2, log_rows(stub, 2, 0, 3))
    assert state(stub) == pb.FINISHED
    assert points(made.run_dir) == {w: [(s, s + w / 10) for s in range(3)] for w in (1, 2)}
    assert finishes(made.run_dir) == [(2, pb.FINISHED)]


def test_a_retried_start_of_a_peer_gets_its_writer_again(daemon, processes) -> None:
    stub = daemon.stub()
    rank0, rank1 = processes(), processes()
    join(stub, rank0.pid)
    assert join(stub, rank1.pid).writer == 2
    assert join(stub, rank1.pid).writer == 2  # its reply was lost: the same writer, not a third
    assert join(stub, rank0.pid).writer == 1


@pytest.mark.parametrize("who", ["maker", "peer"])
def test_a_dead_writer_s_journal_is_read_and_the_run_goes_on_with_the_live_one(
    daemon, processes, tmp_path: Path, who: str
) -> None:
    stub = daemon.stub()
    rank0, rank1 = processes(), processes()
    dying, living = (rank0, rank1) if who == "maker" else (rank1, rank0)
    ring = Ring(1 << 16, pid=dying.pid)
    ring.key(1, "loss")
    journal = ring.save(tmp_path / "journal")
    made = join(stub, rank0.pid, journal if dying is rank0 else None)
    join(stub, rank1.pid, journal if dying is rank1 else None)
    dead, alive = (1, 2) if who == "maker" else (2, 1)
    # What log() packed, some of it streamed, then the process is killed.
    ends = [ring.row((step, 1_700_000_000.0 + step, (1,), (step / 4,))) for step in range(20)]
    streamed = ends[9]
    batch = [keys(1, {1: "loss"}), *chunks(ring, 2, 0, streamed)]
    stream(stub, RUN_ID, dead, [batch])
    ring.save(journal)
    dying.send_signal(signal.SIGKILL)
    dying.wait()

    def settled() -> bool:
        return not journal.exists()

    wait_for(settled, CRASH_BOUND_S, "the dead writer's journal read and deleted")
    assert state(stub) == pb.RUNNING
    finish(stub, RUN_ID, alive, log_rows(stub, alive, 0, 2))
    assert state(stub) == pb.FINISHED
    got = points(made.run_dir)
    assert got[dead] == [(step, step / 4) for step in range(20)]  # each row once, the tail included
    assert got[alive] == [(s, s + alive / 10) for s in range(2)]
    assert finishes(made.run_dir) == [(alive, pb.FINISHED)]


def test_the_run_crashes_when_its_last_writer_dies(daemon, processes) -> None:
    stub = daemon.stub()
    rank0, rank1 = processes(), processes()
    join(stub, rank0.pid)
    join(stub, rank1.pid)
    finish(stub, RUN_ID, 2, log_rows(stub, 2, 0, 1))
    rank0.kill()
    rank0.wait()
    wait_for(lambda: state(stub) == pb.CRASHED, CRASH_BOUND_S, "CRASHED")


def test_a_resume_of_a_run_whose_writer_is_gone_takes_it_over(daemon, processes) -> None:
    """No peers without a live writer: the resumer is the new primary writer (a resume after a crash)."""
    stub = daemon.stub()
    rank0, rank1 = processes(), processes()
    made = join(stub, rank0.pid)
    rank0.kill()
    rank0.wait()
    wait_for(lambda: state(stub) == pb.CRASHED, CRASH_BOUND_S, "CRASHED")
    assert join(stub, rank1.pid).writer == 2
    finish(stub, RUN_ID, 2, log_rows(stub, 2, 0, 1))
    assert state(stub) == pb.FINISHED
    assert finishes(made.run_dir) == [(0, pb.CRASHED), (2, pb.FINISHED)]
