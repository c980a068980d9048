"""Error translation and storage failures, with the daemon in this process (to inject a failed fsync).

A failed fsync means the kernel may have dropped pages: the run's file is broken, the batch is
answered INTERNAL, nothing is acked past it, and other runs carry on. A full disk breaks nothing:
what found no space is refused RESOURCE_EXHAUSTED ("disk full at ..."), not written, not acked,
and the same request works once space is freed (tested on a real tmpfs that fills up).
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import os
from pathlib import Path

import grpc
import plyvel
import pytest
from inprocess_daemon import eventually, run_in_process_daemon, run_summaries, stream_batches

from helpers.rawclient import client_seqs, keys, read_backup, rows
from helpers.smalldisk import SmallDisk
from swanlabd.format import backup
from swanlabd.ingest import server
from swanlabd.service.config import DaemonConfig
from swanlabd.service.daemon import Daemon
from swanlabd.storage import errors
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

DOCUMENTED = {  # service.proto's header comment
    errors.MalformedBatch: grpc.StatusCode.INVALID_ARGUMENT,
    errors.RequestError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.RunNotFound: grpc.StatusCode.NOT_FOUND,
    errors.RunExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.SequenceGap: grpc.StatusCode.FAILED_PRECONDITION,
    errors.RunClosed: grpc.StatusCode.FAILED_PRECONDITION,
    errors.DamagedRunEntry: grpc.StatusCode.FAILED_PRECONDITION,
    errors.PreconditionFailed: grpc.StatusCode.FAILED_PRECONDITION,
    errors.TooManyOpenRuns: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    errors.StorageFailure: grpc.StatusCode.INTERNAL,
    errors.DiskFull: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def test_every_request_error_has_its_documented_status_code():
    raised_in_rpcs = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.SwanlabdError) and cls is not errors.SwanlabdError
    }
    assert raised_in_rpcs == set(DOCUMENTED)
    for cls, code in DOCUMENTED.items():
        assert server.status_code(cls.__new__(cls)) == code, cls


@pytest.fixture
def failing_fsync(monkeypatch):
    """os.fsync fails with EIO for backup files once `state["fail"]` is set."""
    state = {"fail": False}
    real = os.fsync

    def fsync(fd):
        if state["fail"] and os.readlink(f"/proc/self/fd/{fd}").endswith("backup.swanlab"):
            raise OSError(errno.EIO, "Input/output error (injected)")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return state


def test_failed_fsync_in_always_mode_is_internal_and_nothing_is_acked_past_it(short_dir, failing_fsync):
    async def body(stub, daemon):
        bad = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p")))
        good = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p")))
        acks, err = await stream_batches(stub, bad.run_id, [[keys(1, {1: "x"})]])
        assert acks == [1] and err is None
        failing_fsync["fail"] = True
        acks, err = await stream_batches(stub, bad.run_id, [rows(2, 2)])
        assert acks == [] and err.code() == grpc.StatusCode.INTERNAL
        assert "fsync failed" in err.details() and "nothing past this point is acked" in err.details()
        failing_fsync["fail"] = False
        # The file stays broken even once fsync would work again: pages may be gone.
        acks, err = await stream_batches(stub, bad.run_id, [rows(2, 2)])
        assert acks == [] and err.code() == grpc.StatusCode.INTERNAL
        # Other runs are not affected.
        acks, err = await stream_batches(stub, good.run_id, [[keys(1, {1: "x"})], rows(2, 1)])
        assert acks == [1, 2] and err is None
        runs = {r.run_id: r for r in (await stub.ListRuns(svc.ListRunsRequest())).runs}
        assert "fsync failed" in runs[bad.run_id].last_error and not runs[good.run_id].last_error
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.FinishRun(svc.FinishRunRequest(run_id=bad.run_id, writer=1, last_client_seq=1))
        assert info.value.code() == grpc.StatusCode.INTERNAL

    run_in_process_daemon(short_dir, body, fsync="always")


def test_a_writer_reconnecting_after_a_failed_fsync_learns_only_what_was_synced(short_dir, failing_fsync):
    """In always mode the ack is the fsync's: the rows the failed fsync was for were written to
    the page cache, but a reconnecting client must keep them (StartRun attach answers the last
    synced client_seq), or a dead disk loses what the client believed acked."""

    async def body(stub, daemon):
        run = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p")))
        acks, err = await stream_batches(stub, run.run_id, [[keys(1, {1: "x"})], rows(2, 1)])
        assert acks == [1, 2] and err is None
        failing_fsync["fail"] = True
        acks, err = await stream_batches(stub, run.run_id, [rows(3, 1)])
        assert acks == [] and err.code() == grpc.StatusCode.INTERNAL
        again = await stub.StartRun(svc.StartRunRequest(attach=True, writer=1, start=pb.RunStart(run_id=run.run_id)))
        assert again.durable_client_seq == 2  # 3 is in the file, but no fsync covered it

    run_in_process_daemon(short_dir, body, fsync="always")


def test_failed_group_commit_breaks_the_run(short_dir, failing_fsync):
    async def body(stub, daemon):
        run = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p")))
        failing_fsync["fail"] = True
        acks, err = await stream_batches(stub, run.run_id, [[keys(1, {1: "x"})]])
        assert acks == [1]  # acked once written; the fsync comes after

        async def broken():
            summary = (await run_summaries(stub))[run.run_id]
            return summary if summary.last_error else None

        summary = await eventually(broken, 10, "the failed group commit in the run's last_error")
        assert "fsync failed" in summary.last_error
        acks, err = await stream_batches(stub, run.run_id, [rows(2, 1)])
        assert acks == [] and err.code() == grpc.StatusCode.INTERNAL

    run_in_process_daemon(short_dir, body, fsync_interval_ms=50)


GARBAGE = b"\xff\xff\xff\xff not protobuf"


@pytest.mark.parametrize(
    "method, kind",
    [
        ("/swanlabd.v1.Swanlabd/StartRun", "unary_unary"),
        ("/swanlabd.v1.Swanlabd/Sync", "unary_stream"),
        ("/swanlabd.v1.Swanlabd/Stream", "stream_stream"),
        ("/grpc.health.v1.Health/Check", "unary_unary"),
    ],
)
def test_undecodable_request_is_invalid_argument_and_the_daemon_keeps_serving(short_dir, method, kind):
    async def body(stub, daemon):
        async with grpc.aio.insecure_channel(f"unix:{daemon.config.socket}") as channel:
            raw = getattr(channel, kind)(method, request_serializer=None, response_deserializer=None)
            if kind == "stream_stream":
                call = raw()
                await call.write(GARBAGE)
                await call.done_writing()
            else:
                call = raw(GARBAGE)
            code, details = await call.code(), await call.details()
        assert (code, details.split(": Error parsing")[0]) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "the request is not a valid protobuf message",
        ), details
        reply = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p")))
        assert reply.writer == 1

    run_in_process_daemon(short_dir, body)


def test_unexpected_exception_is_internal_and_daemon_keeps_serving(short_dir, monkeypatch):
    async def body(stub, daemon):
        def boom(*a, **k):
            raise ZeroDivisionError("a bug")

        monkeypatch.setattr(daemon.store, "finish_run", boom)
        run = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p")))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.FinishRun(svc.FinishRunRequest(run_id=run.run_id, writer=1))
        assert info.value.code() == grpc.StatusCode.INTERNAL and "ZeroDivisionError" in info.value.details()
        assert (await stub.Status(svc.StatusRequest())).pid == os.getpid()

    run_in_process_daemon(short_dir, body)


def test_shutdown_is_idempotent_and_safe_before_run(short_dir):
    cfg = DaemonConfig(
        socket=short_dir / "s" / "d.sock", data_root=short_dir / "home", upload=False, monitor_interval_s=0
    )
    daemon = Daemon(cfg)
    daemon.shutdown()
    daemon.shutdown()
    asyncio.run(daemon.run())  # returns at once: shutdown was asked before it started
    assert not (short_dir / "s" / "d.sock").exists()


def test_startrun_that_failed_midway_leaves_nothing_behind_and_its_retry_succeeds(short_dir, failing_fsync):
    async def body(stub, daemon):
        request = svc.StartRunRequest(
            start=pb.RunStart(run_id="retried01", project="p", start_time_ms=1_700_000_000_000)
        )
        failing_fsync["fail"] = True  # the header's fsync fails: after the folder and its files were made
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.StartRun(request)
        assert info.value.code() == grpc.StatusCode.INTERNAL and "fsync failed" in info.value.details()
        runs = daemon.config.data_root / "runs"
        assert list(runs.iterdir()) == []
        failing_fsync["fail"] = False
        reply = await stub.StartRun(request)
        assert reply.writer == 1 and [p.name for p in runs.iterdir()] == [Path(reply.run_dir).name]
        assert Path(reply.run_dir).name.startswith("run-") and Path(reply.run_dir).name.endswith("-retried01")
        acks, err = await stream_batches(stub, "retried01", [[keys(1, {1: "x"})]])
        assert acks == [1] and err is None
        await stub.FinishRun(svc.FinishRunRequest(run_id="retried01", writer=1, last_client_seq=1))
        records = [r for r, _ in backup.read_records(Path(reply.run_dir) / backup.BACKUP_FILENAME)]
        assert [r.WhichOneof("kind") for r in records] == [
            "header",
            "run_start",
            "config",
            "metadata",
            "requirements",
            "keys",
            "finish",
        ]

    run_in_process_daemon(short_dir, body)


class FullStateDB:
    """A state DB sub-DB whose writes fail as LevelDB's do on a full disk, while `full` is set."""

    def __init__(self, db) -> None:
        self.db = db
        self.full = True

    def put(self, key: bytes, value: bytes) -> None:
        if self.full:
            raise plyvel.IOError(b"IO error: state/000003.log: No space left on device (injected)")
        self.db.put(key, value)

    def __getattr__(self, name: str):
        return getattr(self.db, name)


def test_startrun_whose_registration_failed_leaves_nothing_behind_and_its_retry_succeeds(short_dir, monkeypatch):
    """The folder is made but the state DB refuses the run's entry: the folder goes too (an
    unregistered folder would be in its retry's way, its backup still locked by the daemon)."""

    async def body(stub, daemon):
        request = svc.StartRunRequest(start=pb.RunStart(run_id="unregistered01", project="p"), pid=os.getpid())
        with monkeypatch.context() as patch:
            patch.setattr(daemon.store.state, "runs_db", FullStateDB(daemon.store.state.runs_db))
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.StartRun(request)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
        assert info.value.details().startswith("disk full at ") and "No space left on device" in info.value.details()
        assert list(daemon.store.runs_dir.iterdir()) == []
        reply = await stub.StartRun(request)
        assert (reply.run_id, reply.writer) == ("unregistered01", 1)
        await stub.FinishRun(svc.FinishRunRequest(run_id="unregistered01", writer=1))
        assert [p.name for p in daemon.store.runs_dir.iterdir()] == [Path(reply.run_dir).name]
        backup.BackupWriter.open(Path(reply.run_dir) / backup.BACKUP_FILENAME).close()  # not held by the daemon

    run_in_process_daemon(short_dir, body)


def failing_writes(monkeypatch, code: int) -> set[str]:
    """os.write fails with `code` for files under the folders in the returned set."""
    failing: set[str] = set()
    real = os.write

    def write(fd, data):
        if failing and any(os.readlink(f"/proc/self/fd/{fd}").startswith(d) for d in failing):
            raise OSError(code, f"{os.strerror(code)} (injected)")
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    return failing


@pytest.fixture
def full_disk(monkeypatch):
    """os.write fails with ENOSPC for files under the folders in the returned set."""
    return failing_writes(monkeypatch, errno.ENOSPC)


@pytest.fixture
def failing_disk(monkeypatch):
    """os.write fails with EIO for files under the folders in the returned set."""
    return failing_writes(monkeypatch, errno.EIO)


def test_failed_system_sample_write_breaks_only_that_run(short_dir, failing_disk):
    """An I/O error under the monitor's append breaks that run, like a client append's failure;
    the daemon and its other runs carry on."""
    full = failing_disk

    async def body(stub, daemon):
        bad = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p")))
        good = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p")))
        full.add(bad.run_dir + "/")

        async def broken():
            runs = await run_summaries(stub)
            return runs if runs[bad.run_id].last_error else None

        runs = await eventually(broken, 10, "the failed sample in the run's last_error")
        assert "Input/output error" in runs[bad.run_id].last_error
        full.clear()
        # The broken file stays broken; nothing is acked past the failure.
        acks, err = await stream_batches(stub, bad.run_id, [[keys(1, {1: "x"})]])
        assert acks == [] and err.code() == grpc.StatusCode.INTERNAL
        # The daemon and the other run carry on, samples included.
        acks, err = await stream_batches(stub, good.run_id, [[keys(1, {1: "x"})], rows(2, 1)])
        assert acks == [1, 2] and err is None
        before = daemon.store.active[good.run_id].system_rows

        async def sampled():
            return daemon.store.active[good.run_id].system_rows > before

        await eventually(sampled, 10, "a system row in the good run")
        assert not runs[good.run_id].last_error
        status = await stub.Status(svc.StatusRequest())
        assert status.pid == os.getpid()

    run_in_process_daemon(short_dir, body, monitor_interval_s=0.1)


def test_crash_finish_that_cannot_be_written_breaks_only_that_run(short_dir, full_disk):
    """The crash watcher's Finish{CRASHED} hitting a full disk: that run ends CRASHED with the
    storage error; the daemon carries on."""

    async def body(stub, daemon):
        proc = await asyncio.create_subprocess_exec("sleep", "60")
        try:
            run = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p"), pid=proc.pid))
            full_disk.add(run.run_dir + "/")
        finally:
            proc.kill()
            await proc.wait()

        async def crashed():
            summary = (await run_summaries(stub))[run.run_id]
            return summary if summary.state == pb.CRASHED else None

        summary = await eventually(crashed, 20, "the run marked CRASHED")
        assert "No space left on device" in summary.last_error
        full_disk.clear()
        other = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p")))
        acks, err = await stream_batches(stub, other.run_id, [[keys(1, {1: "x"})]])
        assert acks == [1] and err is None

    run_in_process_daemon(short_dir, body)


@pytest.fixture
def small_disk(short_dir):
    """The in-process daemon's data root (short_dir/home) on a 2 MiB tmpfs that really fills up."""
    with SmallDisk(short_dir / "home") as disk:
        yield disk


def test_a_full_disk_refuses_batches_then_the_run_resumes_when_space_is_freed(short_dir, small_disk):
    """Regression (issue 14, item 3): the first ENOSPC broke the run until a daemon restart."""

    async def body(stub, daemon):
        run = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p"), pid=os.getpid()))
        acks, err = await stream_batches(stub, run.run_id, [[keys(1, {1: "x"})], rows(2, 10)])
        assert acks == [1, 11] and err is None
        small_disk.fill()
        # 1,000 rows (~30 KiB) outgrow what the file's last page may have left.
        acks, err = await stream_batches(stub, run.run_id, [rows(12, 1000)])
        assert acks == [] and err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
        assert err.details().startswith("disk full at ") and "No space left on device" in err.details()
        assert "nothing is lost" in err.details().lower()
        summary = (await run_summaries(stub))[run.run_id]
        assert summary.state == pb.RUNNING and summary.last_error.startswith("disk full at "), summary

        small_disk.free()
        # The client's replay of what was refused: no restart, no reopening.
        acks, err = await stream_batches(stub, run.run_id, [rows(12, 1000)])
        assert acks == [1011] and err is None

        async def cleared():
            summary = (await run_summaries(stub))[run.run_id]
            return summary if not summary.last_error else None

        await eventually(cleared, 5, "the disk-full error cleared from ls")
        await stub.FinishRun(svc.FinishRunRequest(run_id=run.run_id, writer=1, last_client_seq=1011))
        summary = (await run_summaries(stub))[run.run_id]
        assert summary.state == pb.FINISHED and not summary.last_error
        records = read_backup(run.run_dir)
        assert client_seqs(records) == list(range(1, 1012))  # every acked record once, in order
        assert records[-1].HasField("finish")

    run_in_process_daemon(short_dir, body, fsync_interval_ms=100)


def test_a_finish_that_finds_the_disk_full_is_refused_and_the_run_stays_open(short_dir, full_disk):
    """Regression (issue 14, item 3): the run was closed FINISHED without its Finish record."""

    async def body(stub, daemon):
        run = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p"), pid=os.getpid()))
        acks, err = await stream_batches(stub, run.run_id, [[keys(1, {1: "x"})]])
        assert acks == [1] and err is None
        full_disk.add(run.run_dir + "/")
        request = svc.FinishRunRequest(run_id=run.run_id, writer=1, last_client_seq=1)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.FinishRun(request)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
        assert info.value.details().startswith("disk full at ")
        summary = (await run_summaries(stub))[run.run_id]
        assert summary.state == pb.RUNNING and summary.last_error.startswith("disk full at ")
        full_disk.clear()
        await stub.FinishRun(request)  # the client's retry
        summary = (await run_summaries(stub))[run.run_id]
        assert summary.state == pb.FINISHED and not summary.last_error
        assert read_backup(run.run_dir)[-1].finish.state == pb.FINISHED

    run_in_process_daemon(short_dir, body)


def test_startrun_on_a_full_disk_leaves_nothing_behind_and_succeeds_once_space_is_freed(short_dir, small_disk):
    """Regression (issue 14, item 3): a run started on a full disk was an INTERNAL error, which sent
    the client to write the folder itself on the same full disk."""

    async def body(stub, daemon):
        small_disk.fill()
        request = svc.StartRunRequest(
            start=pb.RunStart(run_id="startedfull01", project="p"),
            config=pb.Config(json='{"blob": "' + "x" * 20_000 + '"}'),
            pid=os.getpid(),
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.StartRun(request)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
        assert info.value.details().startswith("disk full at ")
        assert os.listdir(daemon.store.runs_dir) == []  # no half-made or empty folder in a retry's way
        small_disk.free()
        reply = await stub.StartRun(request)
        assert reply.run_id == "startedfull01" and reply.writer == 1
        assert os.listdir(daemon.store.runs_dir) == [Path(reply.run_dir).name]

    run_in_process_daemon(short_dir, body)


def test_a_full_state_db_loses_no_run_state_and_logs_no_unexpected_error(short_dir, monkeypatch, caplog):
    """Regression (issue 14, item 3): ENOSPC in the state DB was an "unexpected error" traceback
    for FinishRun and left the finished (or crashed) run RUNNING."""

    async def body(stub, daemon):
        proc = await asyncio.create_subprocess_exec("sleep", "60")
        finished = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p"), pid=os.getpid()))
        crashed = await stub.StartRun(svc.StartRunRequest(start=pb.RunStart(project="p"), pid=proc.pid))
        acks, err = await stream_batches(stub, finished.run_id, [[keys(1, {1: "x"})], rows(2, 5)])
        assert acks == [1, 6] and err is None
        full = FullStateDB(daemon.store.state.runs_db)
        monkeypatch.setattr(daemon.store.state, "runs_db", full)
        # The group commit saves the counts of the written run: it must keep going.
        acks, err = await stream_batches(stub, finished.run_id, [rows(7, 5)])
        assert acks == [11] and err is None
        await stub.FinishRun(svc.FinishRunRequest(run_id=finished.run_id, writer=1, last_client_seq=11))
        proc.kill()
        await proc.wait()

        async def both_ended():
            runs = await run_summaries(stub)
            done = runs[finished.run_id].state == pb.FINISHED and runs[crashed.run_id].state == pb.CRASHED
            return runs if done else None

        runs = await eventually(both_ended, 10, "FINISHED and CRASHED shown while the state DB is full")
        for run in runs.values():
            assert run.last_error.startswith("disk full at ") and "state" in run.last_error, run
        assert daemon.state.get_run(finished.run_id).state.name == "RUNNING"  # not saved yet
        assert (await stub.Status(svc.StatusRequest())).pid == os.getpid()

        full.full = False

        async def saved():
            runs = await run_summaries(stub)
            return runs if not any(r.last_error for r in runs.values()) else None

        await eventually(saved, 10, "the run states saved once the state DB takes writes")
        assert daemon.state.get_run(finished.run_id).state.name == "FINISHED"
        assert daemon.state.get_run(crashed.run_id).state.name == "CRASHED"
        assert daemon.state.get_run(finished.run_id).records == len(read_backup(finished.run_dir))

    with caplog.at_level("INFO", logger="swanlabd"):
        run_in_process_daemon(short_dir, body, fsync_interval_ms=50)
    assert not [r for r in caplog.records if "unexpected" in r.getMessage()], caplog.text
