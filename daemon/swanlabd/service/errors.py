"""Why the daemon cannot start. Never sent over the socket: `swanlabd run` prints the message
as one line and exits 1.

    StartupError                 the daemon cannot start (data root, socket, state DB)
    └── AlreadyRunning           another daemon holds this data root or socket
"""

from __future__ import annotations


class StartupError(Exception):
    """The daemon cannot start; the message is one line for the terminal."""


class AlreadyRunning(StartupError):
    def __init__(self, what: str, pid: int | None) -> None:
        self.pid = pid
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"another swanlabd ({who}) is already running for {what}")
