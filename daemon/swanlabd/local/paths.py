"""Where the daemon's socket and data live by default (per user, XDG), and whether it listens.

Light on purpose: the client imports this to find the daemon, so it must not pull in pydantic,
grpc or plyvel. The daemon's configuration (config.py) uses the same defaults.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

SOCKET_ENV = "SWANLABD_SOCKET"
DATA_ROOT_ENV = "SWANLABD_DATA_ROOT"
# The variable's earlier name, still read when the current one is unset.
OLD_DATA_ROOT_ENV = "SWANLABD_HOME"
SOCKET_NAME = "swanlabd.sock"


def default_socket_path() -> Path:
    """`$SWANLABD_SOCKET`, else `$XDG_RUNTIME_DIR/swanlab/swanlabd.sock`, else `/tmp/swanlabd-<uid>/`."""
    if os.environ.get(SOCKET_ENV):
        return Path(os.environ[SOCKET_ENV])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "swanlab" / SOCKET_NAME
    return Path("/tmp") / f"swanlabd-{os.getuid()}" / SOCKET_NAME


def default_data_root() -> Path:
    """`$SWANLABD_DATA_ROOT` (or `$SWANLABD_HOME`), else `$XDG_DATA_HOME/swanlabd`, else `~/.local/share/swanlabd`."""
    for name in (DATA_ROOT_ENV, OLD_DATA_ROOT_ENV):
        if os.environ.get(name):
            return Path(os.environ[name])
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data_home) / "swanlabd"


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
