"""The fallback file (FileTransport): what a client writes when no daemon can be reached, and how
the next daemon takes it in."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from backups import read_run
from runner import ls, wait_line

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlabd.format.backup import BACKUP_FILENAME, read_records
from swanlabd_pb import records_pb2 as pb

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
    content = read_run(started["run_dir"])
    assert content.rows[1] == [(0, {"a": 1.0})]
    assert content.rows[2] == [(1, {"a": 2.0}), (2, {"a": 3.0})]
    daemon.start()
    (run,) = wait_for(lambda: [r for r in ls(daemon) if r["state"] != "RUNNING"], 30, "the run settled")
    assert run["run_id"] == RUN_ID
    assert run["state"] == "FINISHED", run
    *_, (last, _) = read_records(Path(started["run_dir"]) / BACKUP_FILENAME)
    assert last.writer == 2 and last.finish.state == pb.FINISHED
