"""The state DB's layout: run registry, credentials apart from it, prefixed views for others; a full disk."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers.smalldisk import SmallDisk
from swanlabd.storage.errors import DiskFull
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
