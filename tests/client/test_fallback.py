"""The fallback file (FileTransport): what a client writes when no daemon can be reached, and how
the next daemon takes it in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runner import ls, wait_line

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlab_client._transport import FileTransport
from swanlabd.format.backup import BACKUP_FILENAME, read_records
from swanlabd.local import runfolder
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

RUN_ID = "resumedrun01"

FIRST = f"""
import swanlab_client as s
s.init(project="p", experiment_name="resume", id={RUN_ID!r}, mode="offline")
s.log({{"a": 1.0}}, step=0)
s.finish()
"""

# Resumes the run, waits until the daemon holds its first row, says so, then waits for a line on
# stdin (the test kills the daemon meanwhile) and logs and finishes on the fallback file.
RESUMED = f"""
import json, sys, time
import swanlab_client as s
run = s.init(project="p", id={RUN_ID!r}, resume="allow", mode="offline")
s.log({{"a": 2.0}}, step=1)
sender = run.sender
while run._queue or sender.unacked or sender.durable < sender.next_cs - 1:
    time.sleep(0.01)
print("DURABLE " + json.dumps({{"writer": run.writer, "run_dir": str(run.run_dir)}}), flush=True)
sys.stdin.readline()
s.log({{"a": 3.0}}, step=2)
s.finish()
"""


def test_a_resumed_run_that_finishes_on_the_fallback_file_ends_finished(daemon: DaemonProcess):
    """A resumed run has a new primary writer (2): its Finish on the fallback file must count."""
    env = {**daemon.env, "SWANLAB_CLIENT_AUTOSTART": "0"}
    subprocess.run([sys.executable, "-c", FIRST], env=env, check=True, timeout=60)
    proc = subprocess.Popen(
        [sys.executable, "-c", RESUMED],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = json.loads(wait_line(proc, "DURABLE ").split(" ", 1)[1])
        assert started["writer"] == 2  # resume="allow" made it the run's new primary writer
        daemon.kill(signal.SIGKILL)
        out, err = proc.communicate("go\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "writing run" in err, err  # it finished on the fallback file
    content = read_view(started["run_dir"])
    assert content.rows[1] == [(0, {"a": 1.0})]
    assert content.rows[2] == [(1, {"a": 2.0}), (2, {"a": 3.0})]
    daemon.start()
    (run,) = wait_for(lambda: [r for r in ls(daemon) if r["state"] != "RUNNING"], 30, "the run settled")
    assert run["run_id"] == RUN_ID
    assert run["state"] == "FINISHED", run
    *_, (last, _) = read_records(Path(started["run_dir"]) / BACKUP_FILENAME)
    assert last.writer == 2 and last.finish.state == pb.FINISHED


RESUMED_ALONE = f"""
import swanlab_client as s
run = s.init(project="p", id={RUN_ID!r}, resume="must", mode="offline")
s.log({{"a": 2.0}})
s.log({{"a": 3.0}})
s.finish()
print(run.writer, run.run_dir)
"""


def test_a_run_resumed_with_no_daemon_writes_as_a_new_writer_and_goes_on_after_its_steps(daemon: DaemonProcess):
    env = {**daemon.env, "SWANLAB_CLIENT_AUTOSTART": "0"}
    subprocess.run([sys.executable, "-c", FIRST], env=env, check=True, timeout=60)
    daemon.stop()
    out = subprocess.run([sys.executable, "-c", RESUMED_ALONE], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "writing run" in out.stderr, out.stderr  # on the fallback file
    writer, run_dir = out.stdout.split()
    assert writer == "2"  # writer 1's rows are the first run's: a writer 1 here would be dropped as replays
    content = read_view(run_dir)
    assert content.rows[1] == [(0, {"a": 1.0})]
    assert content.rows[2] == [(1, {"a": 2.0}), (2, {"a": 3.0})]  # automatic steps after step 0
    daemon.start()
    (run,) = wait_for(lambda: [r for r in ls(daemon) if r["state"] != "RUNNING"], 30, "the run settled")
    assert run["state"] == "FINISHED" and run["records"] == len(list(read_records(Path(run_dir) / BACKUP_FILENAME)))


def start_request(run_id: str) -> svc.StartRunRequest:
    return svc.StartRunRequest(
        start=pb.RunStart(run_id=run_id, project="p", start_time_ms=1_767_225_600_000),
        config=pb.Config(json='{"lr": 0.001}'),
        metadata=pb.Metadata(json='{"hostname": "h"}'),
        requirements=pb.Requirements(pip="numpy==2.0\n"),
        pid=os.getpid(),
    )


def test_the_fallback_makes_the_run_folder_as_the_daemon_does(tmp_path: Path):
    transport = FileTransport(tmp_path)
    try:
        reply = transport.start(start_request("folder1"))
    finally:
        transport.close()
    run_dir = Path(reply.run_dir)
    assert run_dir.parent == tmp_path / "runs"
    assert run_dir.name == runfolder.run_folder_name("folder1", 1_767_225_600_000)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run_dir.name]  # no temporary folder left
    assert json.loads((run_dir / "files" / "config.yaml").read_text()) == {"lr": 0.001}
    assert json.loads((run_dir / "files" / "swanlab-metadata.json").read_text()) == {"hostname": "h"}
    assert (run_dir / "files" / "requirements.txt").read_text() == "numpy==2.0\n"
    records = [record for record, _ in read_records(run_dir / BACKUP_FILENAME)]
    assert [r.WhichOneof("kind") for r in records] == ["header", "run_start", "config", "metadata", "requirements"]
    assert all(r.writer == 0 for r in records)
    assert records[1].run_start.pid == os.getpid() and records[1].run_start.run_id == "folder1"


def test_the_fallback_reopens_only_the_folder_of_its_own_run(tmp_path: Path):
    runs = tmp_path / "runs"
    # Run "x-abc" sorts first and its folder name ends in "-abc" too.
    (runs / runfolder.run_folder_name("x-abc", 1_000)).mkdir(parents=True)
    assert runfolder.find_run_folder(runs, "abc") is None
    own = runs / runfolder.run_folder_name("abc", 2_000)
    own.mkdir()
    assert runfolder.find_run_folder(runs, "abc") == own


def test_a_folder_in_the_way_is_never_replaced(tmp_path: Path):
    request = start_request("inway")
    run_dir = tmp_path / "runs" / runfolder.run_folder_name("inway", request.start.start_time_ms)
    run_dir.mkdir(parents=True)
    (run_dir / "notes.txt").write_text("someone's\n")
    with pytest.raises(runfolder.FolderInTheWay):
        runfolder.create(run_dir, runfolder.new_run_start(request, "inway"), request)
    assert [p.name for p in run_dir.iterdir()] == ["notes.txt"]
    assert [p.name for p in run_dir.parent.iterdir()] == [run_dir.name]  # the temporary folder is gone


STOPPED = """
import json, time
import swanlab_client as s
run = s.init(project="p", experiment_name="stopped", mode="offline", settings=s.Settings(connect_timeout_s=0.5))
for step in range(50):
    s.log({"a": float(step)}, step=step)
started = time.monotonic()
s.finish()
print(json.dumps({"finish_s": time.monotonic() - started, "run_dir": str(run.run_dir)}), flush=True)
"""


def test_a_stopped_daemon_is_handled_as_a_dead_one(daemon: DaemonProcess):
    """SIGSTOP: the socket accepts, nothing answers. The run goes to the fallback file, as with no daemon."""
    assert daemon.pid is not None
    os.kill(daemon.pid, signal.SIGSTOP)
    try:
        done = subprocess.run(
            [sys.executable, "-c", STOPPED], env=daemon.env, capture_output=True, text=True, timeout=120
        )
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    assert done.returncode == 0, done.stderr
    assert "writing run" in done.stderr, done.stderr
    result = json.loads(done.stdout)
    assert result["finish_s"] < 30, result  # the sender gave up on the daemon before finish(); finish_timeout_s is 90
    content = read_view(result["run_dir"])
    assert content.rows[1] == [(step, {"a": float(step)}) for step in range(50)]
    assert content.finish is not None and content.finish.state == pb.FINISHED
