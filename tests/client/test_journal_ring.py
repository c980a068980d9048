"""The client's journal (_journal.py) with the sender, against the in-memory daemon.

The ring is made small here, so that rows cross lap ends, wait for acks and wrap many times; the
real daemon's side and kills are in test_journal_kills.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import struct
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from memtransport import SETTINGS, MemoryConnector, MemoryDaemon, drain, make_journal_run, turn

from helpers.waiting import wait_for
from swanlab_client._sender import CONSOLE
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


def test_the_doorbell_rings_at_the_first_entry_and_then_once_per_quarter_of_the_ring(tmp_path):
    run = make_journal_run(MemoryConnector(MemoryDaemon()), tmp_path, capacity=4096)
    j = run._journal
    assert j is not None
    rings: list[int] = []
    j.doorbell = lambda: rings.append(j.pos)
    for step in range(200):  # 48 bytes a row: 9,600 bytes, under the 3 laps no ack would allow
        run.log({"x": float(step)}, step=step)
        if step % 20 == 0:
            drain(run)
    drain(run)
    assert rings[0] == 0
    # One ring per quarter of the ring written (1,024 bytes), never more: log() does not wake the
    # sender per row. It rings at the entry that would cross the mark (up to a row's 48 bytes
    # before it), and a lap's end may move it by the WRAP entry's bytes.
    assert all(1024 - 48 <= b - a <= 1024 + 48 for a, b in itertools.pairwise(rings)), rings
    assert len(rings) >= j.pos // (1024 + 48)


class _CountedEvent(threading.Event):
    """The sender's wake event, counting its timed-out waits (turns nobody asked for)."""

    def __init__(self) -> None:
        super().__init__()
        self.idle_turns = 0

    def wait(self, timeout: float | None = None) -> bool:
        woken = super().wait(timeout)
        self.idle_turns += not woken
        return woken


def _idle_sender_run(tmp_path, memory: MemoryDaemon):
    """A run whose sender thread runs, looks at the journal only every hour, and has shipped
    its first row (every later wake must come from the queue, the doorbell or finish())."""
    hour = dataclasses.replace(SETTINGS, journal_interval_s=3600, flush_interval_s=0.02)
    run = make_journal_run(MemoryConnector(memory), tmp_path, capacity=4096, settings=hour)
    sender = run.sender
    assert sender is not None
    sender.wake = _CountedEvent()
    sender.queue.wake = sender.wake.set  # the doorbell, Sender.urge, sets whichever event `wake` is
    run.log({"x": 0.0}, step=0)
    sender.start_thread(daemon=True)
    wait_for(lambda: len(memory.rows("r1")) == 1, 10, "the first row (the doorbell)")
    return run, sender


def test_an_idle_sender_sleeps_until_the_queue_the_doorbell_or_finish_wakes_it(tmp_path):
    memory = MemoryDaemon()
    run, sender = _idle_sender_run(tmp_path, memory)
    # A row from another thread takes the queue: its append wakes the sender at once (the next
    # poll would be an hour away).
    other = threading.Thread(target=run.log, args=({"y": 1.0},), kwargs={"step": 1})
    other.start()
    other.join()
    wait_for(lambda: any("y" in r for _, r in memory.rows("r1")), 10, "the queued row")
    # The owner's rows stay in the journal until a quarter of the ring waits; then the doorbell.
    step = 2
    j = run._journal
    while j.pos - j.acked + 48 <= j.capacity // 4:
        run.log({"x": float(step)}, step=step)
        step += 1
    shipped = len(memory.rows("r1"))
    run.log({"x": float(step)}, step=step)
    wait_for(lambda: len(memory.rows("r1")) > shipped, 10, "the rows the doorbell shipped")
    run.log({"x": -1.0}, step=step + 1)
    sender.request_finish(pb.Finish(state=pb.FINISHED))
    assert sender.finished.wait(10)
    assert [r.get("x") for _, r in memory.rows("r1") if "x" in r] == [float(i) for i in range(step + 1) if i != 1] + [
        -1.0
    ]
    assert sender.wake.idle_turns == 0  # no turn came from a timeout: nothing polled


def test_queued_records_go_at_most_once_per_flush_interval(tmp_path):
    memory = MemoryDaemon()
    run, sender = _idle_sender_run(tmp_path, memory)
    sends: list[float] = []
    transport = sender.transport
    assert transport is not None
    send = transport.send

    def timed_send(records):
        sends.append(time.monotonic())
        return send(records)

    transport.send = timed_send  # type: ignore[method-assign]
    done = threading.Event()

    def printer() -> None:  # a script that prints every millisecond, from another thread
        for i in range(150):
            run._queue.append((CONSOLE, f"line {i}", pb.STDOUT, time.time()))
            time.sleep(0.001)
        done.set()

    threading.Thread(target=printer).start()
    assert done.wait(30)
    wait_for(lambda: not run._queue and not sender.unacked, 10, "the lines sent")
    # Each send after the first waited for the pause: 150 lines in far fewer sends than lines.
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert all(gap >= 0.02 * 0.9 for gap in gaps), gaps
    sender.request_finish(pb.Finish(state=pb.FINISHED))
    assert sender.finished.wait(10)
