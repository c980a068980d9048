"""Upload state of the wrong shape (a copied folder's upload-state.json, the state DB's copy) is
one run's problem: that copy is ignored with a warning naming it and the run uploads from the
server's summaries; `sync` works, the daemon starts, nothing is sent twice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from uploading import NAMES, assert_complete, batches, cloud_run, ctl_sync, finished, offline_run

from helpers.daemon import DaemonProcess
from helpers.rawclient import finish, keys, stream
from helpers.waiting import wait_for
from swanlabd.storage.state import State
from swanlabd.upload import uploadstate
from swanlabd.upload.uploadstate import UploadState

# Valid JSON that is no upload state, and upload states with one field of the wrong shape.
WRONG_SHAPES = [
    b"[]",
    b'"text"',
    b"null",
    b'{"run_id": 5}',
    b'{"run_id": "r1", "cursors": []}',
    b'{"run_id": "r1", "cursors": {"scalar0": 7}}',
    b'{"run_id": "r1", "cursors": {"scalar0": {"offset": "far"}}}',
    b'{"run_id": "r1", "keys": {"1:1": "loss"}}',
    b'{"run_id": "r1", "last_steps": {"scalar": {"loss": [1]}}}',
    b'{"run_id": "r1", "rejected": [{"lane": "scalar0"}]}',
    b'{"run_id": "r1", "complete": "yes"}',
    b'{"run_id": "r1", "uploaded_bytes": 1.5}',
    b'{"run_id": "r1", "columns": "loss"}',
]


@pytest.mark.parametrize("raw", WRONG_SHAPES, ids=[raw.decode() for raw in WRONG_SHAPES])
def test_an_upload_state_of_the_wrong_shape_is_refused_with_a_reason(raw: bytes, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="upload state") as refused:
        UploadState.from_json(raw)
    assert str(refused.value).strip()
    (tmp_path / uploadstate.UPLOAD_STATE_FILENAME).write_bytes(raw)
    assert uploadstate.read_file(tmp_path) is None
    state = State(tmp_path / "state")
    try:
        state.put_upload_state("r1", raw)
        assert uploadstate.read_stored(state, "r1") is None
        assert uploadstate.load(state, "r1", tmp_path) == UploadState(run_id="r1")
    finally:
        state.close()


def test_a_complete_upload_state_reads_back_as_it_was() -> None:
    st = UploadState(run_id="r1", workspace="alice", keys={"1:1": ["loss", 1, ""]}, uploaded_bytes=99)
    st.cursor("scalar0").offset = 42
    st.last_steps["scalar"] = {"loss": 3}
    assert UploadState.from_json(st.to_json()) == st


def test_a_copied_folder_whose_upload_state_is_a_list_syncs_and_the_daemon_restarts(upload_daemon, cloud):
    run_id = offline_run(upload_daemon, 300)
    (run_dir,) = upload_daemon.runs()
    upload_daemon.stop()
    other = DaemonProcess(env={"SWANLABD_UPLOAD": "true"})
    try:
        copy = other.root / "from-host-a" / run_dir.name
        shutil.copytree(run_dir, copy)
        (copy / uploadstate.UPLOAD_STATE_FILENAME).write_bytes(b"[]")
        other.start()
        result = ctl_sync(other, cloud, str(copy))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{run_id}: uploaded" in result.stdout
        assert "upload-state.json" in other.output() and "ignored" in other.output()
        other.stop()
        other.start()  # and it starts again, with the copy's state now its own
        assert json.loads((copy / uploadstate.UPLOAD_STATE_FILENAME).read_text())["complete"] is True
    finally:
        other.close()
    assert_complete(cloud, run_id, 300)


def test_a_state_db_copy_of_the_wrong_shape_does_not_stop_the_daemon(upload_daemon, cloud):
    cloud.go_down()
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud)
    stream(stub, run.run_id, 1, [[keys(1, NAMES)], *batches(2, 0, 300, per_batch=100)])
    finish(stub, run.run_id, 1, 4)
    upload_daemon.stop()
    state = State(upload_daemon.home / "state")
    try:
        state.put_upload_state(run.run_id, b"[]")  # what the daemon resumes this run's upload from
    finally:
        state.close()
    cloud.come_up()
    upload_daemon.start()
    wait_for(lambda: finished(cloud, run.run_id), 30, "final state")
    assert_complete(cloud, run.run_id, 300)
    assert upload_daemon.running


def test_sync_names_a_run_whose_state_db_entry_is_damaged_and_uploads_the_others(upload_daemon, cloud):
    good = offline_run(upload_daemon, 100)
    bad = offline_run(upload_daemon, 100)
    upload_daemon.stop()
    state = State(upload_daemon.home / "state")
    try:
        state.runs_db.put(bad.encode(), b"{not json")
    finally:
        state.close()
    upload_daemon.start()
    named = ctl_sync(upload_daemon, cloud, bad)
    assert named.returncode == 1 and "Traceback" not in named.stderr
    assert f"run {bad}: its entry in the state DB is damaged (not JSON" in named.stderr
    every = ctl_sync(upload_daemon, cloud)
    assert every.returncode == 0, every.stdout + every.stderr
    assert f"{good}: uploaded" in every.stdout and bad not in every.stdout + every.stderr
    assert_complete(cloud, good, 100)
