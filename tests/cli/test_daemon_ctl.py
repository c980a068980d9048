"""`swanlabctl status` and `swanlabctl ls` against a real daemon (and without one)."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from helpers.rawclient import finish, keys, rows, start_run, stream


def test_status_up_text_and_json(daemon):
    stub = daemon.stub()
    run = start_run(stub, project="mnist", name="baseline")
    out = daemon.ctl("status")
    assert out.returncode == 0, out.stderr
    assert "swanlabd 0.1.0 is running" in out.stdout
    assert f"pid:        {daemon.pid}" in out.stdout
    assert str(daemon.socket) in out.stdout and str(daemon.home) in out.stdout
    assert "active runs: 1" in out.stdout and f"{run.run_id}  mnist/baseline" in out.stdout

    doc = json.loads(daemon.ctl("status", "--json").stdout)
    assert doc["running"] is True and doc["pid"] == daemon.pid and doc["version"] == "0.1.0"
    assert doc["socket"] == str(daemon.socket) and doc["data_root"] == str(daemon.home)
    [active] = doc["active_runs"]
    assert active["run_id"] == run.run_id and active["state"] == "RUNNING" and isinstance(active["records"], int)


def test_status_down_exits_nonzero(daemon):
    daemon.stop()
    out = daemon.ctl("status")
    assert out.returncode == 1
    assert out.stdout.strip() == f"swanlabd is not running (nothing answers on {daemon.socket})"
    out = daemon.ctl("status", "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout) == {"running": False, "socket": str(daemon.socket)}


def test_status_names_a_silent_daemon_and_what_it_holds(daemon):
    elsewhere = daemon.root / "elsewhere.sock"
    out = daemon.ctl("status", "--socket", str(elsewhere))
    assert out.returncode == 1
    assert out.stdout.strip() == (
        f"swanlabd (pid {daemon.pid}) holds the data root {daemon.home} but nothing answers on {elsewhere}"
    )
    os.kill(daemon.pid, signal.SIGSTOP)
    try:
        # Each waits out the RPC timeout: run them side by side.
        other_home = ("status", "--data-root", str(daemon.root / "other"))
        with ThreadPoolExecutor(4) as pool:
            out, as_json, ls, socket_only = pool.map(
                lambda args: daemon.ctl(*args), [("status",), ("status", "--json"), ("ls",), other_home]
            )
        doc = json.loads(as_json.stdout)
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    assert out.returncode == 1
    assert out.stdout.strip() == (
        f"swanlabd (pid {daemon.pid}) holds the socket {daemon.socket} and the data root {daemon.home} "
        "but does not answer within 3 s (hung or stopped?)"
    )
    assert socket_only.stdout.strip() == (
        f"swanlabd (pid {daemon.pid}) holds the socket {daemon.socket} "
        "but does not answer within 3 s (hung or stopped?)"
    )
    assert doc == {"running": False, "socket": str(daemon.socket), "silent_pid": daemon.pid}
    assert ls.returncode == 1 and "held by a daemon that does not answer" in ls.stderr


def test_ls_lists_runs_with_state_and_counts(daemon):
    stub = daemon.stub()
    done = start_run(stub, name="a")
    stream(stub, done.run_id, 1, [[keys(1, {1: "x"})], rows(2, 2)])
    finish(stub, done.run_id, 1, 3)
    live = start_run(stub, name="b")

    out = daemon.ctl("ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["RUN", "ID", "STATE", "MODE", "RECORDS", "NOT", "UPLOADED", "PATH"]
    by_id = {line.split()[0]: line.split() for line in lines[1:]}
    assert by_id[done.run_id][1:4] == ["FINISHED", "offline", "9"]
    assert by_id[done.run_id][-1] == done.run_dir
    assert by_id[live.run_id][1] == "RUNNING"

    doc = json.loads(daemon.ctl("ls", "--json").stdout)
    assert doc["source"] == "daemon"
    runs = {r["run_id"]: r for r in doc["runs"]}
    assert runs[done.run_id]["records"] == 9 and runs[done.run_id]["mode"] == "MODE_OFFLINE"
    assert runs[done.run_id]["bytes_not_uploaded"] == runs[done.run_id]["backup_bytes"] > 0


def test_ls_without_daemon_reads_the_state_db(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    finish(stub, run.run_id, 1, 0)
    daemon.stop()
    out = daemon.ctl("ls", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["source"] == "state"
    assert [(r["run_id"], r["state"]) for r in doc["runs"]] == [(run.run_id, "FINISHED")]
    text = daemon.ctl("ls")
    assert run.run_id in text.stdout and "daemon not running" in text.stderr


def test_ls_table_shows_a_runs_last_error_under_its_row(daemon):
    from swanlabd.storage.state import State

    stub = daemon.stub()
    bad = start_run(stub, name="bad")
    good = start_run(stub, name="good")
    daemon.stop()
    error = f"run {bad.run_id}: backup ... failed: [Errno 28] No space left on device; nothing past this point is acked"
    state = State(daemon.home / "state")
    try:
        state.update_run(bad.run_id, last_error=error)
    finally:
        state.close()
    lines = daemon.ctl("ls").stdout.splitlines()
    rows_by_id = {line.split()[0]: n for n, line in enumerate(lines) if line.split()[0] in (bad.run_id, good.run_id)}
    assert lines[rows_by_id[bad.run_id] + 1] == f"  error: {error}"
    assert "error" not in "\n".join(lines[rows_by_id[good.run_id] + 1 : rows_by_id[good.run_id] + 2])
