"""swanlab_client with a real swanlabd process: the quickstart, a training process killed or
stopped mid-run, eight at once, no daemon at all, a daemon gone for good, and the run's end state.

Each test gets its own daemon paths (tests/helpers/daemon.py); scripts run as subprocesses with
`daemon.env`, so they find that daemon (or auto-start one on those paths) and no other.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runner import TRAINER, expected_rows, ls, trainer, wait_exit, wait_line

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlabd.format.backup import BACKUP_FILENAME
from swanlabd_pb import records_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
CRASH_BOUND_S = 5  # the daemon marks a run CRASHED within 5 s of its client's death


def run_state(daemon: DaemonProcess, run_dir: str) -> str:
    return next(r["state"] for r in ls(daemon) if r["run_dir"] == run_dir)


def rows_in_backup(daemon: DaemonProcess) -> int:
    """How many rows the one run's backup holds so far (0 before the run and its backup exist)."""
    runs = daemon.runs()
    if not runs or not (runs[0] / BACKUP_FILENAME).exists():
        return 0
    return len(read_view(runs[0]).rows.get(1, []))


def test_quickstart_autostarts_the_daemon_and_the_run_is_listed_and_dumped(daemon_paths: DaemonProcess):
    d = daemon_paths
    assert not d.running
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        env=d.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert d.running, "the daemon the quickstart started must outlive it"
    assert "swanlabctl dump" in result.stdout
    runs = ls(d)
    assert len(runs) == 1 and runs[0]["state"] == "FINISHED"
    dump = d.ctl("dump", runs[0]["run_dir"], check=True).stdout
    assert "train/loss" in dump and "val/acc" in dump
    rows = read_view(runs[0]["run_dir"]).rows[1]
    assert [s for s, r in rows if "train/loss" in r] == list(range(1000))
    assert [s for s, r in rows if "val/mse" in r] == [199, 399, 599, 799, 999]


def test_training_process_sigkill_keeps_acked_rows_and_marks_crashed_within_5s(daemon: DaemonProcess):
    proc = trainer(daemon, "--rows", "5000", "--hold")
    run_dir = json.loads(wait_line(proc, "{"))["run_dir"]
    wait_line(proc, "DURABLE")
    proc.kill()
    proc.wait()
    wait_for(lambda: run_state(daemon, run_dir) == "CRASHED", CRASH_BOUND_S, "run marked CRASHED")
    content = read_view(run_dir)
    assert content.rows[1] == expected_rows(5000, 5)
    assert content.finish.state == pb.CRASHED


def test_sigterm_finishes_the_run_as_aborted_with_its_data_then_dies_by_the_signal(daemon: DaemonProcess):
    proc = trainer(daemon, "--rows", "3000", "--hold")
    run_dir = json.loads(wait_line(proc, "{"))["run_dir"]
    wait_line(proc, "DURABLE")
    proc.send_signal(signal.SIGTERM)
    assert wait_exit(proc, daemon, 60) == -signal.SIGTERM
    content = read_view(run_dir)
    assert content.rows[1] == expected_rows(3000, 5)
    assert content.finish.state == pb.ABORTED
    assert next(r["state"] for r in ls(daemon) if r["run_dir"] == run_dir) == "ABORTED"


def test_sigterm_while_still_logging_keeps_what_was_logged(daemon: DaemonProcess):
    proc = trainer(daemon, "--rows", "100000000", "--pause-every", "1000", "--pause", "0.01")
    wait_for(lambda: rows_in_backup(daemon) > 1000, 60, "more than 1000 rows durable in the backup", interval=0.1)
    assert proc.poll() is None, "the trainer must still be logging when SIGTERM comes"
    proc.send_signal(signal.SIGTERM)
    assert wait_exit(proc, daemon, 60) == -signal.SIGTERM
    (run,) = ls(daemon)
    content = read_view(run["run_dir"])
    n = len(content.rows[1])
    assert n > 1000 and content.rows[1] == expected_rows(n, 5)
    assert content.finish.state == pb.ABORTED


def test_eight_training_processes_at_once_each_with_its_own_run(daemon: DaemonProcess):
    procs = [trainer(daemon, "--rows", "20000", "--keys", "3", "--name", f"p{i}") for i in range(8)]
    dirs = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        dirs.append(json.loads(out.splitlines()[0])["run_dir"])
    assert len(set(dirs)) == 8
    for run_dir in dirs:
        content = read_view(run_dir)
        assert content.rows[1] == expected_rows(20000, 3)
        assert content.finish.state == pb.FINISHED


def test_no_daemon_at_all_writes_the_run_folder_which_a_daemon_adopts(daemon_paths: DaemonProcess):
    d = daemon_paths
    env = {**d.env, "SWANLAB_CLIENT_AUTOSTART": "0"}
    result = subprocess.run(
        [sys.executable, str(TRAINER), "--rows", "2000"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "writing run" in result.stderr
    run_dir = json.loads(result.stdout.splitlines()[0])["run_dir"]
    content = read_view(run_dir)
    assert content.rows[1] == expected_rows(2000, 5)
    assert content.finish.state == pb.FINISHED
    d.start()
    (run,) = ls(d)
    assert Path(run["run_dir"]).resolve() == Path(run_dir).resolve() and run["state"] == "FINISHED"


def test_daemon_gone_for_good_mid_run_then_fallback_holds_everything(daemon: DaemonProcess):
    env = {**daemon.env, "SWANLAB_CLIENT_AUTOSTART": "0"}
    proc = subprocess.Popen(
        [sys.executable, str(TRAINER), "--rows", "20000", "--pause-every", "1000", "--pause", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Mid run: the daemon has written some rows of the run (not all 20000: the trainer needs >= 2 s).
    wait_for(lambda: rows_in_backup(daemon) >= 1000, 60, "1000 rows in the backup", interval=0.05)
    daemon.kill(signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "writing run" in err, "the client must have fallen back to writing the run folder itself"
    run_dir = json.loads(out.splitlines()[0])["run_dir"]
    content = read_view(run_dir)
    assert content.rows[1] == expected_rows(20000, 5)
    assert content.finish.state == pb.FINISHED


@pytest.mark.parametrize(
    ("ending", "state", "returncode"),
    [
        ("pass", pb.FINISHED, 0),  # no finish() call: atexit finishes the run
        ("raise ValueError('boom')", pb.CRASHED, 1),
        ("raise KeyboardInterrupt", pb.ABORTED, 1),
    ],
)
def test_the_way_a_script_ends_sets_the_run_state(daemon: DaemonProcess, ending: str, state: int, returncode: int):
    script = (
        "import swanlab_client as s\n"
        "s.init(project='endings', mode='offline')\n"
        "for i in range(100):\n"
        "    s.log({'a': i})\n"
        f"{ending}\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=daemon.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == returncode, result.stderr
    (run_dir,) = daemon.runs()
    content = read_view(run_dir)
    assert [s for s, _ in content.rows[1]] == list(range(100))
    assert content.finish.state == state
    if state == pb.CRASHED:
        assert "ValueError: boom" in content.finish.error and "Traceback" in result.stderr


def test_clients_racing_to_start_the_daemon_all_succeed_on_one_daemon(daemon_paths: DaemonProcess):
    d = daemon_paths
    procs = [trainer(d, "--rows", "2000", "--name", f"racer{i}") for i in range(4)]
    dirs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "writing run" not in err  # nobody fell back to writing its folder itself
        dirs.append(json.loads(out.splitlines()[0])["run_dir"])
    assert d.running
    runs = ls(d)
    assert sorted(r["run_dir"] for r in runs) == sorted(dirs)
    assert all(r["state"] == "FINISHED" for r in runs)
    for run_dir in dirs:
        assert read_view(run_dir).rows[1] == expected_rows(2000, 5)
