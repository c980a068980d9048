"""MediaRefs against a real daemon: the key's media type, known from a KeyDefs record of an
earlier batch (and after a restart, from the file), decides the folder a path must be in."""

from __future__ import annotations

import signal

import grpc
import pytest

from helpers.daemon import DaemonProcess
from helpers.rawclient import read_backup, start_run, stream
from swanlabd_pb import records_pb2 as pb


def image_key(cs: int) -> pb.Record:
    return pb.Record(client_seq=cs, keys=pb.KeyDefs(keys=[pb.KeyDef(id=1, name="img", type=pb.IMAGE)]))


def ref(cs: int, path: str) -> pb.Record:
    return pb.Record(client_seq=cs, media=pb.MediaRefs(items=[pb.MediaRef(key_id=1, step=cs, path=path)]))


def test_a_key_typed_in_an_earlier_batch_and_before_a_restart_still_decides_the_folder(daemon: DaemonProcess):
    stub = daemon.stub()
    run = start_run(stub)
    assert stream(stub, run.run_id, 1, [[image_key(1)], [ref(2, "media/image/002-00000000.png")]]) == [1, 2]
    daemon.kill(signal.SIGKILL)
    daemon.start()
    stub = daemon.stub()
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, run.run_id, 1, [[ref(3, "media/text/003-00000000.txt")]])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must be media/image/<file>" in (info.value.details() or "")
    assert stream(stub, run.run_id, 1, [[ref(3, "media/image/003-00000000.png")]]) == [3]
    paths = [i.path for r in read_backup(run.run_dir) if r.WhichOneof("kind") == "media" for i in r.media.items]
    assert paths == ["media/image/002-00000000.png", "media/image/003-00000000.png"]
