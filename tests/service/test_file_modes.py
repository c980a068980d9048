"""Nothing swanlabd or the client's fallback creates is readable by other users, whatever the umask.

Run folders hold configs, console output and metrics; the state DB holds API keys. The data root,
its folders and the socket directory are 0700, files 0600 (docs/service.md, "Security"). Each
test runs its process with umask 0, the worst a user can have, so only explicit modes count.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for

SCRIPT = """
import swanlab_client as s
s.init(project="p", experiment_name="modes", mode="offline", config={"lr": 0.1})
s.log({"loss": 1.0})
print("hello")
s.finish()
"""


def open_to_others(*roots: Path) -> str:
    """Every path under `roots` (themselves included) that grants group or others any access, one a line."""
    found = []
    for root in roots:
        for path in [root, *root.rglob("*")]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & 0o077:
                found.append(f"{path} {mode:o}")
    return "\n".join(found)


def test_an_auto_started_daemon_and_its_runs_are_private(daemon_paths: DaemonProcess):
    subprocess.run([sys.executable, "-c", SCRIPT], env=daemon_paths.env, umask=0, check=True, timeout=120)
    wait_for(lambda: daemon_paths.pidfile_pid(), 30, "the auto-started daemon's pid file")
    assert (daemon_paths.home / "swanlabd.log").exists() and (daemon_paths.home / "runs").exists()
    assert daemon_paths.runs(), "no run folder"
    assert open_to_others(daemon_paths.home, daemon_paths.socket.parent) == ""


def test_a_daemon_started_by_hand_creates_only_private_files():
    d = DaemonProcess()
    log = d.root / "daemon.log"
    d.env["SWANLABD_LOG_FILE"] = str(log)
    try:
        d.proc = subprocess.Popen(d.command(), env=d.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, umask=0)
        d.wait_ready()
        subprocess.run([sys.executable, "-c", SCRIPT], env=d.env, check=True, timeout=120)
        assert d.runs(), "no run folder"
        assert open_to_others(d.home, d.socket.parent, log) == ""
    finally:
        d.close()


def test_the_clients_fallback_run_folder_is_private(daemon_paths: DaemonProcess):
    env = {**daemon_paths.env, "SWANLAB_CLIENT_AUTOSTART": "0"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, umask=0, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "writing run" in result.stderr, result.stderr
    assert daemon_paths.runs(), "no run folder"
    assert open_to_others(daemon_paths.home) == ""


def test_a_missing_data_root_is_created_private_with_its_parents(tmp_path: Path):
    data_root = tmp_path / "new" / "deeper" / "swanlabd"
    env = {
        **os.environ,
        "SWANLABD_DATA_ROOT": str(data_root),
        "SWANLABD_SOCKET": str(tmp_path / "s" / "swanlabd.sock"),
        "SWANLAB_CLIENT_AUTOSTART": "0",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, umask=0, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert open_to_others(tmp_path / "new") == ""
