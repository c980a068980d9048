"""`swanlabctl sync` uses the caller's credentials as they are now, not as an earlier sync left them."""

from __future__ import annotations

import subprocess
import sys

from uploading import API_KEY

from helpers.daemon import DaemonProcess
from helpers.rawclient import finish, keys, rows, start_run, stream


def sync(d: DaemonProcess, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swanlabd.cli.swanlabctl", "sync", "--timeout", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_the_first_sync_after_setting_the_key_uses_it(upload_daemon, cloud):
    d = upload_daemon
    stub = d.stub()
    run = start_run(stub, project="offline-proj")
    stream(stub, run.run_id, 1, [[keys(1, {1: "loss"})], rows(2, 5)])
    finish(stub, run.run_id, 1, 6)
    env = {**d.env, "HOME": str(d.root), "SWANLAB_API_HOST": cloud.url, "SWANLAB_WEB_HOST": cloud.url}
    without = sync(d, env)
    assert without.returncode == 1 and f"run {run.run_id}: no SwanLab API key" in without.stderr, without.stderr
    with_key = sync(d, {**env, "SWANLAB_API_KEY": API_KEY})
    assert with_key.returncode == 0, with_key.stderr
    assert f"{run.run_id}: uploaded" in with_key.stdout
    assert [e["cuid"] for e in cloud.experiments()] == [run.run_id]
