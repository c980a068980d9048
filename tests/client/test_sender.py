"""The sender's policy against an in-memory daemon: batching, KeyDefs, acks, replay, fallback."""

from __future__ import annotations

import random
import threading
import time

import pytest
from memtransport import SETTINGS, MemoryConnector, MemoryDaemon, MemoryTransport, drain, make_run, turn

from swanlab_client import _sender
from swanlab_client._errors import DaemonRejectedError, DaemonTimeoutError, RPCStatusCode
from swanlab_client._sender import CONFIG, Sender, SendQueue, Warner, _Expired
from swanlab_client._settings import Settings
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc


def test_rows_arrive_in_order_with_keydefs_first():
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    for step in range(100):
        run.log({"loss": 1.0 / (step + 1), "acc": step, "nested": {"x": step % 3 == 0}})
    drain(run)
    rows = mem.rows("r1")
    assert [s for s, _ in rows] == list(range(100))
    assert rows[7] == (7, {"loss": 1 / 8, "acc": 7.0, "nested/x": 0.0})
    kinds = [r.WhichOneof("kind") for r in mem.records[("r1", 1)]]
    assert kinds[0] == "keys" and kinds.count("keys") == 1
    assert [r.client_seq for r in mem.records[("r1", 1)]] == list(range(1, len(kinds) + 1))


def test_batches_are_packed_and_bounded():
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    for _ in range(1000):
        run.log({f"k{i}": float(i) for i in range(8)})
    drain(run)
    scalars = [r.scalars for r in mem.records[("r1", 1)] if r.HasField("scalars")]
    assert all(len(s.values) <= SETTINGS.batch_max_values for s in scalars)
    assert sum(len(s.steps) for s in scalars) == 1000
    assert len(scalars) < 200  # many rows per record, not one record per row


def test_new_keys_later_get_their_keydefs_before_use():
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    run.log({"a": 1})
    drain(run)
    run.log({"b": 2})
    run.log({"a": 3, "c": 4})
    drain(run)
    assert mem.rows("r1") == [(0, {"a": 1.0}), (1, {"b": 2.0}), (2, {"a": 3.0, "c": 4.0})]


@pytest.mark.parametrize("how", ["before", "after"])
def test_replay_after_broken_connections_is_exactly_once(how):
    rng = random.Random(7)
    mem = MemoryDaemon()
    connector = MemoryConnector(mem, breaks=lambda n: how if rng.random() < 0.3 else None)
    run = make_run(connector)
    for step in range(3000):
        run.log({"v": float(step), "w": step * 2})
        if step % 97 == 0:
            turn(run.sender)
    drain(run)
    rows = mem.rows("r1")
    assert [s for s, _ in rows] == list(range(3000))
    assert all(r == {"v": float(s), "w": float(2 * s)} for s, r in rows)
    assert connector.connects > 5
    # replays were re-attaches as writer 1, never a second create
    assert sum(not r.attach for r in mem.starts) == 1
    assert all(r.writer == 1 for r in mem.starts if r.attach)


def test_a_create_refused_as_existing_never_writes_into_that_run():
    # The daemon answers a retry of our own create with our run (tests/ingest); ALREADY_EXISTS
    # means the id is another run's: attaching as its writer 1 would drop our rows as replays.
    mem = MemoryDaemon()
    mem.start(svc.StartRunRequest(start=pb.RunStart(run_id="r1")))  # another process's run r1
    run = make_run(MemoryConnector(mem))
    run.log({"a": 1})
    assert run.sender is not None
    with pytest.raises(_Expired):  # the sender thread's loop ends on it
        run.sender.step()
    assert run.sender.finished.is_set() and run.sender.start_refused is not None
    assert run.sender.writer == 0 and mem.rows("r1") == []


def test_unreachable_daemon_falls_back_to_the_file_transport():
    mem, file_mem = MemoryDaemon(), MemoryDaemon()
    connector = MemoryConnector(mem)
    connector.down = True
    connector.fallback_memory = file_mem
    run = make_run(connector)
    for step in range(50):
        run.log({"x": step})
    drain(run)
    assert run.sender.on_fallback
    assert [s for s, _ in file_mem.rows("r1")] == list(range(50))


def test_daemon_lost_midway_then_fallback_keeps_every_row():
    mem, file_mem = MemoryDaemon(), MemoryDaemon()
    connector = MemoryConnector(mem)
    connector.fallback_memory = file_mem
    run = make_run(connector)
    for step in range(40):
        run.log({"x": step})
    drain(run)
    # The daemon dies; the fallback file holds what the daemon had acked (it is the same file).
    file_mem.records = {k: list(v) for k, v in mem.records.items()}
    file_mem.defined = {k: set(v) for k, v in mem.defined.items()}
    file_mem.next_writer = dict(mem.next_writer)
    connector.down = True
    run.sender.transport = None
    for step in range(40, 80):
        run.log({"x": step})
    drain(run)
    assert [s for s, _ in file_mem.rows("r1")] == list(range(80))


def test_config_changes_travel_in_order():
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    run.log({"a": 1})
    run._queue.append((CONFIG, '{"lr": 0.5}', None, 0.0))
    run.log({"a": 2})
    drain(run)
    kinds = [r.WhichOneof("kind") for r in mem.records[("r1", 1)]]
    assert kinds == ["keys", "scalars", "config", "scalars"]


def test_finish_sends_the_finish_after_every_row_with_a_thread():
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    run.sender.start_thread(daemon=True)
    for step in range(5000):
        run.log({"a": step})
    run._finish("FINISHED", None)
    assert run.sender.finished.is_set()
    assert len(mem.rows("r1")) == 5000
    assert mem.finished[("r1", 1)].state == pb.FINISHED


def test_full_queue_blocks_log_until_the_sender_catches_up():
    mem = MemoryDaemon()
    release = threading.Event()
    connector = MemoryConnector(mem, breaks=lambda n: None if release.wait(10) else None)
    run = make_run(connector, Settings(queue_max_rows=50, flush_interval_s=0.001, autostart=False, hooks=False))
    run.sender.start_thread(daemon=True)
    done = threading.Event()

    def produce():
        for step in range(500):
            run.log({"a": step})
        done.set()

    t = threading.Thread(target=produce)
    t.start()
    assert not done.wait(0.3)  # blocked: the queue is full and the daemon does not ack
    assert len(run._queue) <= 51
    release.set()
    assert done.wait(10)
    t.join()
    run._finish("FINISHED", None)
    assert [s for s, _ in mem.rows("r1")] == list(range(500))


def test_child_writer_attaches_as_a_new_writer_and_defines_its_own_keys():
    mem = MemoryDaemon()
    parent = make_run(MemoryConnector(mem))
    parent.log({"a": 1})
    drain(parent)
    child = Sender(
        queue=SendQueue([(5, 0, (2.0,), 0.0)]),
        tables=parent._tables,
        start_request=lambda create: svc.StartRunRequest(start=pb.RunStart(run_id="r1")),
        connector=MemoryConnector(mem),
        settings=SETTINGS,
        warner=Warner(),
        attach_new_writer=True,
    )
    child.run_id = "r1"
    turn(child)
    assert child.writer == 2
    assert mem.rows("r1", 2) == [(5, {"a": 2.0})]


def test_a_lost_finish_answer_does_not_finish_twice():
    mem = MemoryDaemon()
    connector = MemoryConnector(mem)
    run = make_run(connector)
    run.log({"a": 1})
    drain(run)
    sender = run.sender
    sender.request_finish(pb.Finish(state=pb.FINISHED))
    sender.transport.finish(svc.FinishRunRequest(run_id="r1", writer=1, last_client_seq=sender.next_cs - 1))
    sender.transport = None  # ... and then the connection broke before the answer came

    def closed(request):
        raise DaemonRejectedError("run r1 is FINISHED", RPCStatusCode.FAILED_PRECONDITION)

    mem.start = closed
    sender.run()  # returns: the run is done
    assert sender.finished.is_set() and sender.transport is None


def test_finish_is_bounded_when_nothing_can_take_the_data(caplog):
    connector = MemoryConnector(MemoryDaemon())
    connector.down = True  # no daemon, and (fallback=False) no file either
    settings = Settings(
        flush_interval_s=0.001, autostart=False, fallback=False, hooks=False, finish_timeout_s=0.5, ack_timeout_s=0.5
    )
    run = make_run(connector, settings)
    run.sender.start_thread(daemon=True)
    for step in range(10):
        run.log({"a": step})
    started = time.monotonic()
    run._finish("FINISHED", None)
    assert time.monotonic() - started < 5
    assert run.sender.finished.is_set()
    assert any("gave up" in r.getMessage() and "10 queued rows" in r.getMessage() for r in caplog.records)


class StoppedDaemon(MemoryConnector):
    """A daemon stopped by SIGSTOP: its socket accepts (spawn() is True at once), StartRun times out."""

    def daemon(self) -> MemoryTransport:
        transport = super().daemon()

        def start(request: svc.StartRunRequest) -> svc.StartRunReply:
            raise DaemonTimeoutError("StartRun: Deadline Exceeded", RPCStatusCode.DEADLINE_EXCEEDED)

        transport.start = start  # type: ignore[method-assign]  # this one connection never answers
        return transport

    def spawn(self) -> bool:
        self.spawns += 1
        return True


def test_a_daemon_that_accepts_but_never_answers_is_handled_as_a_dead_one(monkeypatch):
    """After SPAWNS_BEFORE_FALLBACK timeouts the sender takes the fallback file, as for a dead daemon."""
    monkeypatch.setattr(_sender, "SPAWN_INTERVAL_S", 0.01)
    connector = StoppedDaemon(MemoryDaemon())
    connector.fallback_memory = file_mem = MemoryDaemon()
    settings = Settings(flush_interval_s=0.001, autostart=True, hooks=False, finish_timeout_s=10)
    run = make_run(connector, settings)
    run.sender.start_thread(daemon=True)
    for step in range(20):
        run.log({"a": step})
    run._finish("FINISHED", None)
    assert run.sender.finished.is_set() and run.sender.on_fallback
    assert [s for s, _ in file_mem.rows("r1")] == list(range(20))
    assert file_mem.finished[("r1", 1)].state == pb.FINISHED
    assert connector.spawns == _sender.SPAWNS_BEFORE_FALLBACK
