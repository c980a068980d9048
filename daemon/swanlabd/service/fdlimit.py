"""The daemon's file descriptors: raise the soft limit at start, refuse new runs before they run out.

Every run the daemon writes holds its backup file open, and every training process connected to
it holds a socket: about two descriptors per run. Past RLIMIT_NOFILE every open() fails with
EMFILE: the monitor's reads of /proc, the crash watch, the state DB's next log file, the next
client's connection. So StartRun of a new run is refused (`TooManyOpenRuns`, RESOURCE_EXHAUSTED)
while fewer than `FD_HEADROOM` descriptors would stay free, counting the descriptors in use now
and one for each start under way. The headroom is what the daemon needs besides its runs' files:
the monitor and crash watch (a few /proc files at a time), LevelDB (a new log, table and
manifest while it compacts), a run folder being created, new clients' sockets. Runs already open
are never refused: their writers may attach and stream as before, and a finished run frees its
descriptor for a new one.

At start `raise_soft_limit` lifts the soft limit to the hard one: the soft limit (1,024 for
most users) is kept low only for programs that use select(), and the daemon's event loop and
gRPC use epoll. The hard limit is the administrator's (`ulimit -Hn`, LimitNOFILE= under systemd).

Linux only (descriptors are counted in /proc/self/fd), like the rest of the daemon.
"""

from __future__ import annotations

import logging
import os
import resource

from swanlabd.storage.errors import TooManyOpenRuns

log = logging.getLogger(__name__)

FD_HEADROOM = 32


def raise_soft_limit() -> None:
    """Set the soft RLIMIT_NOFILE to the hard limit (a no-op when they are equal)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError) as exc:  # a hard limit above what the kernel allows (nr_open)
        log.warning("cannot raise the file-descriptor limit from %d to %d: %s", soft, hard, exc)
        return
    log.debug("file-descriptor limit raised from %d to %d", soft, hard)


def fd_limit() -> int | None:
    """The soft RLIMIT_NOFILE, or None when there is none."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def fds_in_use() -> int:
    """How many descriptors this process has open (the listing itself uses one, counted too)."""
    return len(os.listdir("/proc/self/fd"))


def check_room(open_runs: int, starting: int) -> None:
    """Raise TooManyOpenRuns unless a new run leaves FD_HEADROOM descriptors free.

    `open_runs`: runs holding their file now (for the message); `starting`: StartRuns under way
    that may each open one more.
    """
    limit = fd_limit()
    if limit is None:
        return
    try:
        used = fds_in_use()
    except OSError:  # no descriptor left even to list them
        used = limit
    if used + starting + 1 + FD_HEADROOM > limit:
        raise TooManyOpenRuns(open_runs, used, limit, FD_HEADROOM)
