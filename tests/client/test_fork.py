"""Fork safety: a process that forks while its sender streams keeps working, and so do its children.

The design (swanlab_client/_relay.py): the parent's gRPC channel and sender are never used in a
child; a child that logs attaches to the same run as a new writer through a relay process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from swanlabd_pb import records_pb2 as pb

FORKER = Path(__file__).parent / "scripts" / "forker.py"


@pytest.mark.slow
def test_hundred_forks_while_streaming_no_hang_and_every_value_kept(daemon: DaemonProcess):
    result = subprocess.run(
        [
            sys.executable,
            str(FORKER),
            "--children",
            "100",
            "--log-every",
            "4",
            "--child-rows",
            "200",
            "--join-timeout",
            "60",
        ],
        env=daemon.env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr  # 3 = a child hung, 4 = a child failed
    summary = json.loads(result.stdout.splitlines()[-1])
    content = read_view(summary["run_dir"])
    assert content.lost == []
    parent = content.rows[1]
    assert parent == [(s, {"parent/value": float(s), "parent/half": s / 2}) for s in range(summary["parent_rows"])]
    children = {}
    for writer, rows in content.rows.items():
        if writer == 1:
            continue
        values = [r["child/value"] for _, r in rows]
        i = int(values[0]) // 100000
        assert i not in children, f"child {i} logged through two writers"
        children[i] = rows
    assert sorted(children) == summary["logging_children"]
    for i, rows in children.items():
        assert rows == [(j, {"child/value": float(i * 100000 + j)}) for j in range(200)]
    assert content.finish.state == pb.FINISHED


def test_a_child_that_never_logs_costs_no_connection(daemon: DaemonProcess):
    script = (
        "import os, swanlab_client as s\n"
        "s.init(project='p', mode='offline')\n"
        "s.log({'a': 1})\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "s.finish()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=daemon.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (run_dir,) = daemon.runs()
    content = read_view(run_dir)
    assert list(content.rows) == [1]  # no second writer attached


def test_after_fork_the_child_run_is_a_fresh_idle_writer():
    from swanlab_client._run import Run
    from swanlab_client._settings import Settings

    run = Run(
        run_id="r", project="p", workspace="", experiment_name="e", mode="offline", settings=Settings(), request=None
    )
    run.log({"a": 1}, step=10)
    parent_queue = run._queue
    run._forked()
    assert run.sender is None and run._queue is not parent_queue and not run._queue
    assert run._limit == 0  # the next log() starts the child's own sender
    assert (None, parent_queue, None) in run._leftovers
