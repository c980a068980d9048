"""Outages: the cloud down for 60 s mid-run, then 5xx bursts, 429s, resets, slow
answers and dropped responses. Every point arrives exactly once, FinishRun returns in under a
second while the cloud is down, and the daemon sets the final state after recovery."""

from __future__ import annotations

import os
import time

import pytest
from uploading import cloud_run, finished, points

from helpers.rawclient import finish, keys, scalars, stream
from helpers.waiting import wait_for
from swanlab_testcloud import FaultKind
from swanlabd_pb import records_pb2 as pb

DOWN_S = float(os.environ.get("SWANLABD_TEST_OUTAGE_S", "60"))
KEY_NAMES = {1: "train/loss", 2: "train/acc", 3: "val/loss", 4: "lr", 5: "grad/norm"}


def rows(first_cs: int, first_step: int, count: int) -> list[list[pb.Record]]:
    """`count` batches of one 5-key row each; step i carries value i + key/10."""
    return [
        [scalars(first_cs + i, first_step + i, {k: first_step + i + k / 10 for k in KEY_NAMES})] for i in range(count)
    ]


@pytest.mark.slow
def test_outage_then_faults_every_point_once_and_final_state(upload_daemon, cloud):
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud)
    cs = 1
    stream(stub, run.run_id, 1, [[keys(cs, KEY_NAMES)]])
    cs += 1
    stream(stub, run.run_id, 1, rows(cs, 0, 100))
    cs += 100
    wait_for(lambda: len(points(cloud, run.run_id, "lr")) == 100, 20, "first 100 steps up")

    # The faults, while the run keeps logging: each fires a few times on the data path.
    metrics = "/api/house/metrics"
    cloud.add_fault(FaultKind.STATUS, metrics, status=503, count=4)
    cloud.add_fault(FaultKind.RATE_LIMIT, metrics, retry_after_s=1, count=3)
    cloud.add_fault(FaultKind.RESET, metrics, count=3)
    cloud.add_fault(FaultKind.SLOW, metrics, delay_s=3.0, count=2)
    cloud.add_fault(FaultKind.DROP, metrics, count=4)
    cloud.add_fault(FaultKind.DROP, "/api/projects", count=1)  # columns: committed, answer lost
    for step in range(100, 400, 30):
        stream(stub, run.run_id, 1, rows(cs, step, 30))
        cs += 30
        time.sleep(0.3)
    wait_for(lambda: len(points(cloud, run.run_id, "lr")) == 400, 90, "steps 0-399 up through the faults")

    # Down mid-run: logging goes on, FinishRun returns at once, nothing waits on the network.
    cloud.go_down(DOWN_S)
    went_down = time.monotonic()
    stream(stub, run.run_id, 1, rows(cs, 400, 200))
    cs += 200
    t = time.monotonic()
    finish(stub, run.run_id, 1, cs - 1)
    finish_s = time.monotonic() - t
    assert finish_s < 1.0, f"FinishRun took {finish_s:.2f}s while the cloud was down"
    assert time.monotonic() - went_down < DOWN_S

    # After recovery: a burst of 5xx and dropped answers on the way out, then everything is up.
    wait_for(lambda: cloud.is_up, DOWN_S + 10, "cloud back up", interval=0.5)
    cloud.add_fault(FaultKind.STATUS, metrics, status=500, count=3)
    cloud.add_fault(FaultKind.DROP, "/api/project", method="PUT", count=1)  # the state call, answer lost
    assert wait_for(lambda: finished(cloud, run.run_id), 90, "final state after recovery") == "FINISHED"
    for name in KEY_NAMES.values():
        assert sorted(points(cloud, run.run_id, name)) == list(range(600)), name
    assert points(cloud, run.run_id, "val/loss")[599] == pytest.approx(599.3)
    assert cloud.duplicate_count() == 0
    assert len(cloud.experiments()) == 1
