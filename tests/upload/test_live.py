"""A cloud-mode run uploads while it trains, and survives a 401 mid-run."""

from __future__ import annotations

import time

from uploading import LIVE_BOUND_S, USER, cloud_run, finished, points

from helpers.rawclient import finish, keys, scalars, stream
from helpers.waiting import wait_for
from swanlabd_pb import service_pb2 as svc


def test_data_reaches_the_server_during_the_run(upload_daemon, cloud):
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud)
    stream(stub, run.run_id, 1, [[keys(1, {1: "train/loss"})]])
    latencies = []
    for step in range(1, 6):
        sent = time.monotonic()
        stream(stub, run.run_id, 1, [[scalars(step + 1, step, {1: step / 10})]])
        wait_for(
            lambda s=step: s in points(cloud, run.run_id, "train/loss"), LIVE_BOUND_S, f"step {step} on the server"
        )
        latencies.append(time.monotonic() - sent)
    assert cloud.store.experiment(run.run_id)["state"] == "RUNNING"  # during the run, not at its end
    print(f"log() -> server: median {sorted(latencies)[2]:.3f}s, max {max(latencies):.3f}s")
    finish(stub, run.run_id, 1, 6)
    assert wait_for(lambda: finished(cloud, run.run_id), 20, "final state") == "FINISHED"
    experiment = cloud.store.experiment(run.run_id)
    assert experiment["heartbeats"] >= 1
    assert cloud.project(USER, "proj") is not None and cloud.errors() == []
    summary = next(r for r in stub.ListRuns(svc.ListRunsRequest(), timeout=10).runs if r.run_id == run.run_id)
    assert summary.bytes_not_uploaded == 0 and summary.cloud_url.endswith(f"/runs/{run.run_id}/chart")


def test_a_401_mid_run_logs_in_again_and_drops_nothing(upload_daemon, cloud):
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud)
    stream(stub, run.run_id, 1, [[keys(1, {1: "acc"})], [scalars(2, 0, {1: 0.0})]])
    wait_for(lambda: 0 in points(cloud, run.run_id, "acc"), 20, "first point")
    logins = sum(1 for r in cloud.requests() if r["path"] == "/api/login/api_key")
    assert cloud.expire_sessions() >= 1
    stream(stub, run.run_id, 1, [[scalars(cs, cs - 2, {1: cs / 100})] for cs in range(3, 203)])
    finish(stub, run.run_id, 1, 202)
    assert wait_for(lambda: finished(cloud, run.run_id), 30, "final state") == "FINISHED"
    assert sorted(points(cloud, run.run_id, "acc")) == list(range(0, 201))
    assert sum(1 for r in cloud.requests() if r["path"] == "/api/login/api_key") > logins
    assert cloud.duplicate_count() == 0


def test_host_metrics_go_up_as_system_columns(cloud):
    from helpers.daemon import DaemonProcess

    d = DaemonProcess(env={"SWANLABD_UPLOAD": "true", "SWANLABD_MONITOR_INTERVAL_S": "0.2"})
    d.env = {k: v for k, v in d.env.items() if not k.startswith("SWANLAB_")}
    try:
        d.start()
        stub = d.stub()
        run = cloud_run(stub, cloud)
        system = wait_for(
            lambda: [k for k in cloud.store.metrics(run.run_id) if k.startswith("__swanlab__.")],
            20,
            "system metrics up",
        )
        finish(stub, run.run_id, 1, 0)
        assert wait_for(lambda: finished(cloud, run.run_id), 20, "final state") == "FINISHED"
    finally:
        d.close()
    columns = cloud.store.columns(cloud.project(USER, "proj")["cuid"])
    assert all(columns[key]["type"] == "SYSTEM" for key in system)
    assert cloud.errors() == [] and cloud.duplicate_count() == 0
