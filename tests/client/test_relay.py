"""The relay a forked child talks through: framing, errors crossing the pipe, a real daemon."""

from __future__ import annotations

import os

import pytest

from helpers.daemon import DaemonProcess
from swanlab_client._errors import DaemonUnavailableError, RPCStatusCode
from swanlab_client._relay import RelayTransport, read_frame, write_frame
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc


def test_frames_round_trip_through_a_pipe():
    r, w = os.pipe()
    with os.fdopen(w, "wb") as out:
        write_frame(out, b"R", b"payload")
        write_frame(out, b"E", b"")
    assert read_frame(r) == (b"R", b"payload")
    assert read_frame(r) == (b"E", b"")
    with pytest.raises(DaemonUnavailableError):
        read_frame(r)  # end of the pipe: the other side is gone
    os.close(r)


def test_a_daemon_error_crosses_the_relay_with_its_code(tmp_path):
    relay = RelayTransport(tmp_path / "nobody.sock", connect_timeout_s=2, ack_timeout_s=5)
    try:
        with pytest.raises(DaemonUnavailableError) as info:
            relay.start(svc.StartRunRequest(start=pb.RunStart(run_id="r"), attach=True))
        assert info.value.code == RPCStatusCode.UNAVAILABLE and str(info.value).count("swanlabd:") == 1
    finally:
        relay.close()


def test_a_child_writer_through_the_relay_against_the_real_daemon(daemon: DaemonProcess):
    stub = daemon.stub()
    created = stub.StartRun(
        svc.StartRunRequest(start=pb.RunStart(project="p", mode=pb.MODE_OFFLINE), pid=os.getpid()), timeout=10
    )
    relay = RelayTransport(daemon.socket, connect_timeout_s=5, ack_timeout_s=10)
    try:
        reply = relay.start(svc.StartRunRequest(start=pb.RunStart(run_id=created.run_id), attach=True, pid=os.getpid()))
        assert reply.writer == 2 and reply.durable_client_seq == 0
        keys = pb.Record(client_seq=1, writer=2, keys=pb.KeyDefs(keys=[pb.KeyDef(id=1, name="x", type=pb.FLOAT)]))
        rows = pb.Record(
            client_seq=2, writer=2, scalars=pb.ScalarRows(steps=[0], row_sizes=[1], key_ids=[1], values=[1.5])
        )
        assert relay.send([keys, rows]) == 2
        assert relay.finish(svc.FinishRunRequest(run_id=created.run_id, writer=2, last_client_seq=2)) == 2
    finally:
        relay.close()
