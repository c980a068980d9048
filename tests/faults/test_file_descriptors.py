"""The daemon out of file descriptors (EMFILE): it stays up, the runs it holds go on, new runs
are refused with an error until descriptors are free again.

The limit is the daemon's own RLIMIT_NOFILE, lowered from outside (tests/helpers/faults.py), so
the daemon meets EMFILE exactly where it would with a thousand runs open.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.faults import limit_open_files
from helpers.rawclient import client_seqs, finish, keys, read_backup, rows, start_run, stream
from helpers.waiting import wait_for
from swanlabd_pb import service_pb2 as svc


@pytest.fixture
def monitored() -> Iterator[DaemonProcess]:
    # The host monitor samples every 0.2 s: it opens /proc files, and must survive EMFILE too.
    d = DaemonProcess(env={"SWANLABD_MONITOR_INTERVAL_S": "0.2"})
    try:
        d.start()
        yield d
    finally:
        d.close()


def test_out_of_file_descriptors_the_daemon_keeps_its_runs_and_refuses_new_ones(monitored: DaemonProcess) -> None:
    d = monitored
    stub = d.stub()
    held = start_run(stub, name="held")
    assert stream(stub, held.run_id, 1, [[keys(1, {1: "x"})], rows(2, 10)]) == [1, 11]
    assert d.pid is not None
    before = limit_open_files(d.pid, 3)
    codes = []
    for i in range(8):
        try:
            start_run(stub, name=f"new{i}")
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as exc:
            codes.append(exc.code())
    refused = [code for code in codes if code != grpc.StatusCode.OK]
    assert refused, "eight new runs fit in three descriptors"
    assert grpc.StatusCode.UNKNOWN not in refused, codes  # an error of the daemon's own, not an accident
    # Still up and serving after the monitor's next samples: the held run takes rows and finishes.
    wait_for(lambda: d.stub().Status(svc.StatusRequest(), timeout=10).pid == d.pid, 10, "Status answered")
    assert stream(stub, held.run_id, 1, [rows(12, 10)]) == [21]
    finish(stub, held.run_id, 1, 21)
    assert client_seqs(read_backup(held.run_dir)) == list(range(1, 22))
    # Descriptors back: new runs work again, without a restart.
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, before)
    assert start_run(stub, name="after").run_id
    assert d.proc is not None and d.proc.poll() is None


CLIENT = """
import swanlab_client as s
run = s.init(project="p", experiment_name="crowded", mode="offline")
for step in range(50):
    s.log({"x": float(step)}, step=step)
s.finish()
print(run.run_dir)
"""


def test_a_run_the_daemon_has_no_room_for_is_written_by_its_client_which_says_why(monitored: DaemonProcess) -> None:
    d = monitored
    assert d.pid is not None
    before = limit_open_files(d.pid, 3)
    env = {**d.env, "SWANLAB_CLIENT_AUTOSTART": "0"}
    done = subprocess.run([sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # Not "no swanlabd could be reached": the daemon answered, and the warning says what it said.
    assert "swanlabd cannot take the run (" in done.stderr and "too many open runs" in done.stderr, done.stderr
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, before)
    run_dir = Path(done.stdout.strip())
    view = read_view(run_dir)  # every row, written by the client itself
    assert view.rows[1] == [(step, {"x": float(step)}) for step in range(50)] and view.finish is not None
