"""Leftover journals at daemon start (docs/journal.md, "Ownership and cleanup"): in
`<socket dir>/journals/`, a journal no run names whose writer is gone (or of another boot) is
deleted; a live writer's, one a run names, and files that are not journals are left alone."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from helpers.daemon import DaemonProcess
from helpers.journalfile import Ring
from helpers.rawclient import start_run
from helpers.standin import sleeper
from swanlabd.format import journal

BOOT_AT = 16 + 4 + 8 + 4  # the boot id's offset in the header: magic, version, capacity, pid


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def save(path: Path, pid: int) -> Path:
    ring = Ring(1 << 12, pid=pid)
    ring.key(1, "loss")
    ring.row((0, 1_700_000_000.0, (1,), (0.5,)))
    return ring.save(path)


def test_leftover_journals_of_dead_writers_are_deleted_at_daemon_start(daemon: DaemonProcess) -> None:
    journals = daemon.socket.parent / "journals"
    journals.mkdir(mode=0o700)
    live = sleeper()
    named_writer = sleeper()
    try:
        # A run whose writer lives names a journal whose header pid is gone: the crash watch's, kept.
        named = save(journals / "named.journal", dead_pid())
        start_run(daemon.stub(), pid=named_writer.pid, journal=str(named))
        daemon.kill(signal.SIGKILL)
        dead = save(journals / "dead.journal", dead_pid())
        alive = save(journals / "alive.journal", live.pid)
        other_boot = save(journals / "otherboot.journal", live.pid)  # a live pid, but another boot
        data = bytearray(other_boot.read_bytes())
        data[BOOT_AT] ^= 0xFF
        other_boot.write_bytes(bytes(data))
        notes = journals / "notes.txt"
        notes.write_text("not a journal\n")
        (journals / "folder").mkdir()
        daemon.start()
        assert not dead.exists() and not other_boot.exists()
        assert alive.exists() and named.exists() and notes.exists() and (journals / "folder").is_dir()
        out = daemon.output()
        assert f"deleted the leftover journal {dead}: its process" in out
        assert f"deleted the leftover journal {other_boot}: written before this boot" in out
        assert out.count("are not journals of this user; left alone: folder, notes.txt") == 1
        assert journal.read_tail(alive, 0).decoded.steps == [0]  # untouched
    finally:
        for proc in (live, named_writer):
            proc.kill()
            proc.wait()
