"""A cloud run resumed after it finished continues the same experiment, as the official SDK does.

The official SDK reopens a finished experiment (POST experiment with its cuid: the cloud answers
200 and sets it RUNNING again), continues automatic steps after the last step the experiment
has, and skips points at steps the experiment already holds. Here a skip is also said: it is a
rejection in `swanlabctl ls`, never a silent loss.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from uploading import API_KEY, ctl_sync, finished, points

from helpers.daemon import DaemonProcess
from helpers.rawclient import finish, keys, rows, scalars, start_run, stream
from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

SCRIPT = """
import json, sys
import swanlab_client as s
run_id, first, rows = sys.argv[1] or None, int(sys.argv[2]), int(sys.argv[3])
run = s.init(project="resume", experiment_name="r", mode="cloud", id=run_id, resume="must" if run_id else None)
for i in range(rows):
    row = {"loss": 1.0 / (i + 1)}
    if run_id:
        row["acc"] = i / rows  # a key the first run never had
    if first >= 0:
        s.log(row, step=first + i)
    else:
        s.log(row)
print("line", i, flush=True)
s.finish()
print(json.dumps({"run_id": run.run_id}), flush=True)
"""


def train(d: DaemonProcess, cloud: CloudServer, run_id: str, first: int, rows: int) -> str:
    env = {**d.env, "SWANLAB_API_HOST": cloud.url, "SWANLAB_WEB_HOST": cloud.url, "SWANLAB_API_KEY": API_KEY}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, run_id, str(first), str(rows)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout.strip().splitlines()[-1])["run_id"])


def uploaded(d: DaemonProcess, run_id: str) -> dict:
    """The run's row of `swanlabctl ls --json` once its upload is complete again."""

    def row() -> dict | None:
        runs = json.loads(d.ctl("ls", "--json", check=True).stdout)
        runs = runs["runs"] if isinstance(runs, dict) else runs
        got = next(r for r in runs if r["run_id"] == run_id)
        return got if got["state"] != "RUNNING" and got["bytes_not_uploaded"] == 0 else None

    return wait_for(row, 60, "the resumed run uploaded")


def test_a_finished_run_resumed_by_id_reopens_its_experiment_and_continues_its_steps(upload_daemon, cloud):
    run_id = train(upload_daemon, cloud, "", -1, 10)
    assert wait_for(lambda: finished(cloud, run_id), 30, "first run finished") == "FINISHED"
    train(upload_daemon, cloud, run_id, -1, 10)  # automatic steps: they go on after step 9
    wait_for(lambda: len(points(cloud, run_id, "acc")) == 10, 30, "the resumed run's points")
    assert wait_for(lambda: finished(cloud, run_id), 30, "resumed run finished") == "FINISHED"
    assert sorted(points(cloud, run_id, "loss")) == list(range(20))
    assert sorted(points(cloud, run_id, "acc")) == list(range(10, 20))
    assert len(cloud.store.experiments()) == 1
    assert uploaded(upload_daemon, run_id)["last_error"] == ""
    assert cloud.errors() == [] and cloud.duplicate_count() == 0


def test_points_at_steps_the_experiment_already_has_are_skipped_and_said(upload_daemon, cloud):
    run_id = train(upload_daemon, cloud, "", 0, 10)
    assert wait_for(lambda: finished(cloud, run_id), 30, "first run finished") == "FINISHED"
    train(upload_daemon, cloud, run_id, 5, 10)  # steps 5..14: 5..9 of "loss" are on the server already
    assert wait_for(lambda: finished(cloud, run_id), 30, "resumed run finished") == "FINISHED"
    row = uploaded(upload_daemon, run_id)
    assert sorted(points(cloud, run_id, "loss")) == list(range(15))
    assert sorted(points(cloud, run_id, "acc")) == list(range(5, 15))  # a new key: nothing skipped
    assert "5 item(s)" in row["last_error"] and "loss (steps 5-9)" in row["last_error"], row["last_error"]
    assert cloud.duplicate_count() == 0


def test_a_run_resumed_while_its_final_state_is_on_the_way_is_uploaded_whole(upload_daemon, cloud):
    # The resume lands between the uploader's last look at the run and the end of its upload:
    # the first part's FINISHED is in flight, held by the cloud, when the second part starts.
    held = cloud.add_fault("hold", "/api/project/", method="PUT", path_suffix="/state", count=1, delay_s=60)
    run_id = train(upload_daemon, cloud, "", 0, 8)
    wait_for(lambda: held.fired == 1, 30, "the first part's final state sent")
    train(upload_daemon, cloud, run_id, 8, 8)  # steps 8..15, a new key "acc"
    held.release()
    wait_for(lambda: len(points(cloud, run_id, "acc")) == 8, 30, "the resumed part's points")
    assert wait_for(lambda: finished(cloud, run_id), 30, "resumed run finished") == "FINISHED"
    assert sorted(points(cloud, run_id, "loss")) == list(range(16))
    assert uploaded(upload_daemon, run_id)["last_error"] == ""
    assert cloud.duplicate_count() == 0


def test_an_offline_run_resumed_after_its_upload_sends_its_new_final_state(upload_daemon, cloud):
    # The second part starts and ends while no upload runs (offline), so no uploader sees the
    # resume: the Finish it reads later is still a new end, though the first part's was sent.
    stub = upload_daemon.stub()
    run_id = start_run(stub).run_id
    stream(stub, run_id, 1, [[keys(1, {1: "loss"}), *rows(2, 5)]])
    finish(stub, run_id, 1, 6)
    assert ctl_sync(upload_daemon, cloud, run_id).returncode == 0
    assert finished(cloud, run_id) == "FINISHED"
    start = pb.RunStart(run_id=run_id, project="proj", mode=pb.MODE_OFFLINE, resume="must")
    resumed = stub.StartRun(svc.StartRunRequest(start=start, pid=os.getpid()), timeout=10)
    stream(stub, run_id, resumed.writer, [[keys(1, {1: "loss"}), *[scalars(cs, 10 + cs, {1: 1.0}) for cs in (2, 3)]]])
    finish(stub, run_id, resumed.writer, 3)
    again = ctl_sync(upload_daemon, cloud, run_id)
    assert again.returncode == 0, again.stdout + again.stderr
    assert finished(cloud, run_id) == "FINISHED"
    assert cloud.store.experiment(run_id)["state_calls"] == 2
