"""Journal ranges on the Stream (docs/journal.md) against the real daemon: stored as the `scalars`
records they stand for, contiguous per writer; a torn range, an overlap, undefined keys, a client's
`journal_end` refused INVALID_ARGUMENT; StartRun's journal path checked."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from helpers.daemon import DaemonProcess
from helpers.journalfile import Ring, chunk, chunks
from helpers.rawclient import client_seqs, finish, keys, kinds, read_backup, start_run, stream
from swanlabd.format import journal, scalarcodec
from swanlabd_pb import records_pb2 as pb


@pytest.fixture(scope="module")
def daemon():
    with DaemonProcess() as d:
        yield d


@pytest.fixture
def journal_path(daemon) -> Path:
    path = daemon.root / f"journal-{os.urandom(4).hex()}"
    Ring(4096).save(path)
    return path


def steps_of(records: list[pb.Record], writer: int = 1) -> list[int]:
    return [
        s
        for r in records
        if r.writer == writer and r.WhichOneof("kind") == "scalars"
        for s in scalarcodec.decode(r.scalars).steps
    ]


def refused(stub, run_id: str, batches: list[list[pb.Record]]) -> str:
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, run_id, 1, batches)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    return str(info.value.details())


def test_ranges_are_stored_as_scalars_with_their_journal_end(daemon, journal_path):
    stub = daemon.stub()
    run = start_run(stub, journal=str(journal_path))
    ring = Ring(1024)
    ring.key(1, "loss")
    batches = [[keys(1, {1: "loss"}), chunk(ring, 2, 0, ring.position)]]
    cs = 3
    for i in range(60):  # 48-byte rows: over two laps, a WRAP at each lap's end
        start = ring.position
        ring.row((i, 1_700_000_000.0 + i, (1,), (i / 4,)))
        # Sent as they are written (the ring reuses a lap once it is acked).
        batch = chunks(ring, cs, start, ring.position)
        batches.append(batch)
        cs += len(batch)
    assert ring.position > 2 * 1024
    acks = stream(stub, run.run_id, 1, batches)
    assert acks[-1] == cs - 1
    # A replay of what the daemon holds is dropped, as for any record.
    assert stream(stub, run.run_id, 1, batches[-2:]) == [cs - 1, cs - 1]
    finish(stub, run.run_id, 1, cs - 1)
    records = read_backup(run.run_dir)
    assert "journal" not in kinds(records)
    assert steps_of(records) == list(range(60))
    ends = [r.journal_end for r in records if r.WhichOneof("kind") == "scalars"]
    assert ends == sorted(ends) and ends[-1] == ring.position
    assert client_seqs(records) == list(range(1, cs))
    values = [v for r in records if r.WhichOneof("kind") == "scalars" for v in scalarcodec.decode(r.scalars).values]
    assert values == [i / 4 for i in range(60)]
    assert not journal_path.exists()  # the primary writer finished: its journal is deleted


def test_two_ranges_in_one_batch_and_a_range_of_keys_only(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    ring = Ring(4096)
    ring.key(1, "a")
    first = ring.position
    ring.row((0, 1.5, (1,), (2.0,)))
    second = ring.position
    ring.row((1, 2.5, (1,), (3.0,)))
    batch = [
        keys(1, {1: "a"}),
        chunk(ring, 2, 0, first),
        chunk(ring, 3, first, second),
        chunk(ring, 4, second, ring.position),
    ]
    assert stream(stub, run.run_id, 1, [batch]) == [4]
    finish(stub, run.run_id, 1, 4)
    records = read_backup(run.run_dir)
    assert steps_of(records) == [0, 1]
    stored = [r for r in records if r.WhichOneof("kind") == "scalars"]
    assert [r.journal_end for r in stored] == [first, second, ring.position]
    assert [len(scalarcodec.decode(r.scalars).steps) for r in stored] == [0, 1, 1]


def test_a_torn_range_is_refused(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    ring = Ring(4096)
    ring.row((0, 1.0, (1,), (1.0,)))
    ring.row((1, 2.0, (1,), (2.0,)))
    torn = chunk(ring, 2, 0, ring.position)
    torn.journal.entries = torn.journal.entries[:-8]  # the last row's tag not written
    details = refused(stub, run.run_id, [[keys(1, {1: "a"}), torn]])
    assert "not whole entries" in details and "position 48" in details
    assert steps_of(read_backup(run.run_dir)) == []


def test_a_range_that_goes_back_is_refused_and_one_past_a_loss_is_taken(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    ring = Ring(4096)
    a = ring.row((0, 1.0, (1,), (1.0,)))
    b = ring.row((1, 2.0, (1,), (2.0,)))
    c = ring.row((2, 3.0, (1,), (3.0,)))
    d = ring.row((3, 4.0, (1,), (4.0,)))
    end = ring.position
    # A range that overlaps what the daemon holds (inside one batch, and after it): refused.
    details = refused(stub, run.run_id, [[keys(1, {1: "a"}), chunk(ring, 2, a, c), chunk(ring, 3, b, c)]])
    assert f"starts at position {b}" in details and f"end at {c}" in details
    assert stream(stub, run.run_id, 1, [[keys(1, {1: "a"}), chunk(ring, 2, a, b)]]) == [2]
    details = refused(stub, run.run_id, [[chunk(ring, 3, a, b)]])
    assert f"starts at position {a}" in details and f"end at {b}" in details
    # One that starts past the end the file holds (the positions between were lost, e.g. with
    # a host's page cache): taken, so the run goes on; its rows and what follows are stored.
    assert stream(stub, run.run_id, 1, [[chunk(ring, 3, c, d)]]) == [3]
    assert stream(stub, run.run_id, 1, [[chunk(ring, 4, d, end)]]) == [4]
    finish(stub, run.run_id, 1, 4)
    assert steps_of(read_backup(run.run_dir)) == [0, 2, 3]


def test_rows_of_undefined_keys_are_refused(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    ring = Ring(4096)
    ring.key(7, "x")  # a KEY entry does not define the key on the Stream: KeyDefs do
    ring.row((0, 1.0, (7, 8), (1.0, 2.0)))
    details = refused(stub, run.run_id, [[keys(1, {8: "y"}), chunk(ring, 2, 0, ring.position)]])
    assert "key ids [7] not defined" in details


def test_bad_rows_and_a_clients_journal_end_are_refused(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    ring = Ring(4096)
    ring.row((-1, 1.0, (1,), (1.0,)))
    assert "step -1" in refused(stub, run.run_id, [[keys(1, {1: "a"}), chunk(ring, 2, 0, ring.position)]])
    ring = Ring(4096)
    ring.row((0, float("inf"), (1,), (1.0,)))
    assert "time inf" in refused(stub, run.run_id, [[keys(1, {1: "a"}), chunk(ring, 2, 0, ring.position)]])
    ring = Ring(4096)
    ring.row((0, 1.0, (1,), (1.0,)))
    ring.row((1, 2.0, (1,), (1.0,)))
    after_wrap = chunk(ring, 2, 0, ring.position)
    wrap = journal.wrap_entry(0, 32)
    after_wrap.journal.entries = wrap + after_wrap.journal.entries[:48]
    assert "past its WRAP entry" in refused(stub, run.run_id, [[keys(1, {1: "a"}), after_wrap]])
    own = pb.Record(client_seq=1, journal_end=5, scalars=pb.ScalarRows())
    assert "journal_end is the daemon's" in refused(stub, run.run_id, [[own]])


def test_startrun_checks_the_journal_path(daemon, journal_path, tmp_path):
    stub = daemon.stub()
    link = daemon.root / f"link-{os.urandom(4).hex()}"
    link.symlink_to(journal_path)
    cases = {
        "relative/journal": "absolute",
        str(link): "cannot be opened",
        str(daemon.root): "not a regular file",
        str(daemon.root / "missing"): "cannot be opened",
    }
    try:
        for path, why in cases.items():
            with pytest.raises(grpc.RpcError) as info:
                start_run(stub, journal=path)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
            assert repr(path) in info.value.details() and why in info.value.details()
    finally:
        link.unlink()
    if os.getuid() == 0:
        other = daemon.root / f"other-{os.urandom(4).hex()}"
        Ring(4096).save(other)
        os.chown(other, 12345, 12345)
        with pytest.raises(grpc.RpcError) as info:
            start_run(stub, journal=str(other))
        assert "uid 12345" in info.value.details()
