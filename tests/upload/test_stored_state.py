"""Where the uploader's state lives: its keys in the state DB stay where existing DBs have them
(`fwd/on/<run>`, `fwd/up/<run>`), an upload state is found in the DB, else in the run folder, and
damaged bytes are recorded once."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from swanlabd.storage.state import State
from swanlabd.upload import uploadstate
from swanlabd.upload.uploadstate import LossRecorder, UploadState


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sd-st-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def state(root: Path) -> Iterator[State]:
    db = State(root / "state")
    try:
        yield db
    finally:
        db.close()


def test_upload_on_and_off_keeps_its_key(state: State) -> None:
    state.db.put(b"fwd/on/old", b'{"project": "p"}')  # written by an earlier daemon
    assert state.get_upload_on("old") == {"project": "p"} and state.get_upload_on("new") is None
    state.put_upload_on("new", {})
    assert state.db.get(b"fwd/on/new") == b"{}"
    state.delete_upload_on("old")
    assert state.db.get(b"fwd/on/old") is None and state.get_upload_on("new") == {}


def test_upload_state_keeps_its_key_and_the_db_copy_wins(state: State, root: Path) -> None:
    run_dir = root / "run"
    run_dir.mkdir()
    uploadstate.write_file(run_dir, UploadState(run_id="r1", project="from-folder"))
    assert uploadstate.read_stored(state, "r1") is None
    assert uploadstate.load(state, "r1", run_dir).project == "from-folder"  # a folder copied here
    state.db.put(b"fwd/up/r1", UploadState(run_id="r1", project="from-db").to_json())
    assert uploadstate.load(state, "r1", run_dir).project == "from-db"
    state.put_upload_state("r1", b"{not json")
    assert state.db.get(b"fwd/up/r1") == b"{not json" and uploadstate.read_stored(state, "r1") is None
    assert uploadstate.load(state, "r1", run_dir).project == "from-folder"
    assert uploadstate.load(state, "r2", run_dir) == UploadState(run_id="r2")  # the folder is another run's


def test_damaged_bytes_are_recorded_once_per_offset_however_many_lanes_read_them() -> None:
    st, seen = UploadState(run_id="r1"), set[int]()
    for _lane in range(3):
        LossRecorder(st, seen).lost(100, "checksum mismatch", 4096, (7, 9))
    LossRecorder(st, seen).lost(5, "bad record length", 9000, None)
    assert st.rejected_total == 2
    first = st.rejected[0]
    assert (first.lane, first.code, first.seqs) == ("backup", "damaged", (7, 9))
    assert "100 bytes at offset 4096" in first.message and "checksum mismatch" in first.message
    assert json.loads(st.to_json())["rejected"][1]["seqs"] is None
