"""Where the socket is by default (never a directory another user could create first), and which
sockets a client may talk to at all (`check_socket`).

With XDG_RUNTIME_DIR unset (cron, ssh without logind, Slurm, containers) it used to be
/tmp/swanlabd-<uid>/, which any local user can make before us. Now it is in the data root,
which is in the user's home; /tmp only when that path is too long for a socket.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlabd.local import paths


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SWANLABD_SOCKET", "SWANLABD_DATA_ROOT", "SWANLABD_HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_without_a_runtime_dir_the_socket_is_in_the_data_root_not_in_tmp(env, monkeypatch):
    monkeypatch.setenv("HOME", "/home/u")  # short: a pytest tmp_path may be too long for a socket
    assert paths.default_socket_path() == Path("/home/u/.local/share/swanlabd/socket/swanlabd.sock")
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


NOBODY = pwd.getpwnam("nobody")


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[Path]:
    """A listening socket of ours in a 0700 directory of ours: one check_socket accepts."""
    directory = tmp_path / "d"
    directory.mkdir(mode=0o700)
    path = directory / "swanlabd.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    try:
        yield path
    finally:
        listener.close()


def test_check_socket_accepts_our_private_socket(sock):
    paths.check_socket(sock)


def test_check_socket_reports_a_missing_socket_or_directory(tmp_path):
    (tmp_path / "d").mkdir(mode=0o700)
    for missing in (tmp_path / "d" / "swanlabd.sock", tmp_path / "none" / "swanlabd.sock"):
        with pytest.raises(FileNotFoundError):
            paths.check_socket(missing)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda p: os.chown(p.parent, NOBODY.pw_uid, -1), "belongs to uid"),
        (lambda p: os.chmod(p.parent, 0o750), "is open to other users (mode 750)"),
        (lambda p: os.chown(p, NOBODY.pw_uid, -1), f"owner uid {NOBODY.pw_uid}"),
        (lambda p: os.chmod(p, 0o620), "mode 620"),
        (lambda p: os.chmod(p.parent.parent, 0o777), "can be changed by other users"),
        (lambda p: os.chown(p.parent.parent, NOBODY.pw_uid, -1), "can be changed by other users"),
    ],
)
def test_check_socket_refuses_what_another_user_could_have_made(sock, change, named):
    change(sock)
    with pytest.raises(paths.UntrustedSocket, match=re.escape(named)) as info:
        paths.check_socket(sock)
    assert "SWANLABD_SOCKET" in str(info.value) and "\n" not in str(info.value)


def test_a_sticky_world_writable_parent_is_fine(sock):
    os.chmod(sock.parent.parent, 0o1777)  # as /tmp
    paths.check_socket(sock)
