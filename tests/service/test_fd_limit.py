"""A daemon short of file descriptors (RLIMIT_NOFILE 64, soft and hard, so it cannot raise it):
new runs are refused with a clear RESOURCE_EXHAUSTED before the descriptors run out, the runs it
holds go on, a finished run makes room; EMFILE in the monitor, the crash watch or the server's
accept costs a round, never the daemon."""

from __future__ import annotations

import os
import re
import resource
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from helpers.daemon import DaemonProcess
from helpers.rawclient import client_seqs, finish, keys, kinds, read_backup, rows, start_run, stream
from helpers.waiting import wait_for
from swanlabd.service.fdlimit import FD_HEADROOM
from swanlabd_pb import service_pb2 as svc

FD_LIMIT = 64


class LowFdDaemon(DaemonProcess):
    """A daemon started with RLIMIT_NOFILE = (soft, hard)."""

    def __init__(self, soft: int, hard: int, **kw) -> None:
        super().__init__(**kw)
        self.fd_limits = (soft, hard)

    def spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                self.command(),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, self.fd_limits),
            )


@pytest.fixture
def low_fd_daemon() -> Iterator[DaemonProcess]:
    """With the host monitor on, every 0.1 s: it reads /proc as the crash watch does."""
    d = LowFdDaemon(FD_LIMIT, FD_LIMIT, env={"SWANLABD_MONITOR_INTERVAL_S": "0.1"})
    try:
        d.start()
        yield d
    finally:
        d.close()


def fds_of(d: DaemonProcess) -> int:
    return len(os.listdir(f"/proc/{d.pid}/fd"))


def start_if_room(stub) -> svc.StartRunReply | None:
    """StartRun; None if refused for want of descriptors."""
    try:
        return start_run(stub)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
            raise
        return None


def test_new_runs_are_refused_before_the_fd_limit_and_a_finished_run_makes_room(low_fd_daemon):
    d = low_fd_daemon
    stub = d.stub()
    opened = []
    with pytest.raises(grpc.RpcError) as info:
        for _ in range(FD_LIMIT):  # each run holds its backup file open: the limit comes first
            run = start_run(stub)
            assert stream(stub, run.run_id, 1, [[keys(1, {1: "x"})]]) == [1]
            opened.append(run)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
    assert re.fullmatch(
        rf"too many open runs: {len(opened)} runs open, \d+ of the fd limit {FD_LIMIT} in use "
        rf"\(swanlabd keeps {FD_HEADROOM} free for itself\); finish runs, or raise `ulimit -n` "
        r"\(LimitNOFILE= under systemd\) and restart swanlabd",
        info.value.details(),
    ), info.value.details()
    assert len(opened) >= 5
    assert fds_of(d) < FD_LIMIT - FD_HEADROOM // 2  # refused well before running out
    # The daemon is up, and every run it holds takes rows and system metrics as before.
    for run in opened:
        assert stream(stub, run.run_id, 1, [rows(2, 3)]) == [4]
    wait_for(lambda: all("system" in kinds(read_backup(run.run_dir)) for run in opened), 20, "system rows in every run")
    finish(stub, opened[0].run_id, 1, 4)
    fresh = wait_for(lambda: start_if_room(stub), 10, "a new run once a run finished")
    assert stream(stub, fresh.run_id, 1, [[keys(1, {1: "x"})], rows(2, 1)]) == [1, 2]
    finish(stub, fresh.run_id, 1, 2)
    for run in opened[1:]:
        finish(stub, run.run_id, 1, 4)
    for run in opened:
        assert client_seqs(read_backup(run.run_dir)) == [1, 2, 3, 4]
    assert d.proc.poll() is None


def test_emfile_costs_the_monitor_and_crash_watch_a_round_never_the_daemon(low_fd_daemon):
    d = low_fd_daemon
    stub = d.stub()
    run = start_run(stub)
    assert stream(stub, run.run_id, 1, [[keys(1, {1: "x"})]]) == [1]
    idle: list[socket.socket] = []

    def connect_one() -> bool:
        # A connection that never speaks holds one of the daemon's descriptors (once accepted).
        s = socket.socket(socket.AF_UNIX)
        idle.append(s)
        s.connect(str(d.socket))
        return fds_of(d) >= FD_LIMIT

    try:
        wait_for(connect_one, 30, "every descriptor of the daemon in use")

        def starved() -> bool:
            # The count above may have included a descriptor the daemon held for a moment (a /proc
            # read): once it is closed, the monitor and the crash watch could take turns with it.
            # So one more connection waits in the backlog each round, and the daemon's next
            # accept takes any descriptor that comes free.
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(1)
            idle.append(s)
            try:
                s.connect(str(d.socket))
            except (TimeoutError, BlockingIOError):
                pass  # the backlog is full: enough connections wait
            return d.proc.poll() is not None or all(
                f"{task}: [Errno 24]" in d.output() for task in ("system metrics", "crash watch")
            )

        try:
            wait_for(starved, 30, "the monitor and the crash watch out of descriptors", interval=0.2)
        except AssertionError as exc:  # say which one never failed, and what the daemon said
            raise AssertionError(f"{exc}; {fds_of(d)} descriptors in use; daemon:\n{d.output()[-4000:]}") from None
        assert d.proc.poll() is None, d.output()[-2000:]
        # A run the daemon holds still takes rows: appending needs no new descriptor. A new run is
        # answered with an error.
        assert stream(stub, run.run_id, 1, [rows(2, 2)]) == [3]
        assert start_if_room(stub) is None
    finally:
        for s in idle:
            s.close()
    wait_for(
        lambda: all(f"{task}: works again" in d.output() for task in ("system metrics", "crash watch")),
        30,
        "the monitor and the crash watch back",
    )
    finish(stub, run.run_id, 1, 3)
    assert client_seqs(read_backup(run.run_dir)) == [1, 2, 3]
    assert start_run(stub).writer == 1
    assert d.proc.poll() is None


def test_the_daemon_raises_its_soft_fd_limit_to_the_hard_one():
    with LowFdDaemon(FD_LIMIT, 4 * FD_LIMIT) as d:
        limits = (Path(f"/proc/{d.pid}/limits")).read_text()
    assert re.search(rf"^Max open files +{4 * FD_LIMIT} +{4 * FD_LIMIT} +files", limits, re.M), limits
