"""The client <-> daemon protocol against the real daemon: round trip, replay,
gaps, malformed batches, attach, finish."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import grpc
import pytest

from helpers.daemon import DaemonProcess
from helpers.rawclient import (
    client_seqs,
    finish,
    keys,
    kinds,
    read_backup,
    rows,
    run_summary,
    scalars,
    start_run,
    stream,
)
from swanlabd.format import scalarcodec
from swanlabd.local.limits import MAX_JSON_DEPTH
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc


@pytest.fixture(scope="module")
def daemon():
    """One daemon for the whole module: these tests never kill it, each uses its own runs."""
    with DaemonProcess() as d:
        yield d


def test_round_trip_lands_in_the_backup(daemon):
    stub = daemon.stub()
    reply = start_run(
        stub,
        config=pb.Config(json=json.dumps({"lr": 0.001, "nested": {"a": [1, 2]}})),
        metadata=pb.Metadata(json=json.dumps({"host": "h"})),
        requirements=pb.Requirements(pip="numpy==2.0\n"),
    )
    assert reply.writer == 1 and reply.durable_client_seq == 0
    run_dir = Path(reply.run_dir)
    assert run_dir.parent == daemon.home / "runs"
    assert re.fullmatch(r"run-\d{8}_\d{6}-" + reply.run_id, run_dir.name)

    batches = [[keys(1, {1: "loss", 2: "acc"})], [scalars(2, 0, {1: 0.5, 2: float("nan")})], rows(3, 3)]
    acks = stream(stub, reply.run_id, 1, batches)
    assert acks == [1, 2, 5]
    assert finish(stub, reply.run_id, 1, 5).durable_client_seq == 5

    records = read_backup(run_dir)
    assert kinds(records) == [
        "header",
        "run_start",
        "config",
        "metadata",
        "requirements",
        "keys",
        "scalars",
        "scalars",
        "scalars",
        "scalars",
        "finish",
    ]
    assert [r.seq for r in records] == list(range(len(records)))
    assert records[0].header.run_id == reply.run_id
    assert records[1].run_start.project == "proj" and records[1].run_start.run_id == reply.run_id
    assert client_seqs(records) == [1, 2, 3, 4, 5]
    # Stored compact (format 2), as the daemon stores every client's scalar rows, NaN kept.
    assert records[0].header.format_version == 2 and records[6].scalars.blocks and not records[6].scalars.steps
    stored = scalarcodec.decode(records[6].scalars)
    assert stored.steps == [0] and stored.key_ids == [1, 2]
    assert stored.values[0] == 0.5 and math.isnan(stored.values[1])
    assert [scalarcodec.steps(r.scalars) for r in records[7:10]] == [[3], [4], [5]]
    assert records[-1].finish.state == pb.FINISHED and records[-1].finish.finish_time_ms > 0

    assert json.loads((run_dir / "files" / "config.yaml").read_text()) == {"lr": 0.001, "nested": {"a": [1, 2]}}
    assert json.loads((run_dir / "files" / "swanlab-metadata.json").read_text()) == {"host": "h"}
    assert (run_dir / "files" / "requirements.txt").read_text() == "numpy==2.0\n"
    summary = run_summary(stub, reply.run_id)
    assert summary.state == pb.FINISHED and summary.records == len(records)


def test_replay_after_reconnect_is_deduplicated(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    assert stream(stub, run.run_id, 1, [[keys(1, {1: "x"})], rows(2, 4)]) == [1, 5]
    # The client did not see the last ack, reconnects and replays 3..5, then sends 6..8.
    assert stream(stub, run.run_id, 1, [rows(3, 3), rows(6, 3)]) == [5, 8]
    # A batch of pure duplicates is acked without writing anything.
    assert stream(stub, run.run_id, 1, [rows(2, 7)]) == [8]
    finish(stub, run.run_id, 1, 8)
    assert client_seqs(read_backup(run.run_dir)) == list(range(1, 9))


def test_gap_is_failed_precondition_and_nothing_is_written(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    stream(stub, run.run_id, 1, [[keys(1, {1: "x"})], rows(2, 2)])
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, run.run_id, 1, [rows(5, 2)])
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "gap" in info.value.details() and "replay from 4" in info.value.details()
    assert stream(stub, run.run_id, 1, [rows(4, 3)]) == [6]
    finish(stub, run.run_id, 1, 6)
    assert client_seqs(read_backup(run.run_dir)) == [1, 2, 3, 4, 5, 6]


def _bad_scalars(**cols) -> pb.Record:
    return pb.Record(client_seq=2, scalars=pb.ScalarRows(**cols))


MALFORMED = {
    "header": [pb.Record(client_seq=2, header=pb.FileHeader(magic="x"))],
    "finish": [pb.Record(client_seq=2, finish=pb.Finish(state=pb.FINISHED))],
    "run_start": [pb.Record(client_seq=2, run_start=pb.RunStart(project="p"))],
    "system": [pb.Record(client_seq=2, system=pb.ScalarRows())],
    "no_kind": [pb.Record(client_seq=2)],
    "undefined_key": [scalars(2, 0, {99: 1.0})],
    "row_sizes_not_summing": [_bad_scalars(steps=[0, 1], row_sizes=[1, 2], key_ids=[1, 1], values=[1.0, 2.0])],
    "steps_vs_row_sizes": [_bad_scalars(steps=[0, 1], row_sizes=[1], key_ids=[1], values=[1.0])],
    "values_vs_key_ids": [_bad_scalars(steps=[0], row_sizes=[2], key_ids=[1, 1], values=[1.0])],
    "time_deltas": [_bad_scalars(steps=[0], row_sizes=[1], key_ids=[1], values=[1.0], time_deltas_ms=[1, 2])],
    "seq_set": [pb.Record(seq=7, client_seq=2, console=pb.ConsoleLines())],
    "piece_from_a_client": [pb.Record(part=1, more_parts=True, client_seq=2, console=pb.ConsoleLines())],
    "compact_rows_from_a_client": [
        pb.Record(
            client_seq=2,
            scalars=pb.ScalarRows.FromString(
                scalarcodec.compact(pb.ScalarRows(steps=[0], row_sizes=[1], key_ids=[1], values=[1.0]))
            ),
        )
    ],
    "other_writer": [pb.Record(writer=5, client_seq=2, console=pb.ConsoleLines())],
    "not_contiguous": [rows(2, 1)[0], rows(4, 1)[0]],
    "client_seq_zero": [pb.Record(client_seq=0, console=pb.ConsoleLines())],
    "key_redefined": [keys(2, {1: "other"})],
    "empty_key_name": [keys(2, {3: ""})],
    "media_escapes_run": [
        pb.Record(client_seq=2, media=pb.MediaRefs(items=[pb.MediaRef(key_id=1, path="../../etc/passwd")]))
    ],
    "media_on_a_scalar_key": [
        pb.Record(client_seq=2, media=pb.MediaRefs(items=[pb.MediaRef(key_id=1, path="media/image/0.png")]))
    ],
    "media_in_another_types_folder": [
        pb.Record(client_seq=2, keys=pb.KeyDefs(keys=[pb.KeyDef(id=2, name="img", type=pb.IMAGE)])),
        pb.Record(client_seq=3, media=pb.MediaRefs(items=[pb.MediaRef(key_id=2, path="media/audio/0.wav")])),
    ],
    "media_dotdot_under_its_folder": [
        pb.Record(client_seq=2, keys=pb.KeyDefs(keys=[pb.KeyDef(id=2, name="img", type=pb.IMAGE)])),
        pb.Record(client_seq=3, media=pb.MediaRefs(items=[pb.MediaRef(key_id=2, path="media/image/../x.png")])),
    ],
    "file_absolute": [pb.Record(client_seq=2, file=pb.SavedFile(path="/etc/passwd"))],
    "config_not_json": [pb.Record(client_seq=2, config=pb.Config(json="{nope"))],
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_batch_is_invalid_argument_and_daemon_keeps_serving(daemon, case):
    stub = daemon.stub()
    run = start_run(stub)
    assert stream(stub, run.run_id, 1, [[keys(1, {1: "x"})]]) == [1]
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, run.run_id, 1, [MALFORMED[case]])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert f"run {run.run_id} writer 1" in info.value.details()
    # Nothing of the bad batch was written, and the same run still takes good data.
    assert stream(stub, run.run_id, 1, [rows(2, 2)]) == [3]
    finish(stub, run.run_id, 1, 3)
    assert client_seqs(read_backup(run.run_dir)) == [1, 2, 3]
    assert daemon.proc.poll() is None


def nested(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


@pytest.mark.parametrize("kind, message", [("config", pb.Config), ("metadata", pb.Metadata)])
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 10_000])  # parsed but too deep; past Python's recursion
def test_json_nested_too_deep_is_invalid_argument_naming_the_field(daemon, kind, message, levels):
    stub = daemon.stub()
    too_deep = f"{kind} is JSON nested deeper than {MAX_JSON_DEPTH} levels"
    with pytest.raises(grpc.RpcError) as info:
        stub.StartRun(
            svc.StartRunRequest(start=pb.RunStart(project="p"), **{kind: message(json=nested(levels))}), timeout=10
        )
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, f"StartRun: {too_deep}")
    run = start_run(stub, **{kind: message(json=nested(MAX_JSON_DEPTH))})
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, run.run_id, 1, [[pb.Record(client_seq=1, **{kind: message(json=nested(levels))})]])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert info.value.details().endswith(f"client_seq=1: {too_deep}")
    assert stream(stub, run.run_id, 1, [[pb.Record(client_seq=1, **{kind: message(json=nested(MAX_JSON_DEPTH))})]]) == [
        1
    ]
    assert daemon.proc.poll() is None


@pytest.mark.parametrize(
    "start, named",
    [
        (pb.RunStart(project="../../etc"), "project '../../etc'"),
        (pb.RunStart(project="p", workspace="alice/victim?x="), "workspace 'alice/victim?x='"),
        (pb.RunStart(project="p" * 101), "project 'ppp"),
        (pb.RunStart(project="p", experiment_name="   "), "experiment name '   '"),
        (pb.RunStart(project="p", experiment_name="x" * 256), "experiment name 'xxx"),
    ],
)
def test_startrun_refuses_names_init_would_refuse_and_makes_no_folder(daemon, start, named):
    stub = daemon.stub()
    before = set((daemon.home / "runs").glob("*"))  # the daemon is the module's: other tests' runs are there
    with pytest.raises(grpc.RpcError) as info:
        stub.StartRun(svc.StartRunRequest(start=start), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(f"StartRun: {named}"), info.value.details()
    assert set((daemon.home / "runs").glob("*")) == before
    assert daemon.proc.poll() is None


def test_first_stream_request_must_name_run_and_writer(daemon):
    stub = daemon.stub()
    with pytest.raises(grpc.RpcError) as info:
        list(stub.Stream(iter([svc.StreamRequest(records=rows(1, 1))]), timeout=10))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_unknown_run_is_not_found(daemon):
    stub = daemon.stub()
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, "nosuchrun", 1, [rows(1, 1)])
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        finish(stub, "nosuchrun", 1, 0)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_finished_run_refuses_records_and_finish_is_idempotent(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    stream(stub, run.run_id, 1, [[keys(1, {1: "x"})]])
    finish(stub, run.run_id, 1, 1)
    assert finish(stub, run.run_id, 1, 1).durable_client_seq == 1  # a retried finish
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, run.run_id, 1, [rows(2, 1)])
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert kinds(read_backup(run.run_dir)).count("finish") == 1


def test_aborted_state_from_the_client(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    finish(stub, run.run_id, 1, 0, state=pb.ABORTED)
    assert run_summary(stub, run.run_id).state == pb.ABORTED
    assert read_backup(run.run_dir)[-1].finish.state == pb.ABORTED


def test_attached_writer_has_its_own_sequence_and_keys(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    child = stub.StartRun(svc.StartRunRequest(start=pb.RunStart(run_id=run.run_id), attach=True, pid=0), timeout=10)
    assert child.run_id == run.run_id and child.writer == 2 and child.durable_client_seq == 0
    assert stream(stub, run.run_id, 1, [[keys(1, {1: "parent"})], rows(2, 2)]) == [1, 3]
    assert stream(stub, run.run_id, 2, [[keys(1, {1: "child"})], rows(2, 1)]) == [1, 2]
    # The child finishing only detaches it; the run stays RUNNING until writer 1 finishes.
    assert finish(stub, run.run_id, 2, 2).durable_client_seq == 2
    assert run_summary(stub, run.run_id).state == pb.RUNNING
    again = stub.StartRun(svc.StartRunRequest(start=pb.RunStart(run_id=run.run_id), attach=True, writer=2), timeout=10)
    assert again.writer == 2 and again.durable_client_seq == 2
    finish(stub, run.run_id, 1, 3)
    records = read_backup(run.run_dir)
    assert client_seqs(records, 1) == [1, 2, 3] and client_seqs(records, 2) == [1, 2]
    assert run_summary(stub, run.run_id).state == pb.FINISHED


def test_attach_to_unknown_run_or_writer(daemon):
    stub = daemon.stub()
    with pytest.raises(grpc.RpcError) as info:
        stub.StartRun(svc.StartRunRequest(start=pb.RunStart(run_id="nosuchrun"), attach=True), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    run = start_run(stub)
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, run.run_id, 7, [rows(1, 1)])
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_run_id_chosen_by_client_and_resume(daemon):
    stub = daemon.stub()
    req = svc.StartRunRequest(start=pb.RunStart(run_id="myrun01", project="p"), pid=0)
    assert stub.StartRun(req, timeout=10).run_id == "myrun01"
    with pytest.raises(grpc.RpcError) as info:
        stub.StartRun(req, timeout=10)
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    finish(stub, "myrun01", 1, 0)
    req.start.resume = "allow"
    resumed = stub.StartRun(req, timeout=10)
    assert resumed.writer == 2  # a new writer: its client_seqs start again at 1
    assert stream(stub, "myrun01", 2, [[keys(1, {1: "x"})]]) == [1]
    finish(stub, "myrun01", 2, 1)
    assert run_summary(stub, "myrun01").state == pb.FINISHED
    bad = svc.StartRunRequest(start=pb.RunStart(run_id="../../x"))
    with pytest.raises(grpc.RpcError) as info:
        stub.StartRun(bad, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_finish_waits_for_batches_in_flight(daemon):
    """FinishRun may overtake the last Stream batch (separate HTTP/2 streams): it waits for it."""
    import threading

    stub = daemon.stub()
    run = start_run(stub)
    stream(stub, run.run_id, 1, [[keys(1, {1: "x"})]])
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("reply", finish(stub, run.run_id, 1, 3)))
    t.start()
    stream(stub, run.run_id, 1, [rows(2, 2)])
    t.join(30)
    assert result["reply"].durable_client_seq == 3
    assert kinds(read_backup(run.run_dir))[-1] == "finish"


def test_oversized_request_is_refused_and_daemon_keeps_serving(daemon):
    stub = daemon.stub()
    run = start_run(stub)
    huge = pb.Record(client_seq=1, console=pb.ConsoleLines(lines=[pb.ConsoleLine(text="x" * (17 * 1024 * 1024))]))
    with pytest.raises(grpc.RpcError) as info:
        stream(stub, run.run_id, 1, [[huge]])
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stream(stub, run.run_id, 1, [[keys(1, {1: "x"})]]) == [1]


def test_retried_startrun_from_the_same_process_is_idempotent(daemon):
    """The client retries StartRun when the reply was lost: same run, same writer, what is held."""
    stub = daemon.stub()
    req = svc.StartRunRequest(start=pb.RunStart(run_id="retried01", project="p"), pid=os.getpid())
    first = stub.StartRun(req, timeout=10)
    stream(stub, "retried01", 1, [[keys(1, {1: "x"})], rows(2, 1)])
    again = stub.StartRun(req, timeout=10)
    assert (again.run_id, again.run_dir, again.writer, again.durable_client_seq) == ("retried01", first.run_dir, 1, 2)
    req.pid = 1  # another process with the same id is a different run
    with pytest.raises(grpc.RpcError) as info:
        stub.StartRun(req, timeout=10)
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
