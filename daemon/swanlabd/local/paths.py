"""Where the daemon's socket and data live by default (per user, XDG), and whether it listens.

Light on purpose: the client imports this to find the daemon, so it must not pull in pydantic,
grpc or plyvel. The daemon's configuration (config.py) uses the same defaults.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

SOCKET_ENV = "SWANLABD_SOCKET"
DATA_ROOT_ENV = "SWANLABD_DATA_ROOT"
# The variable's earlier name, still read when the current one is unset.
OLD_DATA_ROOT_ENV = "SWANLABD_HOME"
SOCKET_NAME = "swanlabd.sock"


# sun_path in struct sockaddr_un is 108 bytes including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107


class UntrustedSocket(Exception):
    """The socket (or its directory) may belong to someone else: nothing must be sent to it.

    The message names the path and what to do about it, in one line.
    """


_OR_ELSEWHERE = "or set SWANLABD_SOCKET to a socket in a directory only you can write"


def default_socket_path() -> Path:
    """`$SWANLABD_SOCKET`, else `$XDG_RUNTIME_DIR/swanlab/swanlabd.sock`, else `<data root>/socket/swanlabd.sock`.

    Not `/tmp` when XDG_RUNTIME_DIR is unset (cron, ssh without logind, Slurm, containers): there
    another user could create the directory first. The data root is in the user's home, where
    nobody else can. Only if that path is too long for a socket, `/tmp/swanlabd-<uid>/swanlabd.sock`
    (`check_socket` still refuses one the user does not own).
    """
    if os.environ.get(SOCKET_ENV):
        return Path(os.environ[SOCKET_ENV])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "swanlab" / SOCKET_NAME
    private = Path(os.path.abspath(default_data_root())) / "socket" / SOCKET_NAME
    if len(os.fsencode(private)) <= MAX_SOCKET_PATH_BYTES:
        return private
    return Path("/tmp") / f"swanlabd-{os.getuid()}" / SOCKET_NAME


def check_socket(path: Path) -> None:
    """Raise UntrustedSocket unless only this user can have made `path` and its directory.

    The rules: the directory belongs to us and is 0700, the socket belongs to us and is not
    group or world writable, and the directory's parent lets no one else swap the directory
    (it belongs to us or root and is not world writable, unless sticky as /tmp is). Once that
    holds, no one else can put a socket there before we connect. Raises FileNotFoundError if
    the socket is not there (yet): the caller must not connect then either, as another user
    could create it in between.
    """
    directory, parent = path.parent, path.parent.parent
    uid = os.getuid()
    up = os.stat(parent)
    if up.st_uid not in (uid, 0) or (up.st_mode & stat.S_IWOTH and not up.st_mode & stat.S_ISVTX):
        raise UntrustedSocket(
            f"{parent}, which holds the swanlabd socket directory, can be changed by other users (owner uid "
            f"{up.st_uid}, mode {stat.S_IMODE(up.st_mode):o}): make it yours and `chmod o-w` it, {_OR_ELSEWHERE}"
        )
    st = os.stat(directory)
    if st.st_uid != uid:
        raise UntrustedSocket(
            f"swanlabd socket directory {directory} belongs to uid {st.st_uid}, not to you (uid {uid}), so another "
            f"user may be posing as the daemon: have it removed, {_OR_ELSEWHERE}"
        )
    sock = os.lstat(path)  # FileNotFoundError: nothing there yet
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise UntrustedSocket(
            f"swanlabd socket directory {directory} is open to other users (mode {stat.S_IMODE(st.st_mode):o}): "
            f"`chmod 700` it, {_OR_ELSEWHERE}"
        )
    if sock.st_uid != uid or sock.st_mode & 0o022:
        raise UntrustedSocket(
            f"swanlabd socket {path} (owner uid {sock.st_uid}, mode {stat.S_IMODE(sock.st_mode):o}) must belong to "
            f"you (uid {uid}) and be writable by you alone: remove it, {_OR_ELSEWHERE}"
        )


def default_data_root() -> Path:
    """`$SWANLABD_DATA_ROOT` (or `$SWANLABD_HOME`), else `$XDG_DATA_HOME/swanlabd`, else `~/.local/share/swanlabd`."""
    for name in (DATA_ROOT_ENV, OLD_DATA_ROOT_ENV):
        if os.environ.get(name):
            return Path(os.environ[name])
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data_home) / "swanlabd"


def make_private_dir(path: Path) -> None:
    """Create `path` and its missing parents 0700, as the XDG spec asks; existing ones keep their mode.

    `Path.mkdir(parents=True, mode=...)` gives the mode to the last folder only.
    """
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass  # made meanwhile (another client, or the daemon): its maker chose the mode


def check_log_dir(log_dir: str) -> Path:
    """The folder `init(log_dir=...)` asks run folders to be made in, once it is safe; ValueError why not.

    The daemon writes there with the user's rights, so the folder must be the user's: an absolute
    path with no '.' or '..' part and no symlink anywhere on it (a link could point the run into
    someone else's folder between the check and the write), every existing part owned by the user
    or root, and the folder itself the user's and not writable by others. Missing folders are
    made 0700, as the data root's are.
    """
    path = Path(log_dir)
    if not path.is_absolute() or any(part in (".", "..") for part in log_dir.split("/")):
        raise ValueError(f"log_dir {log_dir!r} must be an absolute path without '.' or '..' (the client resolves it)")
    uid = os.getuid()
    for part in (*reversed(path.parents), path):
        try:
            st = os.lstat(part)
        except FileNotFoundError:
            break
        if stat.S_ISLNK(st.st_mode):
            raise ValueError(f"log_dir {log_dir!r}: {part} is a symlink; give the real path")
        if not stat.S_ISDIR(st.st_mode):
            raise ValueError(f"log_dir {log_dir!r}: {part} is not a folder")
        if st.st_uid not in (uid, 0):
            raise ValueError(f"log_dir {log_dir!r}: {part} belongs to another user (uid {st.st_uid})")
        if part == path and st.st_uid != uid:
            raise ValueError(f"log_dir {log_dir!r} is not the user's own folder")
        if st.st_mode & 0o002 and not st.st_mode & stat.S_ISVTX:
            raise ValueError(f"log_dir {log_dir!r}: anyone may rename what is in {part} (mode {st.st_mode & 0o7777:o})")
        if part == path and st.st_mode & 0o022:
            raise ValueError(f"log_dir {log_dir!r} is writable by others (mode {st.st_mode & 0o777:o})")
    make_private_dir(path)
    if os.lstat(path).st_uid != uid:  # made meanwhile by someone else
        raise ValueError(f"log_dir {log_dir!r} is not the user's own folder")
    return path


def runs_dir(data_root: Path) -> Path:
    """Run folders live here: `<data_root>/runs/run-YYYYMMDD_HHMMSS-<id>/`."""
    return data_root / "runs"


def socket_accepts(path: Path, timeout_s: float = 1.0) -> bool:
    """True if something accepts connections on the Unix socket at `path`.

    A socket file left behind by a killed daemon refuses, so this is False for it.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        probe.settimeout(timeout_s)
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()
