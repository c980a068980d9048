"""Where the socket is by default: never a directory another user could create first.

With XDG_RUNTIME_DIR unset (cron, ssh without logind, Slurm, containers) it used to be
/tmp/swanlabd-<uid>/, which any local user can make before us. Now it is in the data root,
which is in the user's home; /tmp only when that path is too long for a socket.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlabd.local import paths


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SWANLABD_SOCKET", "SWANLABD_DATA_ROOT", "SWANLABD_HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_without_a_runtime_dir_the_socket_is_in_the_data_root_not_in_tmp(env, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    want = tmp_path / ".local" / "share" / "swanlabd" / "socket" / "swanlabd.sock"
    assert paths.default_socket_path() == want
    monkeypatch.setenv("SWANLABD_DATA_ROOT", "/srv/d")
    assert paths.default_socket_path() == Path("/srv/d/socket/swanlabd.sock")


def test_a_data_root_too_long_for_a_socket_falls_back_to_tmp(env, monkeypatch):
    monkeypatch.setenv("SWANLABD_DATA_ROOT", "/" + "d" * 100)
    assert paths.default_socket_path() == Path(f"/tmp/swanlabd-{os.getuid()}/swanlabd.sock")


def test_the_runtime_dir_and_swanlabd_socket_still_win(env, monkeypatch, tmp_path):
    monkeypatch.setenv("SWANLABD_DATA_ROOT", "/srv/d")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert paths.default_socket_path() == tmp_path / "swanlab" / "swanlabd.sock"
    monkeypatch.setenv("SWANLABD_SOCKET", "/elsewhere/s.sock")
    assert paths.default_socket_path() == Path("/elsewhere/s.sock")


def test_swanlabd_config_shows_the_new_default(env, tmp_path):
    environ = {**os.environ, "SWANLABD_DATA_ROOT": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "swanlabd", "config", "--json"], env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["socket"] == str(tmp_path / "socket" / "swanlabd.sock")


def test_a_client_without_a_runtime_dir_starts_the_daemon_on_the_private_default(daemon_paths: DaemonProcess):
    env = {k: v for k, v in daemon_paths.env.items() if k not in ("SWANLABD_SOCKET", "XDG_RUNTIME_DIR")}
    script = "import swanlab_client as s\ns.init(project='p', mode='offline')\ns.log({'a': 1.0})\ns.finish()\n"
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
    socket = daemon_paths.home / "socket" / "swanlabd.sock"
    assert paths.socket_accepts(socket)
    assert stat.S_IMODE(socket.parent.stat().st_mode) == 0o700
    wait_for(lambda: daemon_paths.runs(), 30, "the run folder")
