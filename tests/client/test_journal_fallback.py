"""A process SIGKILLed while on the no-daemon fallback file (docs/journal.md): the daemon that
adopts or reopens the folder later reads the rows its journal holds past what reached the file,
from the journal its last RunStart names. Every row log() returned for is stored exactly once,
the run ends CRASHED, and the journal file is deleted.

The scripts stop their sender from writing (its transport's send() blocks) once part of their
rows is in the file, so the rest is only in the journal when they kill themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from runner import ls

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlabd.format.backup import BACKUP_FILENAME, read_records
from swanlabd_pb import records_pb2 as pb

ROWS = 4000
RUN_ID = "journalfallback1"

# Logs ROWS rows: the first half reaches the fallback file, the second only the journal; then
# SIGKILL right after the last log() returned.
KILLED = """
import json, os, signal, sys, threading, time
import swanlab_client as s
{init}
journal = run._journal
assert run.sender.on_fallback, "not on the fallback file"
for step in range({first}, {first} + {half}):
    s.log({{"a": float(step), "b": step / 8}}, step=step)
while journal.acked < journal.pos:  # the first half is in the fallback file
    time.sleep(0.01)
run.sender.transport.send = lambda records: threading.Event().wait()  # the sender writes no more
for step in range({first} + {half}, {first} + 2 * {half}):
    s.log({{"a": float(step), "b": step / 8}}, step=step)
print(json.dumps({{"journal": str(journal.path), "run_dir": str(run.run_dir), "writer": run.writer}}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_script(init: str, first: int = 0) -> str:
    return KILLED.format(init=init, first=first, half=ROWS // 2)


def run_killed(env: dict[str, str], script: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert "writing run" in done.stderr, done.stderr  # on the fallback file
    return json.loads(done.stdout)


def expected(first: int, count: int) -> list[tuple[int, dict[str, float]]]:
    return [(step, {"a": float(step), "b": step / 8}) for step in range(first, first + count)]


def settled(daemon: DaemonProcess) -> list[dict]:
    return [r for r in ls(daemon) if r["state"] != "RUNNING"]


def test_a_run_killed_on_the_fallback_file_gets_its_journal_rows_when_a_daemon_adopts_it(daemon_paths):
    env = {**daemon_paths.env, "SWANLAB_CLIENT_AUTOSTART": "0"}  # no daemon, none started: the fallback
    init = f'run = s.init(project="p", experiment_name="killed", id={RUN_ID!r}, mode="offline")'
    out = run_killed(env, killed_script(init))
    journal = Path(out["journal"])
    assert journal.parent == daemon_paths.socket.parent / "journals"
    assert journal.exists()  # nobody read it yet
    before = read_view(out["run_dir"])
    assert before.rows[1] == expected(0, ROWS // 2) and before.finish is None
    assert before.run_start is not None and before.run_start.journal == str(journal)

    daemon_paths.start()  # adopts the folder at its start
    (run,) = wait_for(lambda: settled(daemon_paths), 30, "the run settled")
    assert run["run_id"] == RUN_ID and run["state"] == "CRASHED", run
    after = read_view(out["run_dir"])
    assert after.rows[1] == expected(0, ROWS)  # every row once, in order
    records = [r for r, _ in read_records(Path(out["run_dir"]) / BACKUP_FILENAME)]
    assert records[-1].finish.state == pb.CRASHED
    assert not journal.exists()
    assert "did not stream read from its journal" in daemon_paths.output()


FIRST = f"""
import swanlab_client as s
s.init(project="p", experiment_name="first", id={RUN_ID!r}, mode="offline")
s.log({{"a": -1.0, "b": -1.0}}, step=0)
s.finish()
"""


def test_a_run_resumed_and_killed_on_the_fallback_file_gets_its_new_writers_journal_rows(daemon: DaemonProcess):
    """The daemon made the folder and knows the run FINISHED; a process resumes it with no daemon
    (a new writer, 2, with its own journal: the fallback appends a RunStart naming them) and is
    killed. The restarted daemon settles the grown file from that writer's journal."""
    env = {**daemon.env, "SWANLAB_CLIENT_AUTOSTART": "0"}
    subprocess.run([sys.executable, "-c", FIRST], env=env, check=True, timeout=60)
    daemon.stop()
    init = f'run = s.init(project="p", id={RUN_ID!r}, resume="must", mode="offline")'
    out = run_killed(env, killed_script(init, first=1))
    assert out["writer"] == 2
    journal = Path(out["journal"])
    before = read_view(out["run_dir"])
    assert before.run_start is not None
    assert (before.run_start.primary_writer, before.run_start.journal) == (2, str(journal))
    assert before.rows[2] == expected(1, ROWS // 2)

    daemon.start()
    (run,) = wait_for(lambda: settled(daemon), 30, "the run settled")
    assert run["state"] == "CRASHED", run
    after = read_view(out["run_dir"])
    assert after.rows[1] == [(0, {"a": -1.0, "b": -1.0})]
    assert after.rows[2] == expected(1, ROWS)
    records = [r for r, _ in read_records(Path(out["run_dir"]) / BACKUP_FILENAME)]
    assert records[-1].finish.state == pb.CRASHED
    assert not journal.exists()
