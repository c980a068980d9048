"""The systemd notification protocol (sd_notify(3)), without a dependency.

systemd passes `NOTIFY_SOCKET` (a Unix datagram socket path, or `@name` for the abstract
namespace) and, with `WatchdogSec=`, `WATCHDOG_USEC` (and `WATCHDOG_PID`). A service sends
newline-separated `KEY=VALUE` assignments in one datagram each:

- `READY=1` once the gRPC socket accepts connections: `ready()` checks that by connecting first,
  so systemd (and `systemctl start`, which waits for it) never reports a daemon that cannot serve;
- `WATCHDOG=1` every half `WATCHDOG_USEC`, sent by `run()`, an asyncio task: a hung event loop
  stops the pings and systemd restarts the daemon;
- `STATUS=...` a one-line summary (active runs, queued bytes), shown by `systemctl status`;
- `STOPPING=1` when shutdown begins.

Without `NOTIFY_SOCKET` every method is a no-op, so the daemon calls them unconditionally.
Sending never raises: a broken notify socket is logged once and the daemon carries on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path

from swanlabd.local import paths

log = logging.getLogger(__name__)

# With no watchdog, STATUS= is refreshed this often (seconds).
STATUS_INTERVAL_S = 5.0


class Notifier:
    """Talks to systemd (or a test harness) over `NOTIFY_SOCKET`; see the module docstring.

    Not thread-safe: call it from the event loop thread.
    """

    def __init__(self, notify_socket: str | None, watchdog_usec: int | None = None) -> None:
        self.address: str | None = None
        if notify_socket:
            # A leading @ names an abstract-namespace socket (sd_notify(3)).
            self.address = "\0" + notify_socket[1:] if notify_socket.startswith("@") else notify_socket
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._sock: socket.socket | None = None
        self._failed = False
        self._last_status: str | None = None

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        """Read and remove the systemd variables, so processes we start do not inherit them."""
        env = os.environ if environ is None else environ
        notify_socket = env.pop("NOTIFY_SOCKET", None)
        usec_text = env.pop("WATCHDOG_USEC", None)
        pid_text = env.pop("WATCHDOG_PID", None)
        usec = None
        if usec_text and usec_text.isdigit() and (not pid_text or pid_text == str(os.getpid())):
            # WATCHDOG_PID names the process that must ping; a forked helper is not it.
            usec = int(usec_text)
        return cls(notify_socket, usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """Half of `WATCHDOG_USEC` in seconds (sd_watchdog_enabled(3) advises pinging at half)."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2e6

    def send(self, fields: Mapping[str, str]) -> bool:
        """Send one datagram of `KEY=VALUE` lines; False if it could not be sent."""
        if self.address is None or self._failed:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, self.address)
        except OSError as exc:
            # systemd went away or the socket is wrong: say so once, never take the daemon down.
            self._failed = True
            log.warning("cannot notify systemd", extra={"notify_socket": self.address, "error": str(exc)})
            return False
        return True

    def ready(self, socket_path: Path, status: str = "") -> None:
        """`READY=1`, after checking that `socket_path` accepts a connection.

        Raises OSError if it does not: the daemon must not claim to be ready then.
        """
        if not paths.socket_accepts(socket_path, timeout_s=5.0):
            raise ConnectionRefusedError(f"{socket_path} does not accept connections")
        fields = {"READY": "1", "MAINPID": str(os.getpid())}
        if status:
            fields["STATUS"] = status
            self._last_status = status
        self.send(fields)

    def status(self, text: str) -> None:
        """`STATUS=text` (a single line), sent only when it changed."""
        text = text.replace("\n", " ")
        if text != self._last_status and self.send({"STATUS": text}):
            self._last_status = text

    def watchdog(self) -> None:
        self.send({"WATCHDOG": "1"})

    def stopping(self, status: str = "shutting down") -> None:
        self.send({"STOPPING": "1", "STATUS": status})

    async def run(self, status: Callable[[], str] | None = None) -> None:
        """Ping the watchdog at half `WATCHDOG_USEC` and refresh STATUS=, until cancelled.

        Runs on the daemon's event loop on purpose: if the loop stops turning, pings stop.
        Returns at once when there is nothing to notify.
        """
        if not self.enabled:
            return
        interval = self.watchdog_interval_s or STATUS_INTERVAL_S
        while True:
            if self.watchdog_usec is not None:
                self.watchdog()
            if status is not None:
                self.status(status())
            await asyncio.sleep(interval)


def status_line(active_runs: int, queued_bytes: int) -> str:
    """The daemon's STATUS= text: `2 active runs, 1.5 MiB queued for upload`."""
    size = float(queued_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            break
        size /= 1024
    amount = f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
    runs = "1 active run" if active_runs == 1 else f"{active_runs} active runs"
    return f"{runs}, {amount} queued for upload"
