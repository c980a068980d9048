"""The client's journal (_journal.py) with the sender, against the in-memory daemon.

The ring is made small here, so that rows cross lap ends, wait for acks and wrap many times; the
real daemon's side and kills are in test_journal_kills.py.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from memtransport import SETTINGS, MemoryConnector, MemoryDaemon, drain, make_journal_run, turn

from helpers.waiting import wait_for
from swanlabd.format import journal as layout
from swanlabd_pb import records_pb2 as pb


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def test_rows_go_through_the_journal_and_arrive_whole(tmp_path):
    memory = MemoryDaemon()
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=4096)
    for i in range(500):
        run.log({"loss": i / 7, "acc": i}, step=i)
        if i % 37 == 0:
            drain(run)
    drain(run)
    rows = memory.rows("r1")
    assert [step for step, _ in rows] == list(range(500))
    assert all(r == {"loss": i / 7, "acc": float(i)} for i, (_, r) in enumerate(rows))
    assert not run._queue  # nothing took the queue's path
    assert run._journal is not None and run._journal.pos > 4096 * 3  # the ring wrapped several times


def test_a_full_ring_waits_for_the_daemons_ack_and_never_overwrites(tmp_path):
    memory = MemoryDaemon()
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=1024)
    j = run._journal
    assert j is not None
    run.sender.thread = threading.Thread(target=turn, args=(run.sender,))  # what _journal_room waits on
    logged = 0
    # Without the sender running, the ring fills; the next row starts the sender's turn and
    # waits until its ack frees room, then goes in.
    while j.fits(200):
        run.log({"x": float(logged)}, step=logged)
        logged += 1
    assert j.pos - j.acked <= j.capacity
    run.sender.thread.start()
    run.log({"x": float(logged)}, step=logged)
    run.sender.thread.join()
    drain(run)
    assert [r["x"] for _, r in memory.rows("r1")] == [float(i) for i in range(logged + 1)]


def test_rows_of_other_threads_queue_and_their_keys_reach_the_journal(tmp_path):
    memory = MemoryDaemon()
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=1 << 16)
    run.log({"first": 0.5}, step=0)  # this thread logs first: it writes the journal
    worker = threading.Thread(target=lambda: run.log({"from_thread": 1.0, "shared": 2.0}, step=1))
    worker.start()
    worker.join()
    assert len(run._queue) == 1  # the other thread's row took the queue
    run.log({"shared": 3.0, "from_thread": 4.0}, step=2)  # the writer logs keys another thread made
    j = run._journal
    assert j is not None
    tail = layout.read_tail(j.path, 0)
    assert not tail.why_not
    assert sorted(k.name for k in tail.decoded.keys) == ["first", "from_thread", "shared"]
    assert tail.decoded.steps == [0, 2]
    drain(run)
    # Rows of the two paths are in no order between them (as rows of two threads never are).
    assert sorted(memory.rows("r1"), key=lambda row: row[0]) == [
        (0, {"first": 0.5}),
        (1, {"from_thread": 1.0, "shared": 2.0}),
        (2, {"shared": 3.0, "from_thread": 4.0}),
    ]


def test_a_training_loop_in_another_thread_than_init_writes_the_journal(tmp_path):
    memory = MemoryDaemon()
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=1 << 16)
    loop = threading.Thread(target=lambda: [run.log({"loss": float(i)}, step=i) for i in range(100)])
    loop.start()
    loop.join()
    assert not run._queue
    j = run._journal
    assert j is not None and j.owner == loop.ident
    assert layout.read_tail(j.path, 0).decoded.steps == list(range(100))
    drain(run)
    assert [s for s, _ in memory.rows("r1")] == list(range(100))


def test_an_integer_past_a_doubles_range_is_stored_as_infinity(tmp_path, caplog):
    memory = MemoryDaemon()
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=4096)
    run.log({"big": 1.0}, step=0)
    run.log({"big": 2**2000}, step=1)  # the fast path's pack_into refuses it
    run.log({"big": -(2**2000)}, step=2)
    drain(run)
    assert [r["big"] for _, r in memory.rows("r1")] == [1.0, math.inf, -math.inf]
    assert "too large for a float64" in caplog.text


def test_a_row_too_big_for_the_ring_takes_the_queue(tmp_path):
    memory = MemoryDaemon()
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=1024)
    row = {f"k{i}": float(i) for i in range(40)}  # 40 scalars: about 500 bytes, over a quarter
    run.log(row, step=0)
    assert len(run._queue) == 1
    drain(run)
    assert memory.rows("r1") == [(0, row)]


doubles = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=0, max_value=2**64 - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]),
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c/d", "e", "f"]), doubles, min_size=1, max_size=5),
        min_size=1,
        max_size=120,
    ),
    drains=st.sets(st.integers(0, 119)),
    capacity=st.sampled_from([512, 1024, 4096]),
)
def test_any_rows_arrive_bit_for_bit_across_laps(tmp_path_factory, rows, drains, capacity):
    memory = MemoryDaemon()
    run = make_journal_run(MemoryConnector(memory), tmp_path_factory.mktemp("j"), capacity=capacity)
    run.sender.thread = threading.Thread(target=lambda: None)  # never alive: a full ring refuses, not waits
    kept = []
    for i, row in enumerate(rows):
        if i in drains:
            drain(run)
        before = run.sender.refused
        run.log(row, step=i)
        if run.sender.refused == before:
            kept.append((i, row))
    drain(run)
    got = memory.rows("r1")
    assert [s for s, _ in got] == [s for s, _ in kept]
    for (_, want), (_, have) in zip(kept, got, strict=True):
        assert {k: _bits(v) for k, v in want.items()} == {k: _bits(v) for k, v in have.items()}


def test_the_journal_file_is_private_and_removed_when_everything_is_acked(tmp_path):
    memory = MemoryDaemon()
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=4096)
    j = run._journal
    assert j is not None
    assert (tmp_path / "socket").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "socket" / "journals").stat().st_mode & 0o777 == 0o700
    assert j.path.stat().st_mode & 0o777 == 0o600
    run.log({"x": 1.0})
    run.sender.start_thread(daemon=True)
    run.finish()
    assert not j.path.exists()
    assert memory.rows("r1") == [(0, {"x": 1.0})]


def test_a_journal_folder_that_is_not_private_is_not_used(tmp_path):
    from swanlab_client._journal import Journal

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(PermissionError):
        Journal.create(shared / "journals", "r1", 4096)  # a socket folder open to others
    with pytest.raises(PermissionError):
        Journal.create(shared, "r1", 4096)


def test_the_journal_is_shipped_at_its_interval_sooner_once_a_quarter_of_the_ring_waits_and_at_finish(tmp_path):
    memory = MemoryDaemon()
    hour = dataclasses.replace(SETTINGS, journal_interval_s=3600)
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=4096, settings=hour)
    j, sender = run._journal, run.sender
    assert j is not None
    run.log({"x": 0.0}, step=0)
    drain(run)  # the first rows go at once
    assert len(memory.rows("r1")) == 1
    step = 1
    while j.pos - j.acked + 48 < j.capacity // 4:  # a row of one scalar takes 48 bytes
        run.log({"x": float(step)}, step=step)
        step += 1
        sender.step()
    assert len(memory.rows("r1")) == 1  # safe in the journal, not shipped yet
    run.log({"x": float(step)}, step=step)
    sender.step()  # a quarter of the ring waits
    assert len(memory.rows("r1")) == step + 1
    run.log({"x": -1.0}, step=step + 1)
    sender.step()
    assert len(memory.rows("r1")) == step + 1
    sender.request_finish(pb.Finish(state=pb.FINISHED))
    sender.step()
    assert [r["x"] for _, r in memory.rows("r1")] == [float(i) for i in range(step + 1)] + [-1.0]


def test_rows_wait_at_most_the_interval(tmp_path):
    memory = MemoryDaemon()
    brief = dataclasses.replace(SETTINGS, journal_interval_s=0.05)
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=4096, settings=brief)
    run.log({"x": 0.0}, step=0)
    drain(run)
    run.log({"x": 1.0}, step=1)  # far from a quarter of the ring, and no finish: only the interval ships it
    wait_for(lambda: run.sender.step() or len(memory.rows("r1")) == 2, 10, "the row shipped after the interval")
