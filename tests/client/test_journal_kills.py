"""SIGKILL of the training process loses no row that log() returned for (the journal, issue #12).

A real daemon, a real script (scripts/journal_victim.py), killed at random points: right after a
log() returned (also within milliseconds of init(), and before any daemon answered its StartRun,
none running when it began), from another thread anywhere in the loop (inside log() too), and
while finish() flushes. After each kill the daemon reads the rows the
script's journal holds past what it streamed, then marks the run CRASHED. The backup must hold
exactly steps 0..M with M at least the last step whose log() returned (the one row being written
when the kill came may be there whole, or not at all), every value bit for bit.
"""

from __future__ import annotations

import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess, DaemonStartError
from helpers.waiting import wait_for
from swanlabd.local.paths import socket_accepts
from swanlabd_pb import records_pb2 as pb

VICTIM = Path(__file__).parent / "scripts" / "journal_victim.py"
KEYS = 10


def value(step: int, k: int) -> float:
    return step * 1.0000001 + k / 7


def kill_once(
    d: DaemonProcess, tmp_path: Path, *args: str, state: int = pb.CRASHED
) -> tuple[int, list[tuple[int, dict[str, float]]]]:
    """Run the victim until its kill; (last step whose log() returned, rows the backup holds)."""
    progress = tmp_path / f"progress-{random.getrandbits(32)}"
    progress.write_bytes(struct.pack("<q", -1))
    proc = subprocess.run(
        [sys.executable, str(VICTIM), "--progress", str(progress), "--keys", str(KEYS), *args],
        env=d.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr
    run_dir = proc.stdout.splitlines()[0]
    returned = struct.unpack("<q", progress.read_bytes()[:8])[0]

    def crashed():
        view = read_view(run_dir)
        return view if view.finish is not None else None

    view = wait_for(crashed, 30, "the run to be marked CRASHED")
    assert view.finish.state in (pb.CRASHED, state)
    assert view.lost == []
    assert "writing run" not in proc.stderr  # the daemon took the run, not the fallback
    return returned, view.rows.get(1, [])


def check(returned: int, rows: list[tuple[int, dict[str, float]]]) -> None:
    steps = [s for s, _ in rows]
    assert steps == list(range(len(steps))), "rows missing, doubled or out of order"
    assert len(steps) - 1 >= returned, f"lost rows: log() returned for step {returned}, stored up to {len(steps) - 1}"
    assert len(steps) - 1 <= returned + 1, "a row log() never began is stored"
    for step, row in rows:
        assert {k: struct.pack("<d", v) for k, v in row.items()} == {
            f"k{k}": struct.pack("<d", value(step, k)) for k in range(KEYS)
        }


@pytest.mark.parametrize("at", [0, 3, 2_000, 30_000])
def test_a_kill_right_after_log_returns_loses_nothing(daemon: DaemonProcess, tmp_path, at):
    """Unpaced, as fast as log() goes; 0 and 3: within milliseconds of init()."""
    returned, rows = kill_once(daemon, tmp_path, "--how", "after", "--at", str(at))
    assert returned == at
    check(returned, rows)


@pytest.mark.parametrize("seed", range(10))
def test_a_kill_anywhere_in_the_loop_loses_nothing_log_returned_for(daemon: DaemonProcess, tmp_path, seed):
    """From another thread at a random moment: inside log() too, so the row being written may be torn."""
    rng = random.Random(seed)
    pace = ["0", "0.0005"][seed % 2]
    returned, rows = kill_once(
        daemon, tmp_path, "--how", "thread", "--delay", f"{rng.uniform(0.0, 0.4):.4f}", "--pace", pace
    )
    check(returned, rows)


@pytest.mark.parametrize("seed", range(6))
def test_a_kill_during_finish_loses_nothing(daemon: DaemonProcess, tmp_path, seed):
    """While finish() ships the rows the ring holds: the run is CRASHED, or FINISHED if the kill
    came after finish() was done; every row is stored either way."""
    rng = random.Random(seed)
    rows_logged = 50_000
    returned, rows = kill_once(
        daemon,
        tmp_path,
        "--how",
        "finish",
        "--rows",
        str(rows_logged),
        "--delay",
        f"{rng.uniform(0.0, 0.01):.4f}",
        state=pb.FINISHED,
    )
    assert returned == rows_logged - 1
    check(returned, rows)


@pytest.mark.parametrize("at", [0, 3])
@pytest.mark.parametrize("autostart", [True, False], ids=["autostart", "no-autostart"])
def test_a_kill_before_any_daemon_answered_loses_nothing(daemon_paths: DaemonProcess, tmp_path, at, autostart):
    """init() returns before StartRun is answered: killed right after log() number `at` returned,
    with no daemon running at the start. The journal holds the run's start; a daemon (the one the
    client auto-started, or one started after the kill) makes the run from it: every row, CRASHED.
    Without autostart the client's fallback may have made the folder first: adopted, the same rows."""
    d = daemon_paths
    env = {**d.env, "SWANLAB_CLIENT_AUTOSTART": "1" if autostart else "0"}
    progress = tmp_path / "progress"
    progress.write_bytes(struct.pack("<q", -1))
    proc = subprocess.run(
        [sys.executable, str(VICTIM), "--progress", str(progress), "--keys", str(KEYS)]
        + ["--how", "after", "--at", str(at), "--print", "id"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr
    run_id = proc.stdout.splitlines()[0]
    returned = struct.unpack("<q", progress.read_bytes()[:8])[0]
    assert returned == at
    if not socket_accepts(d.socket):
        try:
            d.start()  # the client died before it started one (or one it started is on its way)
        except DaemonStartError:
            wait_for(lambda: socket_accepts(d.socket), 30, "the daemon the client started")

    def crashed():
        folders = [p for p in d.runs() if p.name.endswith(run_id)]
        assert len(folders) <= 1, folders
        view = read_view(folders[0]) if folders else None
        return view if view is not None and view.finish is not None else None

    view = wait_for(crashed, 30, "the run to be made and marked CRASHED")
    assert view.finish.state == pb.CRASHED
    assert view.lost == []
    assert view.run_start.project == "kills"
    check(returned, view.rows.get(1, []))
    journals = d.socket.parent / "journals"
    wait_for(lambda: not any(journals.glob(f"{run_id}.*")), 10, "the journal to be deleted")
