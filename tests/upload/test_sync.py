"""`swanlabctl sync`: an offline run synced twice, a sync killed half-way
and run again, a run folder copied to another data root: one experiment, all data, no duplicate."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from uploading import (
    NAMES,
    assert_complete,
    batches,
    caller_env,
    cloud_run,
    ctl_sync,
    finished,
    metric_calls,
    offline_run,
    points,
)

from helpers.daemon import DaemonProcess
from helpers.rawclient import finish, keys, stream
from helpers.waiting import wait_for
from swanlab_testcloud import FaultKind


def test_offline_run_synced_twice_sends_nothing_the_second_time(upload_daemon, cloud):
    run_id = offline_run(upload_daemon, 2000)
    first = ctl_sync(upload_daemon, cloud)
    assert first.returncode == 0, first.stderr
    assert f"{run_id}: uploaded" in first.stdout
    assert_complete(cloud, run_id, 2000)
    log = cloud.store.metrics(run_id, "log")[""]
    assert [log[1]["message"], log[2]["message"], log[2]["level"]] == ["epoch 1 done", "oops", "INFO"]
    calls, requests = metric_calls(cloud), len(cloud.requests())
    second = ctl_sync(upload_daemon, cloud)
    assert second.returncode == 0, second.stderr
    assert metric_calls(cloud) == calls and len(cloud.requests()) == requests  # not one request
    assert_complete(cloud, run_id, 2000)
    ls = upload_daemon.ctl("ls", "--json")
    assert '"bytes_not_uploaded": 0' in ls.stdout
    assert "fwd-test-key" not in ls.stdout + first.stdout + first.stderr + upload_daemon.output()


def test_sync_killed_half_way_then_run_again(upload_daemon, cloud):
    run_id = offline_run(upload_daemon, 40_000)
    slow = cloud.add_fault(FaultKind.SLOW, "/api/house/metrics", delay_s=0.5)
    env = caller_env(upload_daemon, cloud, home=upload_daemon.root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "swanlabd.cli.swanlabctl", "sync"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(points(cloud, run_id, "loss")) > 0, 60, "upload started")
    finally:
        proc.kill()
        proc.wait()
    upload_daemon.kill(signal.SIGKILL)  # and the daemon with it, cursors as they were
    # A request the server is still sleeping on commits later: no client can know of it, so the
    # restarted daemon's summaries must come after it (every request that hit the fault is logged).
    wait_for(lambda: metric_calls(cloud) == slow.fired, 10, "slow requests done")
    assert len(points(cloud, run_id, "loss")) < 40_000
    cloud.remove_fault(slow)
    upload_daemon.start()
    again = ctl_sync(upload_daemon, cloud)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_complete(cloud, run_id, 40_000)


def test_run_folder_copied_to_another_data_root_syncs_into_the_same_experiment(upload_daemon, cloud):
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud, project="copied")
    stream(stub, run.run_id, 1, [[keys(1, NAMES)], *batches(2, 0, 300, per_batch=100)])
    wait_for(lambda: len(points(cloud, run.run_id, "loss")) == 300, 20, "first part up")
    cloud.go_down()
    stream(stub, run.run_id, 1, batches(5, 300, 700, per_batch=100))
    finish(stub, run.run_id, 1, 11)
    upload_daemon.stop()
    other = DaemonProcess(env={"SWANLABD_UPLOAD": "true"})
    try:
        copy = other.root / "from-host-a" / Path(run.run_dir).name
        shutil.copytree(run.run_dir, copy)
        other.start()
        cloud.come_up()
        result = ctl_sync(other, cloud, str(copy))
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        other.close()
    assert [e["cuid"] for e in cloud.experiments()] == [run.run_id]
    for name in NAMES.values():
        assert sorted(points(cloud, run.run_id, name)) == list(range(1000)), name
    assert cloud.duplicate_count() == 0 and finished(cloud, run.run_id) == "FINISHED"


def test_sync_with_a_wrong_key_exits_non_zero_naming_the_run(upload_daemon, cloud):
    bad = "wrong-key-0123"
    run_id = offline_run(upload_daemon, 10)
    result = ctl_sync(upload_daemon, cloud, "--api-key", bad, "--timeout", "20")
    assert result.returncode == 1
    assert run_id in result.stderr and "401" in result.stderr
    assert bad not in result.stdout + result.stderr + upload_daemon.output()


def test_project_and_workspace_overrides(upload_daemon, cloud):
    run_id = offline_run(upload_daemon, 20)
    result = ctl_sync(upload_daemon, cloud, "--project", "elsewhere", "--workspace", "alice")
    assert result.returncode == 0, result.stderr
    assert [e["cuid"] for e in cloud.experiments("alice", "elsewhere")] == [run_id]
    assert cloud.experiments("alice", "offline-proj") == []


def test_sync_starts_a_daemon_when_none_runs(upload_daemon, cloud):
    run_id = offline_run(upload_daemon, 100)
    upload_daemon.stop()
    assert not upload_daemon.running
    result = ctl_sync(upload_daemon, cloud)
    assert result.returncode == 0, result.stdout + result.stderr
    assert upload_daemon.running  # the one sync started (upload_daemon.close() stops it)
    assert_complete(cloud, run_id, 100)
