"""Requests cancelled mid-work: StartRun is all or nothing under cancellation and retry (issue 14, item 2).

A StartRun past its deadline, or whose client went away (killed during init()), is cancelled on
the daemon while its folder is still being made in a worker thread. Whatever the moment, the
run then either is registered whole, and the retry with the same run id gets it, or nothing of
it is left: no folder, no open and locked backup, no registry entry. Never a folder that its
retry finds in the way (ALREADY_EXISTS, then NOT_FOUND) and adoption finds locked.

The same holds for the reopening of a run's file that any request may start (a FinishRun for a
run the daemon does not hold yet): a cancelled caller never leaves that file open and locked.

The in-process tests hold the file work in its worker thread (`Held`) and watch the run store's
method (`Watched`), so each cancellation lands mid-work by construction. The last test does it
the way a sweep does, against a real daemon.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from inprocess_daemon import eventually, run_in_process_daemon, run_summaries, stream_batches

from helpers.rawclient import client_seqs, finish, keys, read_backup, rows, stream
from swanlabd.format import backup
from swanlabd.local import runfolder
from swanlabd.storage.runstore import RunStore
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

START_TIME_MS = 1_700_000_000_000  # a retry sends the very request again, start time included

# A training process of its own that starts a cloud run and waits for the answer: argv = socket,
# run id, start time.
CLIENT = """
import os, sys, grpc
from swanlabd_pb import records_pb2 as pb, service_pb2 as svc, service_pb2_grpc
stub = service_pb2_grpc.SwanlabdStub(grpc.insecure_channel("unix:" + sys.argv[1]))
start = pb.RunStart(run_id=sys.argv[2], project="p", start_time_ms=int(sys.argv[3]), mode=pb.MODE_CLOUD)
cloud = svc.Cloud(api_host="https://api.invalid", api_key="key-of-the-killed-client")
stub.StartRun(svc.StartRunRequest(start=start, cloud=cloud, pid=os.getpid()), timeout=60)
"""


class Held:
    """`owner.name`, a function the daemon runs in a worker thread, held there until `release()`;
    counts the calls begun and ended."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
        self.begun = 0
        self.ended = 0
        self._open = threading.Event()
        self._count = threading.Lock()
        real = getattr(owner, name)

        def held(*args, **kwargs):
            with self._count:
                self.begun += 1
            self._open.wait(30)
            try:
                return real(*args, **kwargs)
            finally:
                with self._count:
                    self.ended += 1

        monkeypatch.setattr(owner, name, staticmethod(held) if isinstance(owner, type) else held)

    def release(self) -> None:
        self._open.set()


class Watched:
    """A method of the daemon's run store, counting the calls that reached it and those cancelled in it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, store: RunStore, name: str) -> None:
        self.entered = 0
        self.cancelled = 0
        real = getattr(store, name)

        async def watched(*args):
            self.entered += 1
            try:
                return await real(*args)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise

        monkeypatch.setattr(store, name, watched)


async def until(predicate: Callable[[], object], what: str, timeout: float = 10) -> object:
    async def probe():
        return predicate()

    return await eventually(probe, timeout, what)


def start_request(run_id: str, pid: int | None = None) -> svc.StartRunRequest:
    return svc.StartRunRequest(
        start=pb.RunStart(run_id=run_id, project="p", start_time_ms=START_TIME_MS),
        pid=os.getpid() if pid is None else pid,
    )


async def use_the_run(stub, run_id: str, count: int = 5, writer: int = 1) -> None:
    """Stream a key and `count` rows as `writer`, finish, and check the run ended FINISHED with them."""
    acks, err = await stream_batches(stub, run_id, [[keys(1, {1: "x"})], rows(2, count)], writer)
    assert err is None and acks == [1, count + 1]
    await stub.FinishRun(svc.FinishRunRequest(run_id=run_id, writer=writer, last_client_seq=count + 1))
    summary = (await run_summaries(stub))[run_id]
    assert summary.state == pb.FINISHED
    assert client_seqs(read_backup(summary.run_dir), writer) == list(range(1, count + 2))


async def assert_nothing_left_over(stub, store: RunStore, expected: dict[str, int]) -> None:
    """Only the expected runs (run id -> final state) exist, one folder each, none held open or locked,
    and an adoption pass finds nothing more."""
    await store.adopt_new()
    summaries = await run_summaries(stub)
    assert {run_id: s.state for run_id, s in summaries.items()} == expected
    assert sorted(p.name for p in store.runs_dir.iterdir()) == sorted(Path(s.run_dir).name for s in summaries.values())
    assert not store.active
    for s in summaries.values():
        backup.BackupWriter.open(Path(s.run_dir) / backup.BACKUP_FILENAME).close()  # BackupLocked if a writer leaked


def test_startrun_past_its_deadline_leaves_the_run_to_its_retry(short_dir, monkeypatch):
    held = Held(monkeypatch, runfolder, "create")

    async def body(stub, daemon):
        starts = Watched(monkeypatch, daemon.store, "start_run")
        request = start_request("deadline01")
        first = stub.StartRun(request, timeout=2.0)
        await until(lambda: held.begun == 1, "the folder creation began")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await first
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await until(lambda: starts.cancelled == 1, "the daemon's StartRun cancelled at the deadline")
        held.release()
        await until(lambda: held.ended == 1, "the folder creation of the cancelled StartRun ended")
        reply = await stub.StartRun(request, timeout=10)
        assert (reply.run_id, reply.writer, reply.durable_client_seq) == ("deadline01", 1, 0)
        assert held.begun == 1
        await use_the_run(stub, "deadline01")
        await assert_nothing_left_over(stub, daemon.store, {"deadline01": pb.FINISHED})

    run_in_process_daemon(short_dir, body)


def test_retry_of_a_cancelled_startrun_joins_the_creation_in_flight(short_dir, monkeypatch):
    held = Held(monkeypatch, runfolder, "create")

    async def body(stub, daemon):
        starts = Watched(monkeypatch, daemon.store, "start_run")
        request = start_request("joined01")
        first = stub.StartRun(request, timeout=30)
        await until(lambda: held.begun == 1, "the folder creation began")
        first.cancel()  # the client went away
        await until(lambda: starts.cancelled == 1, "the daemon's StartRun cancelled")
        retry = asyncio.ensure_future(stub.StartRun(request, timeout=30))
        await until(lambda: starts.entered == 2, "the retry reached the run store")
        held.release()
        (outcome,) = await asyncio.gather(retry, return_exceptions=True)
        assert held.begun == 1, f"the retry made the folder a second time, racing the first creation: {outcome!r}"
        assert (outcome.run_id, outcome.writer, outcome.durable_client_seq) == ("joined01", 1, 0)
        await use_the_run(stub, "joined01")
        await assert_nothing_left_over(stub, daemon.store, {"joined01": pb.FINISHED})

    run_in_process_daemon(short_dir, body)


def test_client_killed_during_startrun_leaves_a_run_the_crash_watch_ends_crashed(short_dir, monkeypatch):
    held = Held(monkeypatch, runfolder, "create")

    async def body(stub, daemon):
        starts = Watched(monkeypatch, daemon.store, "start_run")
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENT, str(daemon.config.socket), "killed01", str(START_TIME_MS)
        )
        try:
            await until(lambda: held.begun == 1, "the client's folder creation began", timeout=30)
        finally:
            client.send_signal(signal.SIGKILL)
            await client.wait()
        await until(lambda: starts.cancelled == 1, "the daemon's StartRun cancelled when its client died")
        held.release()

        async def crashed():
            summary = (await run_summaries(stub)).get("killed01")
            return summary if summary is not None and summary.state == pb.CRASHED else None

        summary = await eventually(crashed, 10, "the killed client's run marked CRASHED")
        last = read_backup(summary.run_dir)[-1]
        assert last.WhichOneof("kind") == "finish" and last.finish.state == pb.CRASHED
        # Whole: with the credentials its script resolved, as if its StartRun had been answered.
        assert (daemon.store.state.get_cloud("killed01") or {}).get("api_key") == "key-of-the-killed-client"
        await assert_nothing_left_over(stub, daemon.store, {"killed01": pb.CRASHED})

    run_in_process_daemon(short_dir, body)


def test_cancelled_startrun_of_a_process_already_gone_leaves_nothing(short_dir, monkeypatch):
    """Its process was gone before the daemon could note it (pid_started 0): no crash watch could
    ever end such a run, and no caller waits for it, so the creation is undone."""
    held = Held(monkeypatch, runfolder, "create")

    async def body(stub, daemon):
        starts = Watched(monkeypatch, daemon.store, "start_run")
        gone = await asyncio.create_subprocess_exec("true")
        await gone.wait()
        first = stub.StartRun(start_request("gone01", pid=gone.pid), timeout=30)
        await until(lambda: held.begun == 1, "the folder creation began")
        first.cancel()
        await until(lambda: starts.cancelled == 1, "the daemon's StartRun cancelled")
        held.release()
        runs = daemon.store.runs_dir
        await until(lambda: held.ended == 1 and not any(runs.iterdir()), "the abandoned run's folder removed")
        await assert_nothing_left_over(stub, daemon.store, {})
        # Its id is free again: a new StartRun creates it afresh.
        reply = await stub.StartRun(start_request("gone01"), timeout=10)
        assert (reply.run_id, reply.writer) == ("gone01", 1)
        await use_the_run(stub, "gone01")
        await assert_nothing_left_over(stub, daemon.store, {"gone01": pb.FINISHED})

    run_in_process_daemon(short_dir, body)


def test_resume_cancelled_while_the_run_is_reopened_is_completed_for_its_retry(short_dir, monkeypatch):
    async def body(stub, daemon):
        await stub.StartRun(start_request("resumed01"), timeout=10)
        await use_the_run(stub, "resumed01")
        held = Held(monkeypatch, RunStore, "_open_and_scan")
        starts = Watched(monkeypatch, daemon.store, "start_run")
        request = start_request("resumed01")
        request.start.resume = "allow"
        first = stub.StartRun(request, timeout=30)
        await until(lambda: held.begun == 1, "the reopening of the finished run began")
        first.cancel()
        await until(lambda: starts.cancelled == 1, "the daemon's StartRun cancelled")
        held.release()
        await until(lambda: held.ended == 1, "the reopening ended")
        reply = await stub.StartRun(request, timeout=10)
        assert (reply.run_id, reply.writer, reply.durable_client_seq) == ("resumed01", 2, 0)
        assert held.begun == 1
        await use_the_run(stub, "resumed01", writer=2)
        await assert_nothing_left_over(stub, daemon.store, {"resumed01": pb.FINISHED})

    run_in_process_daemon(short_dir, body)


def test_finishrun_cancelled_while_the_run_is_reopened_leaves_it_to_its_retry(short_dir, monkeypatch):
    """A RUNNING run the daemon does not hold (its client wrote the folder itself while no daemon
    answered, then let go of it) is reopened by the first request for it."""

    async def body(stub, daemon):
        request = start_request("fallback01")
        run_dir = daemon.store.runs_dir / runfolder.run_folder_name("fallback01", START_TIME_MS)
        file = runfolder.create(run_dir, runfolder.new_run_start(request, "fallback01"), request)
        await daemon.store.adopt_new()  # its writer (this process) lives: RUNNING, not held
        assert (await run_summaries(stub))["fallback01"].state == pb.RUNNING and not daemon.store.active
        file.close()
        held = Held(monkeypatch, RunStore, "_open_and_scan")
        finishes = Watched(monkeypatch, daemon.store, "finish_run")
        finish_request = svc.FinishRunRequest(run_id="fallback01", writer=1, last_client_seq=0)
        first = stub.FinishRun(finish_request, timeout=30)
        await until(lambda: held.begun == 1, "the reopening began")
        first.cancel()
        await until(lambda: finishes.cancelled == 1, "the daemon's FinishRun cancelled")
        held.release()
        await until(lambda: held.ended == 1, "the reopening ended")
        await stub.FinishRun(finish_request, timeout=10)
        await assert_nothing_left_over(stub, daemon.store, {"fallback01": pb.FINISHED})

    run_in_process_daemon(short_dir, body)


def test_sweep_of_startruns_cut_short_by_their_deadlines_loses_no_run(daemon):
    """20 processes start at once, as a sweep does; each StartRun gets a deadline of a few ms (the
    client's 3 s under a heavy load) and is retried with a doubled one until it is answered."""
    n_runs, n_rows = 20, 30
    stub = daemon.stub()
    barrier = threading.Barrier(n_runs)

    def one_run(i: int) -> tuple[str, list[grpc.StatusCode]]:
        request = start_request(f"sweep{i:02d}")
        run_id = request.start.run_id
        timeout = random.Random(i).uniform(0.001, 0.03)
        failures: list[grpc.StatusCode] = []
        barrier.wait(30)
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = stub.StartRun(request, timeout=timeout)
                break
            except grpc.RpcError as exc:
                failures.append(exc.code())
                if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED or time.monotonic() > deadline:
                    raise AssertionError(f"{run_id}: StartRun {[c.name for c in failures]}: {exc.details()}") from None
                timeout = min(timeout * 2, 5.0)
        assert (reply.run_id, reply.writer, reply.durable_client_seq) == (run_id, 1, 0)
        acks = stream(stub, run_id, 1, [[keys(1, {1: "x"})], rows(2, n_rows)])
        assert acks == [1, n_rows + 1]
        finish(stub, run_id, 1, n_rows + 1)
        return reply.run_dir, failures

    with ThreadPoolExecutor(n_runs) as pool:
        results = list(pool.map(one_run, range(n_runs)))
    assert any(failures for _, failures in results), "no StartRun ran past its deadline: the test tried nothing"

    def check() -> None:
        summaries = {s.run_id: s for s in daemon.stub().ListRuns(svc.ListRunsRequest(), timeout=10).runs}
        assert sorted(summaries) == [f"sweep{i:02d}" for i in range(n_runs)]
        assert {s.state for s in summaries.values()} == {pb.FINISHED}
        assert sorted(p.name for p in daemon.runs()) == sorted(Path(d).name for d, _ in results)
        for s in summaries.values():
            assert client_seqs(read_backup(s.run_dir)) == list(range(1, n_rows + 2)), s.run_id
            backup.BackupWriter.open(Path(s.run_dir) / backup.BACKUP_FILENAME).close()

    check()
    daemon.stop()  # and across a restart: nothing to adopt, nothing RUNNING
    daemon.start()
    check()
