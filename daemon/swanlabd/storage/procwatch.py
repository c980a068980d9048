"""Process watching: is the process that writes a run still the one the daemon recorded?

A pid alone does not name a process (pids are reused), so a run records its writer's pid with
the process's start time, and both must match. psutil reads /proc: cheap enough for the crash
watcher's tick, called on the event loop.
"""

from __future__ import annotations

import logging

import psutil

log = logging.getLogger(__name__)


def process_start_time(pid: int) -> float:
    """The pid's start time, naming one process rather than a reusable pid; 0.0 = cannot watch it."""
    if not pid:
        return 0.0
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        log.warning("pid %d is not visible from the daemon (another pid namespace?): no crash watch for it", pid)
        return 0.0


def process_alive(pid: int, started: float) -> bool:
    """True if `pid` is the same live process we recorded (zombies and reused pids count as gone)."""
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return not started or abs(p.create_time() - started) < 0.5
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def started_before(pid: int, time_ms: int) -> bool:
    """True if `pid` is alive and started before `time_ms` (so it can be the process of a run then)."""
    if not pid or not process_alive(pid, 0.0):
        return False
    started = process_start_time(pid)
    return bool(started) and started <= time_ms / 1000 + 1.0
