"""How the client behaves: where the daemon is, bounds, timeouts. One frozen dataclass.

`init(settings=Settings(...))` overrides the defaults; paths default to what swanlabd itself
uses (swanlabd.local.paths: `$SWANLABD_SOCKET`, `$SWANLABD_DATA_ROOT`, then XDG), so a client and the
daemon it starts agree without configuration. Nothing here imports more than the stdlib.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from swanlabd.local import paths
from swanlabd.local.limits import MAX_MESSAGE_BYTES

AUTOSTART_ENV = "SWANLAB_CLIENT_AUTOSTART"
# The largest gRPC message the daemon accepts (one definition for both sides, in
# swanlabd/local/limits.py). The client's channel uses the same limit.
DAEMON_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES
# What the sender puts in one Stream request, and in one record: far under the daemon's limit,
# so a request is never refused for its size (console lines and scalar rows are cut across
# records, records across requests).
REQUEST_MAX_BYTES = 4 * 1024 * 1024
RECORD_MAX_BYTES = 1024 * 1024


def _env_autostart() -> bool:
    return os.environ.get(AUTOSTART_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """Client settings. Every field has a default; pass only what you change."""

    socket: Path = field(default_factory=paths.default_socket_path)
    """The daemon's Unix socket ($SWANLABD_SOCKET, else $XDG_RUNTIME_DIR/swanlab/swanlabd.sock, else
    <data root>/socket/swanlabd.sock). Nothing is sent to one that may not be the user's."""
    data_root: Path = field(default_factory=paths.default_data_root)
    """The daemon's data root ($SWANLABD_DATA_ROOT, else XDG): where an auto-started daemon logs
    (<data_root>/swanlabd.log) and where the client writes a run folder itself if no daemon can run."""
    autostart: bool = field(default_factory=_env_autostart)
    """Start `python -m swanlabd run` (detached) when nothing answers on the socket
    ($SWANLAB_CLIENT_AUTOSTART=0 turns it off, e.g. when a service manager owns the daemon)."""
    fallback: bool = True
    """When no daemon can be reached or started: write the run folder directly with swanlabd.format.backup
    (a daemon adopts it later). False: keep retrying the daemon, with log() blocking once the queue is full."""
    queue_max_rows: int = 50_000
    """Rows log() may queue before it blocks (backpressure, with a warning). While swanlabd's disk is
    full, log() does not block: past this many rows it refuses new ones (counted, with a warning)
    and keeps the queued ones for when space is freed. Memory bound: about
    queue_max_rows x (100 + 30 x scalars per row) bytes."""
    batch_max_values: int = 16_384
    """Scalars per ScalarRows record (and console lines per ConsoleLines record). A Stream request
    carries up to 16 records and at most REQUEST_MAX_BYTES (4 MiB); a record at most
    RECORD_MAX_BYTES (1 MiB)."""
    flush_interval_s: float = 0.02
    """How long the sender sleeps when it finds the queue empty (the latency of a lone row)."""
    connect_timeout_s: float = 3.0
    """Bound on one attempt to reach the daemon (StartRun)."""
    spawn_timeout_s: float = 20.0
    """Bound on waiting for an auto-started daemon to accept on its socket."""
    ack_timeout_s: float = 30.0
    """A batch not acked within this time counts as a broken connection (reconnect, replay)."""
    finish_timeout_s: float = 90.0
    """Last-resort bound on finish(); normally it returns as soon as the daemon (or the fallback
    file) holds every row, without waiting on the network."""
    console: bool = True
    """Also record what the script prints (sys.stdout/sys.stderr are wrapped; the text still reaches
    the terminal) as the run's console log, as the official SDK does."""
    hooks: bool = True
    """Install atexit, sys.excepthook and SIGTERM handlers that finish the run (FINISHED, CRASHED,
    ABORTED)."""
