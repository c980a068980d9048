"""Orphan journals (docs/journal.md, "A run no daemon had"): a process killed after init() but
before any daemon answered its StartRun leaves a journal that no run names, whose STARTED flag is
not set and whose writer is dead. The daemon makes the run from the start the journal carries
after its ring, through StartRun's create path, then settles it as a crash: every row, then
Finish{CRASHED}, and the journal is deleted. Against the daemon as a process; the test writes the
journals as the client's mapping leaves them (helpers/journalfile.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.journalfile import Ring
from helpers.rawclient import finish, run_summary, start_run
from helpers.standin import sleeper
from helpers.waiting import wait_for
from swanlabd.format import journal
from swanlabd.local import runfolder
from swanlabd.local.runfolder import new_run_id
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

CRASH_BOUND_S = 5.0
ROWS = 40


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def journals_dir(d: DaemonProcess) -> Path:
    folder = d.socket.parent / "journals"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def start_bytes(run_id: str, pid: int, *, project: str = "orphans", name: str = "exp", config: str = "") -> bytes:
    """The run's start as the client puts it after the ring: its StartRunRequest with the import
    path its package list is read from (here pytest's site folder), no credentials, no journal
    path (it is made before the journal)."""
    return svc.StartRunRequest(
        requirements=pb.Requirements(sys_path=[os.path.dirname(os.path.dirname(pytest.__file__))]),
        start=pb.RunStart(
            run_id=run_id,
            project=project,
            experiment_name=name,
            mode=pb.MODE_CLOUD,
            start_time_ms=int(time.time() * 1000),
            pid=pid,
            hostname="host",
        ),
        config=pb.Config(json=config or json.dumps({"lr": 0.1, "layers": [1, 2]})),
        metadata=pb.Metadata(json=json.dumps({"hostname": "host", "pid": pid})),
        pid=pid,
    ).SerializeToString()


def write_journal(
    d: DaemonProcess, run_id: str, pid: int, *, start: bytes | None = None, flags: int = 0, age_s: float = 0.0
) -> Path:
    """A journal of `pid` for `run_id` with ROWS rows of two keys, named as the client names it."""
    ring = Ring(1 << 14, pid=pid)
    ring.key(1, "loss")
    ring.key(2, "acc")
    for i in range(ROWS):
        ring.row((i, 1_700_000_000.0 + i / 10, (1, 2), (i / 4, 1 - i / 8)))
    path = ring.save(
        journals_dir(d) / f"{run_id}.{pid}.0badcafe.journal",
        start_bytes(run_id, pid) if start is None else start,
        flags,
    )
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def run_folder(d: DaemonProcess, run_id: str) -> Path | None:
    found = [p for p in d.runs() if p.name.endswith(run_id)]
    assert len(found) <= 1, f"run {run_id} made twice: {found}"
    return found[0] if found else None


def settled(d: DaemonProcess, run_id: str, timeout: float = 10.0) -> Path:
    """Wait for the run's folder to end with a Finish record; the folder."""

    def ended():
        folder = run_folder(d, run_id)
        return folder if folder is not None and read_view(folder).finish is not None else None

    return wait_for(ended, timeout, f"run {run_id} to be made and settled")


def gone(path: Path) -> None:
    """The journal is deleted (just after the Finish record is written)."""
    wait_for(lambda: not path.exists(), 5, "the journal to be deleted")


def check_run(folder: Path, run_id: str, pid: int, *, named: bool = True) -> None:
    view = read_view(folder)
    assert view.lost == []
    assert view.run_start is not None
    assert (view.run_start.run_id, view.run_start.project, view.run_start.experiment_name) == (run_id, "orphans", "exp")
    assert view.run_start.pid == pid
    assert bool(view.run_start.journal) == named  # its journal, as a StartRun that names it
    assert view.config == {"lr": 0.1, "layers": [1, 2]}
    assert view.finish is not None and view.finish.state == pb.CRASHED
    assert view.finishes == 1
    assert view.rows.get(1, []) == [(i, {"loss": i / 4, "acc": 1 - i / 8}) for i in range(ROWS)]
    assert f"pytest=={pytest.__version__}" in (folder / "files" / "requirements.txt").read_text().splitlines()


def test_a_running_daemon_makes_the_run_of_a_writer_killed_before_startrun(daemon: DaemonProcess) -> None:
    run_id, pid = new_run_id(), dead_pid()
    path = write_journal(daemon, run_id, pid)
    begun = time.monotonic()
    folder = settled(daemon, run_id)
    assert time.monotonic() - begun < CRASH_BOUND_S
    check_run(folder, run_id, pid)
    gone(path)
    summary = run_summary(daemon.stub(), run_id)
    assert summary.state == pb.CRASHED and summary.project == "orphans"
    assert f"run {run_id}: made from the journal {path}" in daemon.output()


def test_the_daemon_start_makes_the_runs_of_orphan_journals(daemon: DaemonProcess) -> None:
    daemon.stop()
    made = [(new_run_id(), dead_pid()) for _ in range(2)]
    paths = [write_journal(daemon, run_id, pid, age_s=5) for run_id, pid in made]
    daemon.start()
    # Made before the socket accepts: at start, before the sweep (which would have deleted them).
    for (run_id, pid), path in zip(made, paths, strict=True):
        folder = run_folder(daemon, run_id)
        assert folder is not None
        check_run(folder, run_id, pid)
        assert not path.exists()
    assert "deleted the leftover journal" not in daemon.output()


def test_a_started_journal_is_not_made_into_a_run(daemon: DaemonProcess) -> None:
    """STARTED: a daemon or the writer's fallback folder has the run. The scan leaves it; the
    sweep at the next start deletes it, as any leftover journal no run names."""
    started_id = new_run_id()
    started = write_journal(daemon, started_id, dead_pid(), flags=journal.STARTED)
    clock_id = new_run_id()
    write_journal(daemon, clock_id, dead_pid())  # made after the scan passed the other one
    settled(daemon, clock_id)
    assert started.exists() and run_folder(daemon, started_id) is None
    daemon.stop()
    daemon.start()
    assert not started.exists() and run_folder(daemon, started_id) is None
    assert f"deleted the leftover journal {started}" in daemon.output()


def test_a_live_writers_journal_is_left_alone_until_it_dies(daemon: DaemonProcess) -> None:
    live = sleeper()
    try:
        live_id = new_run_id()
        path = write_journal(daemon, live_id, live.pid)
        before = path.read_bytes()
        clock_id = new_run_id()
        write_journal(daemon, clock_id, dead_pid())
        settled(daemon, clock_id)
        assert path.read_bytes() == before and run_folder(daemon, live_id) is None
    finally:
        live.kill()
        live.wait()
    # Its writer was alive last time: looked at again, and made once it is gone.
    check_run(settled(daemon, live_id), live_id, live.pid)
    gone(path)


def bad_start(kind: str, run_id: str) -> bytes:
    if kind == "garbage":
        return b"\xff\xff\xff\xff"
    if kind == "attach":
        return svc.StartRunRequest(attach=True, start=pb.RunStart(run_id=run_id)).SerializeToString()
    if kind == "bad-name":
        return start_bytes(run_id, 1, project="bad/project")
    if kind == "bad-id":
        return start_bytes("../" + run_id, 1)
    return start_bytes(run_id, 1, config="{not json")


@pytest.mark.parametrize(
    "kind, why",
    [
        ("garbage", "holds no run start that parses"),
        ("attach", "holds no run start that parses"),
        ("bad-name", "its run cannot be made"),
        ("bad-id", "its run cannot be made"),
        ("bad-json", "its run cannot be made"),
    ],
)
def test_a_start_that_does_not_parse_or_pass_is_kept(daemon: DaemonProcess, kind: str, why: str) -> None:
    run_id = new_run_id()
    bad = write_journal(daemon, run_id, dead_pid(), start=bad_start(kind, run_id))
    clock_id = new_run_id()
    write_journal(daemon, clock_id, dead_pid())
    settled(daemon, clock_id)
    wait_for(lambda: str(bad) in daemon.output(), 5, "the journal's trouble to be logged")
    out = daemon.output()
    assert out.count(str(bad)) == 1 and why in out and "kept" in out
    assert bad.exists() and len(daemon.runs()) == 1
    assert start_run(daemon.stub()).run_id  # the daemon serves on
    daemon.stop()
    daemon.start()  # neither the start pass nor the sweep deletes it: a person may look
    assert bad.exists() and daemon.running


@pytest.mark.parametrize("named", [True, False], ids=["journal-named", "no-journal-named"])
def test_a_run_whose_startrun_landed_is_settled_not_made_twice(daemon: DaemonProcess, named: bool) -> None:
    """The writer died while its StartRun was answered (the daemon never saw it alive, so no
    crash watch): the run exists, the flag is not set. The scan settles that run (attaching the
    journal if the run names none), every row once, one folder."""
    run_id, pid = new_run_id(), dead_pid()
    path = write_journal(daemon, run_id, pid)
    later = time.time() + 3600
    os.utime(path, (later, later))  # too young for the scan until the StartRun landed
    req = svc.StartRunRequest()
    req.ParseFromString(start_bytes(run_id, pid))
    if named:
        req.journal = str(path)
    reply = daemon.stub().StartRun(req, timeout=10)
    assert reply.run_id == run_id
    os.utime(path, (time.time() - 5, time.time() - 5))
    folder = settled(daemon, run_id)
    check_run(folder, run_id, pid, named=named)
    gone(path)
    assert len(daemon.runs()) == 1
    out = daemon.output()
    assert f"run {run_id}: its process {pid} died as its StartRun was answered" in out
    assert "made from the journal" not in out


def test_a_run_id_another_process_ended_is_not_made_again(daemon: DaemonProcess) -> None:
    """The start is a new run (resume='never') of an id the daemon has: its StartRun would have
    been refused. Kept, logged, the run untouched."""
    stub = daemon.stub()
    run_id = new_run_id()
    req = svc.StartRunRequest(start=pb.RunStart(run_id=run_id, project="p", experiment_name="e"), pid=os.getpid())
    stub.StartRun(req, timeout=10)
    finish(stub, run_id, 1, 0)
    path = write_journal(daemon, run_id, dead_pid())
    wait_for(lambda: f"its run {run_id} exists already" in daemon.output(), 10, "the journal to be turned down")
    assert path.exists() and len(daemon.runs()) == 1
    assert run_summary(stub, run_id).state == pb.FINISHED


def test_a_resume_that_never_landed_resumes_the_ended_run(daemon: DaemonProcess) -> None:
    """resume='allow' on a run that ended: what its StartRun would have done, a new primary writer."""
    stub = daemon.stub()
    run_id = new_run_id()
    req = svc.StartRunRequest(start=pb.RunStart(run_id=run_id, project="p", experiment_name="e"), pid=os.getpid())
    stub.StartRun(req, timeout=10)
    finish(stub, run_id, 1, 0)
    start = svc.StartRunRequest()
    pid = dead_pid()
    start.ParseFromString(start_bytes(run_id, pid))
    start.start.resume = "allow"
    path = write_journal(daemon, run_id, pid, start=start.SerializeToString())

    def crashed():
        return run_summary(stub, run_id).state == pb.CRASHED

    wait_for(crashed, 10, "the resumed run to be settled")
    view = read_view(daemon.runs()[0])
    assert view.rows.get(2, []) == [(i, {"loss": i / 4, "acc": 1 - i / 8}) for i in range(ROWS)]
    gone(path)
    assert len(daemon.runs()) == 1


def test_a_daemon_killed_and_restarted_finds_the_orphan(daemon: DaemonProcess) -> None:
    """The orphan appears while no daemon runs, younger than the scan's bound at start: the
    crash watch of the restarted daemon makes it."""
    daemon.kill(signal.SIGKILL)
    run_id, pid = new_run_id(), dead_pid()
    path = write_journal(daemon, run_id, pid)
    daemon.start()
    check_run(settled(daemon, run_id), run_id, pid)
    gone(path)


def test_a_fallback_folder_made_before_the_flag_is_adopted_with_the_rows(daemon: DaemonProcess) -> None:
    """Killed after its fallback made the run folder, before it set the flag: the scan finds the
    folder in the way (kept, not made twice); adoption names the journal and reads it."""
    run_id, pid = new_run_id(), dead_pid()
    start = start_bytes(run_id, pid)
    path = write_journal(daemon, run_id, pid, start=start)
    req = svc.StartRunRequest.FromString(start)
    req.journal = str(path)
    run_dir = daemon.home / "runs" / runfolder.run_folder_name(run_id, req.start.start_time_ms)
    runfolder.create(run_dir, runfolder.new_run_start(req, run_id), req).close()  # as FileTransport does
    wait_for(lambda: not path.exists(), 30, "the folder to be adopted and its journal read")
    check_run(settled(daemon, run_id), run_id, pid)
    assert "made from the journal" not in daemon.output()
