"""Many runs at once (bounded, fair): a live run's points keep arriving promptly while another
run drains a large backlog to the same host."""

from __future__ import annotations

import subprocess
import sys
import time

from uploading import LIVE_BOUND_S, caller_env, cloud_run, finished, offline_run, points

from helpers.rawclient import finish, keys, scalars, stream
from helpers.waiting import wait_for

BACKLOG_ROWS = 160_000  # 800,000 points: several seconds of upload even on a quiet machine


def test_a_live_run_is_not_starved_by_a_big_backlog(upload_daemon, cloud):
    big = offline_run(upload_daemon, BACKLOG_ROWS)
    queued = subprocess.run(
        [sys.executable, "-m", "swanlabd.cli.swanlabctl", "sync", "--no-wait"],
        env=caller_env(upload_daemon, cloud, home=upload_daemon.root),
        capture_output=True,
        text=True,
    )
    assert queued.returncode == 0, queued.stderr
    wait_for(lambda: points(cloud, big, "loss"), 30, "the backlog started")
    stub = upload_daemon.stub()
    live = cloud_run(stub, cloud, project="live")
    stream(stub, live.run_id, 1, [[keys(1, {1: "live/loss"})]])
    latencies = []
    for step in range(5):
        sent = time.monotonic()
        stream(stub, live.run_id, 1, [[scalars(step + 2, step, {1: float(step)})]])
        wait_for(lambda s=step: s in points(cloud, live.run_id, "live/loss"), LIVE_BOUND_S, f"live step {step}")
        latencies.append(time.monotonic() - sent)
    backlog_left = BACKLOG_ROWS - len(points(cloud, big, "loss"))
    print(f"live run during a backlog: max {max(latencies):.2f}s; backlog rows still to go then: {backlog_left}")
    assert backlog_left > 0, "the backlog finished before the live run was measured: make it bigger"
    finish(stub, live.run_id, 1, 6)
    wait_for(lambda: finished(cloud, live.run_id) and finished(cloud, big), 120, "both runs up")
    assert len(points(cloud, big, "loss")) == BACKLOG_ROWS and cloud.duplicate_count() == 0
