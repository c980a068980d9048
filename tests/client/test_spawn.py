"""Auto-start (client and `swanlabctl sync`) hands the daemon absolute paths, whatever the cwd."""

import os
from pathlib import Path

from helpers.daemon import DaemonProcess
from swanlabd.local.paths import socket_accepts
from swanlabd.local.spawn import start_daemon


def test_relative_paths_are_made_absolute_for_the_daemon(daemon_paths: DaemonProcess, monkeypatch) -> None:
    # The daemon runs with cwd="/": relative paths would point it at / (and its socket dir there).
    monkeypatch.chdir(daemon_paths.root)
    socket = Path("sock") / "swanlabd.sock"
    home = Path("home")
    assert start_daemon(socket, home, timeout_s=20.0)
    assert socket_accepts(daemon_paths.socket)
    assert daemon_paths.pidfile_pid() is not None
    assert not os.path.exists("/sock")
