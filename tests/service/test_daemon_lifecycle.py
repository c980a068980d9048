"""The daemon as a process: restart recovery, crash watch, one daemon per data root, stale
sockets, clean shutdown, adoption of folders written without a daemon, the host monitor."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time

import grpc
import pytest

from helpers.daemon import DaemonProcess
from helpers.rawclient import client_seqs, finish, keys, kinds, read_backup, rows, run_summary, start_run, stream
from helpers.standin import sleeper
from helpers.waiting import wait_for
from swanlabd.format import backup, scalarcodec
from swanlabd.service.daemon import CRASH_WATCH_INTERVAL_S
from swanlabd.service.locks import socket_lock_path
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc
from swanlabd_pb import service_pb2_grpc as svc_grpc

CRASH_BOUND_S = 5.0
# A run that must stay RUNNING is watched over this many crash-watch ticks: the daemon had that
# many chances to (wrongly) end it.
TICKS_WATCHED = 3


def holds_for(predicate, seconds: float, what: str, interval: float = 0.05) -> None:
    """Check predicate() throughout `seconds` s: a claim that something does NOT happen needs a window."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), f"{what}: stopped holding"
        time.sleep(interval)
    assert predicate(), f"{what}: stopped holding"


def stays_running(stub, run_id: str) -> None:
    holds_for(
        lambda: run_summary(stub, run_id).state == pb.RUNNING,
        TICKS_WATCHED * CRASH_WATCH_INTERVAL_S,
        f"{run_id} RUNNING over {TICKS_WATCHED} crash-watch ticks",
    )


def blocked_on_the_state_db(d: DaemonProcess, pid: int) -> bool:
    """The daemon `pid` has claimed its socket and tried to open the state DB the test holds.

    It writes its pid into `<socket>.lock` just before it opens the DB, and LevelDB renames LOG
    to LOG.old at every open attempt, the refused ones included.
    """
    lock = socket_lock_path(d.socket)
    claimed = lock.exists() and lock.read_text().strip() == str(pid)
    return claimed and (d.home / "state" / "LOG.old").exists()


def test_sigkill_and_restart_recovers_client_seqs(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    assert stream(stub, run.run_id, 1, [[keys(1, {1: "x"})], rows(2, 9)]) == [1, 10]
    daemon.kill(signal.SIGKILL)
    assert daemon.socket.exists()  # stale socket left behind
    daemon.start()
    stub = daemon.stub()
    again = stub.StartRun(svc.StartRunRequest(start=pb.RunStart(run_id=run.run_id), attach=True, writer=1), timeout=10)
    assert again.writer == 1 and again.durable_client_seq == 10
    # The client replays what it had not seen acked; the daemon drops what it holds.
    assert stream(stub, run.run_id, 1, [rows(6, 7)]) == [12]
    finish(stub, run.run_id, 1, 12)
    records = read_backup(run.run_dir)
    assert client_seqs(records) == list(range(1, 13))
    assert kinds(records)[-1] == "finish"


def test_stream_without_startrun_after_restart_reopens_the_run(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    stream(stub, run.run_id, 1, [[keys(1, {1: "x"})], rows(2, 2)])
    daemon.kill(signal.SIGKILL)
    daemon.start()
    stub = daemon.stub()
    # Key ids defined before the restart stay valid (recovered from the file).
    assert stream(stub, run.run_id, 1, [rows(2, 4)]) == [5]
    finish(stub, run.run_id, 1, 5)
    assert client_seqs(read_backup(run.run_dir)) == [1, 2, 3, 4, 5]


def test_crash_watch_marks_crashed_within_5s(daemon):
    stub = daemon.stub()
    proc = sleeper()
    try:
        run = start_run(stub, pid=proc.pid)
        stream(stub, run.run_id, 1, [[keys(1, {1: "x"})], rows(2, 3)])
        stays_running(stub, run.run_id)
    finally:
        proc.kill()
    t0 = time.monotonic()
    wait_for(lambda: run_summary(stub, run.run_id).state == pb.CRASHED, CRASH_BOUND_S, "CRASHED")
    proc.wait()
    elapsed = time.monotonic() - t0
    records = read_backup(run.run_dir)
    assert client_seqs(records) == [1, 2, 3, 4]  # every acked row kept
    last = records[-1]
    assert last.WhichOneof("kind") == "finish" and last.finish.state == pb.CRASHED and last.writer == 0
    assert str(proc.pid) in last.finish.error
    assert elapsed < CRASH_BOUND_S


def test_crash_watch_after_daemon_restart(daemon):
    stub = daemon.stub()
    proc = sleeper()
    try:
        run = start_run(stub, pid=proc.pid)
        stream(stub, run.run_id, 1, [[keys(1, {1: "x"})]])
        daemon.kill(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    daemon.start()
    stub = daemon.stub()
    wait_for(lambda: run_summary(stub, run.run_id).state == pb.CRASHED, CRASH_BOUND_S, "CRASHED after restart")
    assert read_backup(run.run_dir)[-1].finish.state == pb.CRASHED


def test_second_daemon_on_same_data_root_is_refused(daemon):
    other_socket = daemon.root / "other.sock"
    out = subprocess.run(
        [sys.executable, "-m", "swanlabd", "run", "--socket", str(other_socket), "--data-root", str(daemon.home)],
        env=daemon.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines == [f"swanlabd: another swanlabd (pid {daemon.pid}) is already running for data root {daemon.home}"]
    assert not other_socket.exists()
    assert daemon.stub().Status(svc.StatusRequest(), timeout=5).pid == daemon.pid


def test_second_daemon_on_same_socket_is_refused(daemon):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "swanlabd",
            "run",
            "--socket",
            str(daemon.socket),
            "--data-root",
            str(daemon.root / "home2"),
        ],
        env=daemon.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert (
        out.stderr.strip()
        == f"swanlabd: another swanlabd (another process) is already running for socket {daemon.socket}"
    )
    assert daemon.stub().Status(svc.StatusRequest(), timeout=5).pid == daemon.pid


def daemon_command(socket, home) -> list[str]:
    return [sys.executable, "-m", "swanlabd", "run", "--socket", str(socket), "--data-root", str(home)]


def test_socket_taken_between_a_daemons_check_and_its_bind_is_refused(daemon_paths):
    """gRPC unlinks the socket path when it binds: a daemon that checked the socket but has not
    bound yet (here: held up opening its state DB) still owns it, and a second daemon with
    another data root must not take it over."""
    import plyvel

    (daemon_paths.home / "state").mkdir(parents=True)
    db = plyvel.DB(str(daemon_paths.home / "state"), create_if_missing=True)
    first = daemon_paths.spawn()
    daemon_paths.proc = first
    second = None
    try:
        wait_for(lambda: blocked_on_the_state_db(daemon_paths, first.pid), 20, "first daemon waits for the state DB")
        os.kill(first.pid, signal.SIGSTOP)  # between its socket check and its bind, for as long as we like
        second = subprocess.Popen(
            daemon_command(daemon_paths.socket, daemon_paths.root / "home2"),
            env=daemon_paths.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _, err = second.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError("the second daemon took the socket of the first") from None
        assert second.returncode == 1
        taken = f"swanlabd: another swanlabd (another process) is already running for socket {daemon_paths.socket}"
        assert err.strip() == taken
    finally:
        if second is not None and second.poll() is None:
            second.kill()
            second.wait()
        db.close()
        os.kill(first.pid, signal.SIGCONT)
    daemon_paths.wait_ready()
    assert daemon_paths.stub().Status(svc.StatusRequest(), timeout=5).pid == first.pid


def test_a_shared_socket_directory_is_refused_not_made_private(daemon_paths):
    """chmod 0700 on a directory others use (/, /tmp, /run: a relative socket path of a daemon
    started in / names /) would lock every other user and service out of it."""
    shared = daemon_paths.root / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    (shared / "someone-elses-file").write_text("")
    out = subprocess.run(
        daemon_command(shared / "swanlabd.sock", daemon_paths.home),
        env=daemon_paths.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"swanlabd: socket directory {shared} is open to others (mode 755) and is not swanlabd's alone: "
        "put the socket in a directory of its own"
    ]
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755 and not (shared / "swanlabd.sock").exists()


def test_stale_socket_after_sigkill_is_replaced(daemon):
    first = daemon.pid
    daemon.kill(signal.SIGKILL)
    assert daemon.socket.exists()
    daemon.start()
    assert daemon.pid != first
    assert daemon.stub().Status(svc.StatusRequest(), timeout=5).pid == daemon.pid


def test_socket_dir_is_private_and_pid_file_written(daemon):
    assert stat.S_IMODE(daemon.socket.parent.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(daemon.socket.stat().st_mode)
    assert int((daemon.home / "swanlabd.pid").read_text()) == daemon.pid


def test_sigterm_acks_finishes_and_exits_0(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    gate = threading.Event()
    outcome = {}

    def requests():
        yield svc.StreamRequest(run_id=run.run_id, writer=1, records=[keys(1, {1: "x"}), *rows(2, 4)])
        gate.wait(10)
        time.sleep(30)  # an idle open stream: shutdown must not wait for it

    def consume():
        acks = []
        try:
            for reply in stub.Stream(requests(), timeout=60):
                acks.append(reply.durable_client_seq)
                gate.set()
        except grpc.RpcError as exc:
            outcome["code"] = exc.code()
        outcome["acks"] = acks

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    assert gate.wait(10)
    t0 = time.monotonic()
    assert daemon.stop(timeout=15) == 0
    assert time.monotonic() - t0 < 10  # config.shutdown_timeout_s
    t.join(10)
    assert outcome["acks"] == [5]
    assert outcome["code"] == grpc.StatusCode.UNAVAILABLE
    assert not (daemon.home / "swanlabd.pid").exists()
    assert client_seqs(read_backup(run.run_dir)) == [1, 2, 3, 4, 5]
    # The run stays RUNNING across a clean restart: its client reconnects and goes on.
    daemon.start()
    assert run_summary(daemon.stub(), run.run_id).state == pb.RUNNING


def test_always_fsync_mode_round_trip():
    with DaemonProcess(fsync="always") as d:
        stub = d.stub()
        run = start_run(stub)
        assert stream(stub, run.run_id, 1, [[keys(1, {1: "x"})], rows(2, 2), rows(4, 2)]) == [1, 3, 5]
        finish(stub, run.run_id, 1, 5)
        assert client_seqs(read_backup(run.run_dir)) == [1, 2, 3, 4, 5]


def write_fallback_folder(runs_dir, run_id: str, finished: bool) -> str:
    """What a client writes when no daemon can be reached: a run folder it appends to itself."""
    run_dir = runs_dir / f"run-20260101_000000-{run_id}"
    run_dir.mkdir(parents=True)
    with backup.BackupWriter.create(run_dir / backup.BACKUP_FILENAME, run_id) as w:
        w.append([pb.Record(run_start=pb.RunStart(run_id=run_id, project="fallback", mode=pb.MODE_OFFLINE, pid=1))])
        batch = [keys(1, {1: "x"}), *rows(2, 3)]
        for r in batch:
            r.writer = 1
        w.append(batch)
        if finished:
            w.append([pb.Record(writer=1, finish=pb.Finish(state=pb.FINISHED))])
    return str(run_dir)


def test_daemon_adopts_folders_written_without_it(daemon_paths):
    runs = daemon_paths.home / "runs"
    done = write_fallback_folder(runs, "fallbackdone", finished=True)
    torn = write_fallback_folder(runs, "fallbackcut", finished=False)
    daemon_paths.start()
    stub = daemon_paths.stub()
    assert run_summary(stub, "fallbackdone").state == pb.FINISHED
    assert run_summary(stub, "fallbackdone").run_dir == done
    cut = run_summary(stub, "fallbackcut")
    assert cut.state == pb.CRASHED and cut.run_dir == torn
    records = read_backup(torn)
    assert client_seqs(records) == [1, 2, 3, 4] and records[-1].finish.state == pb.CRASHED


def test_running_daemon_adopts_folders_written_while_it_did_not_answer(daemon):
    """Clients that could not reach the daemon (hung, restarting) wrote their folders meanwhile:
    the daemon finds them by listing runs/ every few seconds."""
    from swanlabd.service.daemon import ADOPT_SCAN_INTERVAL_S

    runs = daemon.home / "runs"
    (runs / "run-20260101_000000-notarun").mkdir()  # no backup in it: never adopted, never an error
    done = write_fallback_folder(runs, "latedone", finished=True)
    cut = write_fallback_folder(runs, "latecut", finished=False)
    stub = daemon.stub()

    def adopted():
        known = {r.run_id: r for r in stub.ListRuns(svc.ListRunsRequest(), timeout=5).runs}
        # Each is registered RUNNING, then settled (in turn): wait for both final states.
        settled = {"latedone", "latecut"} <= set(known) and known["latecut"].state == pb.CRASHED
        return known if settled and known["latedone"].state == pb.FINISHED else None

    known = wait_for(adopted, ADOPT_SCAN_INTERVAL_S + CRASH_BOUND_S, "adopted")
    assert (known["latedone"].state, known["latedone"].run_dir) == (pb.FINISHED, done)
    assert known["latecut"].run_dir == cut and read_backup(cut)[-1].finish.state == pb.CRASHED
    assert set(known) == {"latedone", "latecut"}
    assert "cannot adopt" not in daemon.output()


def test_folder_of_a_startrun_the_daemon_died_in_is_removed_not_adopted(daemon_paths):
    """StartRun builds the folder under a temporary name and renames it when complete: one left
    under that name was never answered, so no client knows it."""
    runs = daemon_paths.home / "runs"
    unanswered = runs / ".new-run-20260101_000000-halfmade-1a2b3c4d"
    unanswered.mkdir(parents=True)
    with backup.BackupWriter.create(unanswered / backup.BACKUP_FILENAME, "halfmade"):
        pass
    daemon_paths.start()
    assert not unanswered.exists() and daemon_paths.runs() == []
    assert not daemon_paths.stub().ListRuns(svc.ListRunsRequest(), timeout=5).runs


def test_adopt_waits_while_the_client_still_writes(daemon_paths):
    """A fallback folder whose client is alive (holds the flock) is left alone until it exits."""
    runs = daemon_paths.home / "runs"
    run_dir = runs / "run-20260101_000000-stillwriting"
    run_dir.mkdir(parents=True)
    proc = sleeper()
    writer = backup.BackupWriter.create(run_dir / backup.BACKUP_FILENAME, "stillwriting")
    writer.append([pb.Record(run_start=pb.RunStart(run_id="stillwriting", pid=proc.pid))])
    try:
        daemon_paths.start()
        stub = daemon_paths.stub()
        stays_running(stub, "stillwriting")
        writer.append([pb.Record(writer=1, finish=pb.Finish(state=pb.FINISHED))])
    finally:
        writer.close()
        proc.kill()
        proc.wait()
    wait_for(lambda: run_summary(stub, "stillwriting").state == pb.FINISHED, CRASH_BOUND_S, "settled")


def test_monitor_writes_system_rows_into_active_runs():
    with DaemonProcess(env={"SWANLABD_MONITOR_INTERVAL_S": "0.2"}) as d:
        stub = d.stub()
        run = start_run(stub)

        def system_records() -> int:
            return sum(r.WhichOneof("kind") == "system" for r in read_backup(run.run_dir))

        wait_for(lambda: system_records() >= 2, 30, "two monitor samples in the backup")
        finish(stub, run.run_id, 1, 0)
        records = read_backup(run.run_dir)
    system = [r for r in records if r.WhichOneof("kind") == "system"]
    assert len(system) >= 2
    defs = {k.id: k.name for r in records if r.WhichOneof("kind") == "keys" and r.writer == 0 for k in r.keys.keys}
    assert all(r.writer == 0 and r.client_seq == 0 for r in system)
    assert [scalarcodec.steps(r.system) for r in system] == [[i] for i in range(len(system))]
    names = {defs[i] for r in system for i in scalarcodec.decode(r.system).key_ids}
    assert "__swanlab__.cpu.pct" in names and "__swanlab__.mem.proc" in names  # host + the client's tree
    assert all(n.startswith("__swanlab__.") for n in names)


def test_status_reports_runs_and_daemon(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    status = stub.Status(svc.StatusRequest(), timeout=5)
    assert status.pid == daemon.pid and status.socket == str(daemon.socket) and status.data_root == str(daemon.home)
    assert [r.run_id for r in status.active_runs] == [run.run_id]
    finish(stub, run.run_id, 1, 0)
    assert not stub.Status(svc.StatusRequest(), timeout=5).active_runs


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_shut_down_cleanly(daemon, sig):
    assert daemon.kill(sig) == 0
    assert "swanlabd stopped" in daemon.output()
    assert not os.path.exists(daemon.home / "swanlabd.pid")


def test_exactly_once_across_random_sigkills(daemon):
    """A raw client streams 200,000 rows while the daemon is SIGKILLed 10 times at random moments.

    After each restart the client asks what the daemon holds (attach, writer=1) and replays the
    rest: the backup must hold every row exactly once, in order.
    """
    import random

    total_rows, rows_per_record, records_per_request = 200_000, 100, 5
    total_records = 1 + total_rows // rows_per_record  # KeyDefs + scalar records

    def record(cs: int) -> pb.Record:
        if cs == 1:
            return keys(1, {1: "x"})
        first = (cs - 2) * rows_per_record
        steps = list(range(first, first + rows_per_record))
        return pb.Record(
            client_seq=cs,
            scalars=pb.ScalarRows(
                steps=steps,
                row_sizes=[1] * rows_per_record,
                key_ids=[1] * rows_per_record,
                values=[float(s) for s in steps],
            ),
        )

    run = start_run(daemon.stub())
    done = threading.Event()
    reconnects = []

    def client():
        while True:
            try:
                fast_retry = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 200)]
                with grpc.insecure_channel(daemon.target, options=fast_retry) as channel:
                    stub = svc_grpc.SwanlabdStub(channel)
                    held = stub.StartRun(
                        svc.StartRunRequest(start=pb.RunStart(run_id=run.run_id), attach=True, writer=1),
                        timeout=5,
                        wait_for_ready=True,
                    ).durable_client_seq
                    reconnects.append(held)
                    if held == total_records:
                        finish(stub, run.run_id, 1, held)
                        done.set()
                        return
                    batches = (
                        [record(cs) for cs in range(start, min(start + records_per_request, total_records + 1))]
                        for start in range(held + 1, total_records + 1, records_per_request)
                        if not time.sleep(0.005)  # paced, so the kills land mid-stream
                    )
                    stream(stub, run.run_id, 1, batches, timeout=60)
            except grpc.RpcError as exc:
                expected = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED)
                assert exc.code() in expected, exc
                time.sleep(0.05)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    rng = random.Random(1234)
    for i in range(10):
        # Each kill lands while the client streams: after it reconnected, at a random moment.
        wait_for(lambda i=i: len(reconnects) > i or done.is_set(), 30, "client reconnect")
        time.sleep(rng.uniform(0.02, 0.3))
        daemon.kill(signal.SIGKILL)
        daemon.start()
    assert done.wait(60), "client did not finish"
    records = read_backup(run.run_dir)
    assert client_seqs(records) == list(range(1, total_records + 1))
    steps = [s for r in records if r.WhichOneof("kind") == "scalars" for s in scalarcodec.steps(r.scalars)]
    assert steps == list(range(total_rows))
    assert records[-1].finish.state == pb.FINISHED
    assert len([h for h in reconnects if 0 < h < total_records]) >= 8, reconnects  # kills hit mid-run


def test_unusable_data_root_is_a_one_line_startup_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    d = DaemonProcess()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "swanlabd", "run", "--socket", str(d.socket), "--data-root", str(blocker / "home")],
            env=d.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        d.close()
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [f"swanlabd: cannot use data root {blocker / 'home'}: Not a directory"]


@pytest.mark.parametrize("name, what", [("state", "state DB"), ("runs", "run folders")])
def test_a_file_where_a_data_root_folder_belongs_is_a_one_line_startup_error(daemon_paths, name, what):
    daemon_paths.home.mkdir(mode=0o700)
    (daemon_paths.home / name).write_text("")
    out = subprocess.run(daemon_paths.command(), env=daemon_paths.env, capture_output=True, text=True, timeout=30)
    said = f"swanlabd: cannot use {what} {daemon_paths.home / name}: it exists and is not a directory"
    assert (out.returncode, out.stderr.strip().splitlines()) == (1, [f"{said}; move it out of the way"])


def test_daemon_waits_for_a_brief_holder_of_the_state_db(daemon_paths):
    import plyvel

    (daemon_paths.home / "state").mkdir(parents=True)
    db = plyvel.DB(str(daemon_paths.home / "state"), create_if_missing=True)
    proc = daemon_paths.spawn()
    daemon_paths.proc = proc
    try:
        wait_for(lambda: blocked_on_the_state_db(daemon_paths, proc.pid), 20, "daemon refused by the state DB")
    finally:
        db.close()
    daemon_paths.wait_ready()
    assert daemon_paths.stub().Status(svc.StatusRequest(), timeout=5).pid == proc.pid


def test_sync_adopts_a_copied_folder_and_refuses_non_folders(daemon):
    stub = daemon.stub()
    elsewhere = daemon.root / "copied"
    run_dir = write_fallback_folder(elsewhere, "copiedrun", finished=True)
    with pytest.raises(grpc.RpcError) as info:
        list(stub.Sync(svc.SyncRequest(paths=[str(daemon.root)]), timeout=10))
    assert (
        info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        and "is neither a swanlabd run folder nor a run of a tool sync reads" in info.value.details()
    )
    # With uploading off the daemon still adopts the folder, then says it cannot upload.
    with pytest.raises(grpc.RpcError) as info:
        list(stub.Sync(svc.SyncRequest(paths=[run_dir]), timeout=10))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "upload=false" in info.value.details()
    adopted = run_summary(stub, "copiedrun")
    assert adopted.run_dir == run_dir and adopted.state == pb.FINISHED and adopted.records == 7


def test_client_finishes_a_registered_run_while_no_daemon_runs(daemon):
    """The daemon dies; the client writes the rest (and the Finish) into the folder itself."""
    stub = daemon.stub()
    run = start_run(stub)
    stream(stub, run.run_id, 1, [[keys(1, {1: "x"})], rows(2, 2)])
    daemon.kill(signal.SIGKILL)
    with backup.BackupWriter.open(f"{run.run_dir}/{backup.BACKUP_FILENAME}") as w:
        assert w.client_seqs[1] == 3
        batch = rows(4, 2)
        for r in batch:
            r.writer = 1
        w.append([*batch, pb.Record(writer=1, finish=pb.Finish(state=pb.FINISHED))])
    daemon.start()
    stub = daemon.stub()
    assert run_summary(stub, run.run_id).state == pb.FINISHED
    records = read_backup(run.run_dir)
    assert client_seqs(records) == [1, 2, 3, 4, 5] and kinds(records).count("finish") == 1


def test_run_held_by_its_client_at_restart_is_settled_when_the_client_exits(daemon):
    stub = daemon.stub()
    proc = sleeper()
    run = start_run(stub, pid=proc.pid)
    daemon.kill(signal.SIGKILL)
    writer = backup.BackupWriter.open(f"{run.run_dir}/{backup.BACKUP_FILENAME}")  # the client's fallback
    try:
        daemon.start()
        stub = daemon.stub()
        stays_running(stub, run.run_id)
    finally:
        writer.close()
        proc.kill()
        proc.wait()
    wait_for(lambda: run_summary(stub, run.run_id).state == pb.CRASHED, CRASH_BOUND_S, "CRASHED")
    assert kinds(read_backup(run.run_dir)).count("finish") == 1


def test_folder_of_a_live_client_left_by_a_daemon_crash_stays_running(daemon_paths):
    """The daemon died inside StartRun, after the folder but before its registry entry and reply."""
    run_dir = daemon_paths.home / "runs" / "run-20260101_000000-orphan01"
    run_dir.mkdir(parents=True)
    start = pb.RunStart(run_id="orphan01", project="p", pid=os.getpid(), start_time_ms=int(time.time() * 1000))
    with backup.BackupWriter.create(run_dir / backup.BACKUP_FILENAME, "orphan01") as w:
        w.append([pb.Record(run_start=start)])
    daemon_paths.start()
    stub = daemon_paths.stub()
    assert run_summary(stub, "orphan01").state == pb.RUNNING
    retry = stub.StartRun(svc.StartRunRequest(start=start, pid=os.getpid()), timeout=10)
    assert (retry.writer, retry.durable_client_seq, retry.run_dir) == (1, 0, str(run_dir))
    assert stream(stub, "orphan01", 1, [[keys(1, {1: "x"})]]) == [1]
    finish(stub, "orphan01", 1, 1)
    assert run_summary(stub, "orphan01").state == pb.FINISHED
