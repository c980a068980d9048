"""Start a daemon for the user when none answers: `python -m swanlabd run`, detached.

The daemon is started in its own session (start_new_session: no controlling terminal, so the
script's Ctrl+C or its end does not reach it), with stdin from /dev/null and stdout/stderr
appended to `<data root>/swanlabd.log` (0600, in a data root made 0700: what a run logs is
private). It outlives the script; the next script reuses it.
The client's auto-start and `swanlabctl sync` both come here, so a daemon is started on demand
in one way. Light on purpose (stdlib only): the client imports it.

Several clients may race to start one: each spawns, the first daemon to bind the socket wins,
the others refuse ("already running") and exit. Every caller then just waits until something
accepts on the socket, so the race is harmless. The wait is bounded by the caller's timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from swanlabd.local import paths
from swanlabd.local.paths import socket_accepts

DAEMON_LOG = "swanlabd.log"


def start_daemon(socket: Path, data_root: Path, timeout_s: float) -> bool:
    """Spawn a detached daemon for `socket`/`data_root`; True once the socket accepts.

    False at once, spawning nothing, for a socket `paths.check_socket` refuses: whatever accepts
    there is not to be talked to, and a daemon cannot take a directory another user owns.
    """
    try:
        paths.check_socket(socket)
    except FileNotFoundError:
        pass  # nothing there yet: ours to start
    except paths.UntrustedSocket:
        return False
    if socket_accepts(socket):
        return True
    paths.make_private_dir(data_root)
    # Absolute paths: the daemon runs with cwd="/" (it must not pin the script's directory).
    env = {**os.environ, "SWANLABD_SOCKET": os.path.abspath(socket), "SWANLABD_DATA_ROOT": os.path.abspath(data_root)}
    log_fd = os.open(data_root / DAEMON_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    with open(log_fd, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "swanlabd", "run"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
            cwd="/",
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if socket_accepts(socket):
            return True
        if proc.poll() is not None:
            # Lost the race to another client's daemon (it refuses with "already running"),
            # or it cannot start at all; give the winner a moment to bind.
            end = min(deadline, time.monotonic() + 2.0)
            while time.monotonic() < end:
                if socket_accepts(socket):
                    return True
                time.sleep(0.05)
            return False
        time.sleep(0.02)
    return False
