"""sd_notify: the protocol unit by unit, then the real daemon against a stand-in for systemd.

The stand-in is what systemd does: a Unix datagram socket named by NOTIFY_SOCKET, and
WATCHDOG_USEC in the daemon's environment.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess, socket_accepts
from swanlabd.service import sdnotify
from swanlabd.service.sdnotify import Notifier
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2


class NotifySocket:
    """A bound datagram socket collecting (monotonic time, {KEY: VALUE}) messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[tuple[float, dict[str, str]]] = []

    def receive(self, timeout: float) -> dict[str, str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
        self.messages.append((time.monotonic(), fields))
        return fields

    def wait_for(self, key: str, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            fields = self.receive(left)
            if fields is not None and key in fields:
                return fields
        raise AssertionError(f"no {key}= within {timeout}s; got {self.messages}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    root = Path(tempfile.mkdtemp(prefix="sdn-", dir="/tmp"))
    ns = NotifySocket(root / "notify")
    try:
        yield ns
    finally:
        ns.close()
        (root / "notify").unlink(missing_ok=True)
        root.rmdir()


# -- the protocol, in-process ------------------------------------------------------------------


def test_without_notify_socket_everything_is_a_no_op(tmp_path: Path) -> None:
    n = Notifier.from_environ({})
    assert not n.enabled
    assert n.send({"READY": "1"}) is False
    n.status("x")
    n.stopping()
    asyncio.run(asyncio.wait_for(n.run(lambda: "x"), 1))  # returns at once


def test_from_environ_reads_and_removes_the_variables(notify_socket: NotifySocket) -> None:
    env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())}
    n = Notifier.from_environ(env)
    assert env == {}
    assert n.enabled and n.watchdog_interval_s == 1.5


def test_watchdog_for_another_pid_is_ignored(notify_socket: NotifySocket) -> None:
    n = Notifier.from_environ(
        {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}
    )
    assert n.enabled and n.watchdog_interval_s is None


def test_messages_are_key_value_lines(notify_socket: NotifySocket) -> None:
    n = Notifier(str(notify_socket.path))
    n.status("2 active runs")
    assert notify_socket.receive(2) == {"STATUS": "2 active runs"}
    n.status("2 active runs")  # unchanged: not sent again
    n.stopping()
    assert notify_socket.receive(2) == {"STOPPING": "1", "STATUS": "shutting down"}


def test_abstract_namespace_address() -> None:
    name = f"swanlabd-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        Notifier("@" + name).watchdog()
        sock.settimeout(2)
        assert sock.recv(100) == b"WATCHDOG=1"
    finally:
        sock.close()


def test_ready_refuses_when_the_socket_does_not_accept(notify_socket: NotifySocket, tmp_path: Path) -> None:
    n = Notifier(str(notify_socket.path))
    with pytest.raises(OSError):
        n.ready(notify_socket.path.parent / "nothing-listens.sock")
    assert notify_socket.receive(0.2) is None


def test_a_dead_notify_socket_never_raises(tmp_path: Path) -> None:
    n = Notifier(str(tmp_path / "gone"))
    assert n.send({"WATCHDOG": "1"}) is False
    assert n.send({"WATCHDOG": "1"}) is False  # logged once, then quiet


def test_run_pings_at_half_the_watchdog_period(notify_socket: NotifySocket) -> None:
    n = Notifier(str(notify_socket.path), watchdog_usec=400_000)

    async def main() -> None:
        task = asyncio.create_task(n.run(lambda: "0 active runs, 0 B queued for upload"))
        await asyncio.sleep(0.9)
        task.cancel()

    asyncio.run(main())
    pings = []
    while (fields := notify_socket.receive(0.1)) is not None:
        pings.append(fields)
    assert 3 <= sum("WATCHDOG" in p for p in pings) <= 5  # at 0, 0.2, 0.4, 0.6, 0.8 s, or fewer under load
    assert sum("STATUS" in p for p in pings) == 1  # status unchanged after the first


@pytest.mark.parametrize(
    ("runs", "queued", "text"),
    [
        (0, 0, "0 active runs, 0 B queued for upload"),
        (1, 1536, "1 active run, 1.5 KiB queued for upload"),
        (3, 5 * 2**30, "3 active runs, 5.0 GiB queued for upload"),
    ],
)
def test_status_line(runs: int, queued: int, text: str) -> None:
    assert sdnotify.status_line(runs, queued) == text


# -- the real daemon under a systemd stand-in -------------------------------------------------


def test_daemon_ready_watchdog_status_stopping(notify_socket: NotifySocket) -> None:
    watchdog_usec = 2_000_000  # pings expected every 1 s
    d = DaemonProcess(env={"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": str(watchdog_usec)})
    try:
        d.proc = d.spawn()
        ready = notify_socket.wait_for("READY", timeout=30)
        # READY=1 only once the socket accepts: a client connecting right now must get through.
        assert socket_accepts(d.socket), "READY=1 arrived before the socket accepted"
        assert ready.get("MAINPID") == str(d.proc.pid)
        assert "active run" in ready.get("STATUS", "")

        assert ready["STATUS"].startswith("0 active runs")
        d.stub().StartRun(
            service_pb2.StartRunRequest(start=pb.RunStart(project="p", mode=pb.MODE_OFFLINE), pid=os.getpid()),
            timeout=10,
        )
        start = time.monotonic()
        while time.monotonic() - start < 4.5:
            notify_socket.receive(0.5)
        statuses = [fields["STATUS"] for _, fields in notify_socket.messages if "STATUS" in fields]
        assert statuses[-1] == "1 active run, 0 B queued for upload", statuses
        pings = [t for t, fields in notify_socket.messages if "WATCHDOG" in fields]
        assert len(pings) >= 3, notify_socket.messages
        gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
        # On time = never later than systemd's deadline (WATCHDOG_USEC); the aim is half of it.
        assert max(gaps) < watchdog_usec / 1e6, gaps

        d.proc.send_signal(signal.SIGTERM)
        notify_socket.wait_for("STOPPING", timeout=10)
        assert d.proc.wait(timeout=30) == 0, d.output()
    finally:
        d.close()


def test_no_ready_when_startup_fails(notify_socket: NotifySocket) -> None:
    with DaemonProcess() as first:
        second = DaemonProcess(env={"NOTIFY_SOCKET": str(notify_socket.path)})
        second.home = first.home  # the same data root: must be refused
        proc = second.spawn()
        try:
            assert proc.wait(timeout=30) == 1, second.output()
            while notify_socket.receive(0.2) is not None:
                pass
            assert all("READY" not in fields for _, fields in notify_socket.messages), notify_socket.messages
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(second.root, ignore_errors=True)
