"""The state DB's layout: run registry, credentials apart from it, prefixed views for others; a full disk."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers.smalldisk import SmallDisk
from swanlabd.format.runstate import Mode, RunState
from swanlabd.storage.errors import DamagedRunEntry, DiskFull
from swanlabd.storage.state import CRED_PREFIX, RUN_PREFIX, RunInfo, State
from swanlabd_pb import records_pb2 as pb


@pytest.fixture
def state():
    root = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    s = State(root / "state")
    yield s
    s.close()
    shutil.rmtree(root, ignore_errors=True)


def test_run_registry_round_trip_and_update(state):
    state.put_run(RunInfo(run_id="r1", run_dir="/x/run-1", mode="MODE_CLOUD", pid=42))
    state.put_run(RunInfo(run_id="r2", run_dir="/x/run-2"))
    info = state.update_run("r1", state="CRASHED", last_error="process 42 exited")
    assert info.state.pb == pb.CRASHED and info.mode.pb == pb.MODE_CLOUD
    assert state.get_run("r1") == info
    assert sorted(i.run_id for i in state.runs()) == ["r1", "r2"]
    assert state.get_run("nope") is None


def test_fields_from_a_newer_daemon_are_ignored(state):
    raw = json.loads(RunInfo(run_id="r1", run_dir="/x").to_json())
    raw["field_from_the_future"] = 1
    state.db.put(RUN_PREFIX + b"r1", json.dumps(raw).encode())
    assert state.get_run("r1").run_dir == "/x"


def test_credentials_live_apart_from_the_registry(state):
    state.put_run(RunInfo(run_id="r1", run_dir="/x"))
    state.put_cloud("r1", {"api_host": "https://h/api", "api_key": "secret"})
    assert state.get_cloud("r1")["api_key"] == "secret"
    assert b"secret" not in state.db.get(RUN_PREFIX + b"r1")
    assert state.db.get(CRED_PREFIX + b"r1") is not None


def test_prefixed_views_for_other_components(state):
    fwd = state.sub(b"fwd/")
    fwd.put(b"cursor/r1", b"123")
    assert state.db.get(b"fwd/cursor/r1") == b"123"
    assert list(state.runs()) == []
    for overlapping in (b"run/", b"run/x", b"cred/"):
        with pytest.raises(ValueError):
            state.sub(overlapping)


# A damaged run entry, as it may be found: each is that run's problem, named, never the daemon's.
DAMAGED = {
    "not JSON": (b"{not json", "not JSON"),
    "not UTF-8": (b"\xff\xfe", "not JSON"),
    "a list": (b"[]", "a JSON list, not an object"),
    "no run_dir": (b'{"run_id": "r1"}', "no 'run_dir'"),
    "run_dir a number": (b'{"run_id": "r1", "run_dir": 7}', "'run_dir' is 7, not a str"),
    "records a string": (b'{"run_id": "r1", "run_dir": "/x", "records": "many"}', "'records' is 'many'"),
    "pid a bool": (b'{"run_id": "r1", "run_dir": "/x", "pid": true}', "'pid' is True"),
    "unknown state": (b'{"run_id": "r1", "run_dir": "/x", "state": "EXPLODED"}', "unknown state or mode"),
    "unknown mode": (b'{"run_id": "r1", "run_dir": "/x", "mode": "MODE_LASER"}', "unknown state or mode"),
    "another run's": (b'{"run_id": "r2", "run_dir": "/x"}', "it names run 'r2'"),
}


@pytest.mark.parametrize("raw, reason", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_run_entry_is_skipped_listed_and_named(state, raw, reason):
    state.put_run(RunInfo(run_id="r0", run_dir="/x/run-0"))
    state.runs_db.put(b"r1", raw)
    state.put_run(RunInfo(run_id="r2", run_dir="/x/run-2"))
    assert [i.run_id for i in state.runs()] == ["r0", "r2"]
    (stand_in,) = state.damaged_runs()
    assert stand_in.run_id == "r1" and stand_in.state == RunState.UNKNOWN and stand_in.mode == Mode.UNSPECIFIED
    assert reason in stand_in.last_error and "skips this run" in stand_in.last_error
    assert stand_in.run_dir == ("/x" if b'"run_dir": "/x"' in raw else "")
    with pytest.raises(DamagedRunEntry, match="run r1: its entry in the state DB is damaged") as named:
        state.get_run("r1")
    assert named.value.run_id == "r1" and reason in named.value.reason
    with pytest.raises(DamagedRunEntry):
        state.update_run("r1", records=3)
    state.put_run(RunInfo(run_id="r1", run_dir="/x/run-1"))  # a good entry over it
    assert state.damaged_runs() == [] and state.get_run("r1").run_dir == "/x/run-1"


def test_damaged_credentials_and_overrides_read_as_absent(state):
    state.creds_db.put(b"r1", b"[1, 2]")
    state.db.put(b"fwd/on/r1", b"{broken")
    state.db.put(b"fwd/on/r2", b'{"project": 5}')
    assert state.get_cloud("r1") is None
    assert state.get_upload_on("r1") == {} and state.get_upload_on("r2") == {}


def test_a_write_on_a_full_disk_is_disk_full_and_works_once_space_is_freed():
    """Regression (issue 14, item 3): LevelDB's bare IOError reached the RPCs as an "unexpected error"."""
    root = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    try:
        with SmallDisk(root / "disk") as disk:
            state = State(disk.path / "state")
            try:
                disk.fill()
                info = RunInfo(run_id="r0", run_dir="/x/" + "d" * 1000)
                with pytest.raises(DiskFull) as raised:
                    for n in range(100):  # the log's last page takes a few before the disk says no
                        info.run_id = f"r{n}"
                        state.put_run(info)
                assert str(raised.value).startswith(f"disk full at {disk.path / 'state'}: ")
                assert "No space left on device" in str(raised.value)
                assert state.get_run(info.run_id) is None
                disk.free()
                state.put_run(info)  # the same write, once space is freed
                assert state.get_run(info.run_id) == info
            finally:
                state.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
