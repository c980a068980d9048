"""Checks shared by the `swanlabctl sync` tests of each source kind (test_sync_*.py)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

from uploading import caller_env, ctl_sync, metric_calls

from helpers.waiting import wait_for
from swanlab_testcloud import FaultKind


def tree_digest(folder: Path) -> dict[str, str]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def assert_unlocked(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if anyone holds it
                fcntl.flock(f, fcntl.LOCK_UN)


def sync_json(daemon, cloud, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = ctl_sync(daemon, cloud, "--json", *args)
    return result, json.loads(result.stdout) if result.stdout.strip() else {}


def sync_killed_then_again(daemon, cloud, path: Path, run_id: str) -> None:
    """A sync killed once its upload began, the daemon SIGKILLed under slowed metric calls, then
    both started again: the second sync must succeed (the caller checks what the cloud holds)."""
    slow = cloud.add_fault(FaultKind.SLOW, "/api/house/metrics", delay_s=0.3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "swanlabd.cli.swanlabctl", "sync", str(path)],
        env=caller_env(daemon, cloud, home=daemon.root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(cloud.store.metrics(run_id, "scalar").get("loss", {})) > 0, 60, "upload started")
    finally:
        proc.kill()
        proc.wait()
    daemon.kill(signal.SIGKILL)
    wait_for(lambda: metric_calls(cloud) == slow.fired, 10, "slow requests done")
    cloud.remove_fault(slow)
    daemon.start()
    again = ctl_sync(daemon, cloud, str(path))
    assert again.returncode == 0, again.stdout + again.stderr
