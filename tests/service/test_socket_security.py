"""Who may talk to the daemon, and what happens to sockets and data roots already in use.

The socket's directory is 0700 and ours; another user cannot connect; a stale socket left by a
killed daemon is replaced; a live daemon's socket or data root is never taken over; files that
hold secrets (state DB, log, netrc) are private.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess, socket_accepts
from swanlabd.local import credentials
from swanlabd_pb import service_pb2

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user (nobody) needs root")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def connect_as(user: str, path: Path) -> int:
    """Connect to the Unix socket `path` from a child running as `user`; 0 or the errno."""
    pw = pwd.getpwnam(user)
    pid = os.fork()
    if pid == 0:  # child: drop to the other user for good, then try
        code = 0
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.settimeout(5)
                s.connect(str(path))
            except OSError as exc:
                code = exc.errno or 255
            finally:
                s.close()
        except BaseException:
            code = 254
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture
def open_root() -> Iterator[DaemonProcess]:
    """A daemon whose temp root is traversable by others, so only the socket directory guards it."""
    d = DaemonProcess()
    os.chmod(d.root, 0o755)
    try:
        d.start()
        yield d
    finally:
        d.close()


def test_socket_directory_is_private_and_ours(open_root: DaemonProcess) -> None:
    st = open_root.socket.parent.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == os.getuid()


def test_another_user_cannot_connect(open_root: DaemonProcess) -> None:
    # Control: the same child can connect to a socket it is allowed to reach, so a refusal
    # below is the permission check and not a broken test.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    open_path = open_root.root / "open.sock"
    listener.bind(str(open_path))
    os.chmod(open_path, 0o777)
    listener.listen()
    try:
        assert connect_as("nobody", open_path) == 0
    finally:
        listener.close()
    assert connect_as("nobody", open_root.socket) == errno.EACCES
    assert socket_accepts(open_root.socket)  # and we still can


def test_group_or_world_access_on_an_existing_socket_directory_is_removed() -> None:
    d = DaemonProcess()
    d.socket.parent.mkdir(mode=0o755)
    os.chmod(d.socket.parent, 0o755)
    try:
        d.start()
        assert mode(d.socket.parent) == 0o700
    finally:
        d.close()


def test_socket_directory_owned_by_someone_else_is_refused() -> None:
    d = DaemonProcess()
    d.socket.parent.mkdir(mode=0o700)
    nobody = pwd.getpwnam("nobody")
    os.chown(d.socket.parent, nobody.pw_uid, nobody.pw_gid)
    try:
        proc = d.spawn()
        assert proc.wait(timeout=30) == 1
        out = d.output()
        assert f"socket directory {d.socket.parent} belongs to uid {nobody.pw_uid}" in out, out
        assert not d.socket.exists()
    finally:
        d.close()


def test_stale_socket_after_sigkill_is_replaced(daemon: DaemonProcess) -> None:
    daemon.kill(signal.SIGKILL)
    assert daemon.socket.exists() and not socket_accepts(daemon.socket)
    daemon.start()
    assert socket_accepts(daemon.socket)
    assert daemon.stub().Status(service_pb2.StatusRequest(), timeout=10).pid == daemon.pid


def test_second_daemon_on_the_same_socket_is_refused(daemon: DaemonProcess) -> None:
    other = DaemonProcess()
    other.socket = daemon.socket  # same socket, its own data root
    proc = other.spawn()
    try:
        assert proc.wait(timeout=30) == 1
        assert f"already running for socket {daemon.socket}" in other.output(), other.output()
        # The first one is untouched.
        assert daemon.stub().Status(service_pb2.StatusRequest(), timeout=10).pid == daemon.pid
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(other.root, ignore_errors=True)


def test_second_daemon_on_the_same_data_root_is_refused(daemon: DaemonProcess) -> None:
    other = DaemonProcess()
    other.home = daemon.home  # same data root, its own socket
    proc = other.spawn()
    try:
        assert proc.wait(timeout=30) == 1
        out = other.output()
        assert f"another swanlabd (pid {daemon.pid}) is already running for data root {daemon.home}" in out, out
        assert len(out.strip().splitlines()) == 1, out
        assert not other.socket.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(other.root, ignore_errors=True)


def test_files_holding_secrets_are_private(tmp_path: Path) -> None:
    d = DaemonProcess()
    d.env["SWANLABD_LOG_FILE"] = str(d.root / "logs" / "swanlabd.log")
    try:
        d.start()
        # The state DB keeps cloud credentials of runs: the data root and the DB are ours only.
        assert mode(d.home) == 0o700
        assert mode(d.home / "state") == 0o700
        assert mode(d.root / "logs" / "swanlabd.log") == 0o600
    finally:
        d.close()
    netrc = credentials.save_login("k" * 24, "https://api.example.org", path=tmp_path / ".swanlab" / ".netrc")
    assert mode(netrc) == 0o600


def test_a_socket_lock_left_by_another_user_is_refused() -> None:
    d = DaemonProcess()
    d.socket.parent.mkdir(mode=0o700)
    lock = d.socket.parent / (d.socket.name + ".lock")
    lock.write_text("")
    nobody = pwd.getpwnam("nobody")
    os.chown(lock, nobody.pw_uid, nobody.pw_gid)
    try:
        proc = d.spawn()
        assert proc.wait(timeout=30) == 1
        out = d.output()
        assert f"{lock} belongs to uid {nobody.pw_uid}" in out, out
        assert not d.socket.exists()
    finally:
        d.close()
