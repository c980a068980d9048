"""A step below an earlier one of its key goes up; a step logged twice goes up once.

As the official SDK: an evaluation logged late, or an `async_log()` result landing after a later
step, is kept by the cloud; a repeated (key, step) keeps its first value, and here the repeat is
also said as a SKIPPED rejection.
"""

from __future__ import annotations

import subprocess
import sys

from test_resume import uploaded
from uploading import API_KEY, NAMES, assert_complete, batches, cloud_run, ctl_sync, finished, points

from helpers.rawclient import finish, keys, stream
from helpers.waiting import wait_for
from swanlabd.storage.state import State
from swanlabd.upload import uploadstate

SCRIPT = """
import swanlab_client as s
run = s.init(project="back", experiment_name="b", mode="cloud")
for step in range(30):
    s.log({"loss": float(step)}, step=step)
    if step % 10 == 9:
        s.log({"eval": float(step)}, step=step + 1)  # logged ahead, then the one it skipped
        s.log({"eval": -float(step)}, step=step - 5)
s.log({"loss": -1.0}, step=12)  # a repeat: the first value stays
print(run.id, flush=True)
s.finish()
"""


def test_steps_that_go_back_are_uploaded_and_a_repeat_once(upload_daemon, cloud):
    hosts = {"SWANLAB_API_HOST": cloud.url, "SWANLAB_WEB_HOST": cloud.url}
    env = {**upload_daemon.env, **hosts, "SWANLAB_API_KEY": API_KEY}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.split()[0]
    assert wait_for(lambda: finished(cloud, run_id), 30, "run finished") == "FINISHED"
    row = uploaded(upload_daemon, run_id)
    assert points(cloud, run_id, "eval") == {10: 9.0, 4: -9.0, 20: 19.0, 14: -19.0, 30: 29.0, 24: -29.0}
    assert points(cloud, run_id, "loss") == {step: float(step) for step in range(30)}
    assert "loss (step 12)" in row["last_error"], row["last_error"]
    assert cloud.duplicate_count() == 0


def test_an_upload_state_that_lags_behind_what_went_up_sends_nothing_twice(upload_daemon, cloud):
    # What the soak found: a state saved before a full disk (or read back from a stale copy)
    # says nothing was sent, and the steps sent are known only to the dead daemon's memory.
    # The records in the file when the upload set up again send only steps above the server's.
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud)
    stream(stub, run.run_id, 1, [[keys(1, NAMES)], *batches(2, 0, 300, per_batch=100)])
    finish(stub, run.run_id, 1, 4)
    assert wait_for(lambda: finished(cloud, run.run_id), 30, "uploaded") == "FINISHED"
    upload_daemon.stop()
    state = State(upload_daemon.home / "state")
    try:
        st = uploadstate.read_stored(state, run.run_id)
        assert st is not None and st.complete and st.floor_steps == {}
        st.cursors, st.sent_seqs, st.complete, st.finish_sent, st.uploaded_bytes = {}, {}, False, "", 0
        state.put_upload_state(run.run_id, st.to_json())
    finally:
        state.close()
    upload_daemon.start()
    ctl_sync(upload_daemon, cloud, run.run_id)
    assert_complete(cloud, run.run_id, 300)
    assert cloud.duplicate_count() == 0
