"""The run store's side of a writer's journal (docs/journal.md), without gRPC: the dead writer's
tail is read from the journal end the file holds, so reading it again (a second try, a daemon
that died half way through appending it and reopened the file) adds nothing twice; the journal
path survives a restart in the state DB, whose old entries without one still load.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from helpers.journalfile import Ring
from swanlabd.format import backup, journal, scalarcodec
from swanlabd.storage.errors import DamagedRunEntry, RunClosed
from swanlabd.storage.runstore import RunStore
from swanlabd.storage.state import RunInfo, State
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc


def write_rows(ring: Ring, first: int, count: int) -> None:
    for i in range(first, first + count):
        ring.row((i, 1_700_000_000.0 + i, (1, 2), (float(i), -float(i))))


def steps(path: Path) -> list[int]:
    return [
        s
        for r, _ in backup.read_records(path)
        if r.writer == 1 and r.WhichOneof("kind") == "scalars"
        for s in scalarcodec.decode(r.scalars).steps
    ]


def test_a_tail_read_twice_or_after_a_torn_append_adds_each_row_once(tmp_path: Path, state: State) -> None:
    path = tmp_path / "journal"
    ring = Ring(1 << 21)
    ring.key(1, "a")
    ring.key(2, "b")
    write_rows(ring, 0, 100)
    streamed = ring.position
    write_rows(ring, 100, 20_000)  # 40,000 scalars: three tail records
    ring.save(path)

    async def first_daemon() -> str:
        store = RunStore(tmp_path / "home", state)
        req = svc.StartRunRequest(start=pb.RunStart(project="p"), pid=os.getpid(), journal=str(path))
        run, writer, _ = await store.start_run(req)
        assert run.journal(writer) == str(path)
        rng = pb.Record(client_seq=2, journal=pb.JournalChunk(start=0, entries=ring.range(0, streamed)))
        keydefs = pb.KeyDefs(keys=[pb.KeyDef(id=1, name="a"), pb.KeyDef(id=2, name="b")])
        store.append_batch(run, 1, [pb.Record(client_seq=1, keys=keydefs), journal.to_record(rng)])
        assert run.journal_end(1) == streamed
        assert await store._journal_tail(run, 1, str(path))
        assert run.journal_end(1) == ring.position and run.held(1) == 5
        records = run.records
        assert await store._journal_tail(run, 1, str(path))  # again: nothing more to read
        assert run.records == records
        await store.close_all()
        return run.info.run_dir

    run_dir = Path(asyncio.run(first_daemon()))
    backup_path = run_dir / backup.BACKUP_FILENAME
    assert steps(backup_path) == list(range(20_100))
    # A daemon that died while appending the tail: only its first record reached the file.
    ends = [(r, end) for r, end in backup.read_records(backup_path)]
    first_tail = next(end for r, end in ends if r.client_seq == 3)
    os.truncate(backup_path, first_tail)

    async def second_daemon() -> None:
        store = RunStore(tmp_path / "home", state)
        await store.recover()
        (run,) = store.active.values()
        assert run.journal(1) == str(path)  # from the state DB
        assert run.held(1) == 3 and 0 < run.journal_end(1) < ring.position  # from the file
        await store.finish_crashed(run, "gone")

    asyncio.run(second_daemon())
    assert steps(backup_path) == list(range(20_100))
    records = [r for r, _ in backup.read_records(backup_path)]
    assert [r.client_seq for r in records if r.writer == 1] == [1, 2, 3, 4, 5]
    assert records[-1].finish.state == pb.CRASHED
    assert not path.exists()
    info = state.get_run(records[0].header.run_id)
    assert info is not None and info.journals == {}


def test_a_run_entry_without_journals_loads_and_a_bad_one_is_damaged(state: State) -> None:
    old = {"run_id": "r1", "run_dir": "/runs/r1", "state": "RUNNING", "mode": "MODE_OFFLINE"}
    state.runs_db.put(b"r1", json.dumps(old).encode())
    info = state.get_run("r1")
    assert info is not None and info.journals == {}
    info.journals["1"] = "/tmp/j"
    state.put_run(info)
    again = state.get_run("r1")
    assert again is not None and again.journals == {"1": "/tmp/j"}
    for bad in ({"1": 5}, ["x"], {"one": "/tmp/j"}):
        state.runs_db.put(b"r2", json.dumps({**old, "run_id": "r2", "journals": bad}).encode())
        with pytest.raises(DamagedRunEntry):
            state.get_run("r2")
    assert [i.run_id for i in state.runs()] == ["r1"]
    assert RunInfo.from_json(info.to_json()) == info


def test_an_append_in_flight_while_the_tail_is_read_is_refused(tmp_path: Path, state: State) -> None:
    path = tmp_path / "journal"
    ring = Ring(1 << 16)
    ring.key(1, "a")
    write_rows(ring, 0, 3)
    ring.save(path)

    async def main() -> str:
        store = RunStore(tmp_path / "home", state)
        req = svc.StartRunRequest(start=pb.RunStart(project="p"), pid=os.getpid(), journal=str(path))
        run, _, _ = await store.start_run(req)
        crash = asyncio.create_task(store.finish_crashed(run, "gone"))
        await asyncio.sleep(0)  # the crash task runs up to its first wait: reading the journal
        assert not crash.done()
        late = pb.Record(client_seq=1, keys=pb.KeyDefs(keys=[pb.KeyDef(id=9, name="late")]))
        with pytest.raises(RunClosed):
            store.append_batch(run, 1, [late])
        await crash
        return run.info.run_dir

    run_dir = Path(asyncio.run(main()))
    records = [r for r, _ in backup.read_records(run_dir / backup.BACKUP_FILENAME)]
    assert [r.WhichOneof("kind") for r in records if r.writer == 1] == ["keys", "scalars"]
    assert steps(run_dir / backup.BACKUP_FILENAME) == [0, 1, 2]
    assert records[-1].finish.state == pb.CRASHED
