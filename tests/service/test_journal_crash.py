"""A dead writer's journal (docs/journal.md), against the daemon as a process: the rows its
journal holds past what it streamed are appended before Finish{CRASHED}, each row exactly once,
and the journal file is deleted; also when the daemon was SIGKILLed and restarted between the
stream and the writer's death (journal path from the state DB, journal end from the backup).

The writer is a stand-in process the daemon watches; the test writes its journal for it, as the
client's mapping would leave it, and speaks the wire protocol itself (helpers/rawclient.py).
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import grpc
import pytest

from helpers.journalfile import Ring, chunks
from helpers.rawclient import client_seqs, keys, kinds, read_backup, run_summary, start_run, stream
from helpers.standin import sleeper
from helpers.waiting import wait_for
from swanlabd.format import scalarcodec
from swanlabd_pb import records_pb2 as pb

CRASH_BOUND_S = 5.0


def die(proc: subprocess.Popen, how: int) -> None:
    if how == signal.SIGKILL:
        proc.kill()
    else:
        proc.terminate()
    proc.wait()


def write_rows(ring: Ring, first: int, count: int, n: int = 2) -> None:
    for i in range(first, first + count):
        ring.row((i, 1_700_000_000.0 + i / 100, tuple(range(1, n + 1)), tuple(i + k / 8 for k in range(n))))


def points(records: list[pb.Record], writer: int = 1) -> list[tuple[int, int, float]]:
    """Every (step, key id, value) of the writer's scalars, in file order."""
    out = []
    for r in records:
        if r.writer == writer and r.WhichOneof("kind") == "scalars":
            rows = scalarcodec.decode(r.scalars)
            i = 0
            for step, size in zip(rows.steps, rows.row_sizes, strict=True):
                out += [(step, rows.key_ids[i + k], rows.values[i + k]) for k in range(size)]
                i += size
    return out


def expected(count: int, n: int = 2) -> list[tuple[int, int, float]]:
    return [(i, k + 1, i + k / 8) for i in range(count) for k in range(n)]


def crashed(stub, run_id: str) -> bool:
    return run_summary(stub, run_id).state == pb.CRASHED


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "exit"])
def test_the_rows_a_dead_writer_did_not_stream_are_read_from_its_journal(daemon, tmp_path: Path, how: int) -> None:
    stub = daemon.stub()
    proc = sleeper()
    try:
        path = tmp_path / "journal"
        ring = Ring(1 << 16, pid=proc.pid)
        ring.key(1, "loss")
        ring.key(2, "acc")
        ring.save(path)
        run = start_run(stub, pid=proc.pid, journal=str(path))
        write_rows(ring, 0, 900)  # 64-byte rows: most of a lap of 64 KiB
        streamed = ring.position
        batch = chunks(ring, 2, 0, streamed)
        assert stream(stub, run.run_id, 1, [[keys(1, {1: "loss", 2: "acc"}), *batch]]) == [1 + len(batch)]
        # What log() packed after the last range the sender shipped (on into the next lap, over
        # bytes the daemon acked), then the process dies.
        write_rows(ring, 900, 700)
        assert ring.position > ring.capacity
        ring.save(path)
    finally:
        die(proc, how)
    wait_for(lambda: crashed(stub, run.run_id), CRASH_BOUND_S, "CRASHED")
    records = read_backup(run.run_dir)
    assert points(records) == expected(1600)
    assert kinds(records)[-1] == "finish" and records[-1].finish.state == pb.CRASHED
    assert client_seqs(records) == list(range(1, max(client_seqs(records)) + 1))
    tail = [r for r in records if r.writer == 1 and r.client_seq > 1 + len(batch)]
    assert [r.WhichOneof("kind") for r in tail] == ["scalars"]  # its keys were defined on the Stream
    assert tail[0].journal_end == ring.position
    assert not path.exists()
    # The run is over: a late Stream append (a batch still in flight) is refused, nothing added.
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, run.run_id, 1, [chunks(ring, tail[-1].client_seq + 1, ring.position, ring.position)])
    assert info.value.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)
    assert len(read_backup(run.run_dir)) == len(records)


def test_a_writer_that_streamed_nothing_has_all_its_rows_and_keys_read(daemon, tmp_path: Path) -> None:
    stub = daemon.stub()
    proc = sleeper()
    try:
        path = tmp_path / "journal"
        ring = Ring(1 << 20, pid=proc.pid)
        ring.key(1, "loss")
        ring.key(2, "acc")
        write_rows(ring, 0, 10_000)  # 20,000 scalars: more than one record's worth
        ring.save(path)
        run = start_run(stub, pid=proc.pid, journal=str(path))
    finally:
        die(proc, signal.SIGKILL)
    wait_for(lambda: crashed(stub, run.run_id), CRASH_BOUND_S, "CRASHED")
    records = read_backup(run.run_dir)
    assert points(records) == expected(10_000)
    mine = [r for r in records if r.writer == 1]
    assert [r.WhichOneof("kind") for r in mine] == ["keys", "scalars", "scalars"]
    assert {(k.id, k.name) for k in mine[0].keys.keys} == {(1, "loss"), (2, "acc")}
    assert [r.client_seq for r in mine] == [1, 2, 3]
    assert sum(len(scalarcodec.decode(r.scalars).values) for r in mine[1:2]) == 16_384
    assert mine[-1].journal_end == ring.position
    assert records[-1].finish.state == pb.CRASHED
    assert not path.exists()


def test_a_daemon_restarted_between_the_stream_and_the_writers_death_reads_the_tail(daemon, tmp_path: Path) -> None:
    stub = daemon.stub()
    proc = sleeper()
    try:
        path = tmp_path / "journal"
        ring = Ring(1 << 16, pid=proc.pid)
        ring.key(1, "loss")
        ring.key(2, "acc")
        write_rows(ring, 0, 300)
        ring.save(path)
        run = start_run(stub, pid=proc.pid, journal=str(path))
        batch = chunks(ring, 2, 0, ring.position)
        stream(stub, run.run_id, 1, [[keys(1, {1: "loss", 2: "acc"}), *batch]])
        daemon.kill(signal.SIGKILL)
        write_rows(ring, 300, 200)  # logged while no daemon answered
        ring.save(path)
    finally:
        die(proc, signal.SIGKILL)
    daemon.start()
    stub = daemon.stub()
    wait_for(lambda: crashed(stub, run.run_id), CRASH_BOUND_S, "CRASHED after restart")
    records = read_backup(run.run_dir)
    assert points(records) == expected(500)
    assert records[-1].finish.state == pb.CRASHED
    assert not path.exists()


def test_a_journal_that_cannot_be_trusted_is_skipped_and_the_run_still_crashes(daemon, tmp_path: Path) -> None:
    stub = daemon.stub()
    proc = sleeper()
    try:
        path = tmp_path / "journal"
        ring = Ring(1 << 16, pid=proc.pid)
        ring.key(1, "loss")
        write_rows(ring, 0, 10, n=1)
        ring.save(path)
        run = start_run(stub, pid=proc.pid, journal=str(path))
        stream(stub, run.run_id, 1, [[keys(1, {1: "loss"})]])
        path.write_bytes(b"not a journal")  # replaced (say, by a writer of another version)
    finally:
        die(proc, signal.SIGKILL)
    wait_for(lambda: crashed(stub, run.run_id), CRASH_BOUND_S, "CRASHED")
    records = read_backup(run.run_dir)
    assert points(records) == [] and records[-1].finish.state == pb.CRASHED
    assert "journal not read" in daemon.output()
    assert path.read_bytes() == b"not a journal"  # only a journal is deleted: this may be anyone's file
