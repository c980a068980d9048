"""One daemon per data root and per socket: the two flocks, the pid file and the socket's directory.

    <data root>/swanlabd.lock   flocked for the daemon's life; <data root>/swanlabd.pid names it
    <socket>.lock               flocked from before the socket is checked until exit; holds the
                                pid while the daemon runs (`swanlabctl status` names a silent one)

The socket lives in a private (0700) directory that belongs to the user: only the
user can connect, and the API key travels over it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
from pathlib import Path

from swanlabd.local import paths
from swanlabd.service.errors import AlreadyRunning, StartupError

LOCK_NAME = "swanlabd.lock"
PID_NAME = "swanlabd.pid"
SOCKET_LOCK_SUFFIX = ".lock"

log = logging.getLogger(__name__)


def lock_data_root(home: Path) -> int:
    """Create the data root (0700), flock `<home>/swanlabd.lock` and write the pid file; the lock's fd.

    A data root that already exists keeps its mode; one open to others gets a warning, as it
    holds the state DB with the API keys runs bring.
    """
    try:
        paths.make_private_dir(home)
        st = home.stat()  # through a symlink: what matters is who owns the folder we would use
    except OSError as exc:
        raise StartupError(f"cannot use data root {home}: {exc.strerror or exc}") from None
    if st.st_uid != os.getuid():
        # Another user made it first (a shared /tmp, a guessed path): it could read the state DB
        # with the API keys and every run, so nothing is written there.
        raise StartupError(
            f"data root {home} belongs to uid {st.st_uid}, not to us ({os.getuid()}): "
            "remove it or set another data_root"
        )
    mode = stat.S_IMODE(st.st_mode)
    try:
        fd = os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StartupError(f"cannot use data root {home}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"data root {home}", read_pid(home)) from None
    if mode & 0o077:
        log.warning("data root %s is open to other users (mode %o): run `chmod 700 %s`", home, mode, home)
    tmp = home / (PID_NAME + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "w") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(tmp, home / PID_NAME)
    return fd


def unlock_data_root(home: Path, fd: int) -> None:
    """Remove our pid file and release the data root's flock."""
    with contextlib.suppress(OSError):
        if read_pid(home) == os.getpid():
            (home / PID_NAME).unlink()
    os.close(fd)  # releases the flock


def read_pid(home: Path) -> int | None:
    """The pid in <home>/swanlabd.pid, or None."""
    try:
        return int((home / PID_NAME).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def socket_lock_path(path: Path) -> Path:
    """`<socket>.lock`, next to the socket in its private directory; holds the owner's pid."""
    return path.with_name(path.name + SOCKET_LOCK_SUFFIX)


def prepare_socket(path: Path) -> int:
    """Make the socket's directory private (0700), claim the socket, clear a stale socket file.

    Returns the fd of `<socket>.lock`, flocked until the daemon closes it at shutdown. gRPC
    unlinks whatever is at the path when it binds, so probing the socket alone would let two
    daemons that start together both pass and the later bind take over the earlier one's socket.
    Refuses (AlreadyRunning) if another process holds that lock or something accepts on the path.
    """
    directory = path.parent
    try:
        paths.make_private_dir(directory)
        st = directory.stat()
    except OSError as exc:
        raise StartupError(f"cannot create socket directory {directory}: {exc.strerror or exc}") from None
    if st.st_uid != os.getuid():
        raise StartupError(f"socket directory {directory} belongs to uid {st.st_uid}, not to us ({os.getuid()})")
    lock = socket_lock_path(path)
    if st.st_mode & 0o077:
        # Tighten only a directory that holds nothing but our socket: never a shared one such as
        # /, /tmp or /run (a relative socket path of a daemon started in / names /), whose mode
        # other users and services depend on.
        others = sorted(set(os.listdir(directory)) - {path.name, lock.name})
        if others or st.st_mode & stat.S_ISVTX:
            raise StartupError(
                f"socket directory {directory} is open to others (mode {stat.S_IMODE(st.st_mode):o}) and is not "
                "swanlabd's alone: put the socket in a directory of its own"
            )
        os.chmod(directory, 0o700)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StartupError(f"cannot create {lock}: {exc.strerror or exc}") from None
    owner = os.fstat(fd).st_uid
    if owner != os.getuid():
        # Left by someone while the directory was open to others: whoever holds it could keep
        # every daemon out, or read the pid we write.
        os.close(fd)
        raise StartupError(f"{lock} belongs to uid {owner}, not to us ({os.getuid()}): remove it")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if path.exists() or path.is_symlink():
            if paths.socket_accepts(path, timeout_s=2.0):
                # A listener that does not take the lock (not a swanlabd of this version).
                raise AlreadyRunning(f"socket {path}", None)
            path.unlink()  # nobody listens: left behind by a daemon that was killed
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"socket {path}", None) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_socket(fd: int) -> None:
    """Clear our pid from `<socket>.lock` and release its flock; the file stays (unlinking it would race)."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    os.close(fd)
