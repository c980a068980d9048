"""No record kind blocks another; media uploads; a 4xx that rejects data is recorded and shown."""

from __future__ import annotations

import json
from pathlib import Path

from uploading import cloud_run, complete_upload_state, finished, points

from helpers.rawclient import finish, scalars, stream
from helpers.waiting import wait_for
from swanlab_testcloud import FaultKind
from swanlabd_pb import records_pb2 as pb


def defs(cs: int) -> pb.Record:
    return pb.Record(
        client_seq=cs,
        keys=pb.KeyDefs(
            keys=[
                pb.KeyDef(id=1, name="loss", type=pb.FLOAT),
                pb.KeyDef(id=2, name="sample/text", type=pb.TEXT),
            ]
        ),
    )


def media(cs: int, run_dir: str, step: int, caption: str = "") -> pb.Record:
    path = f"media/text/t{step}.txt"
    target = Path(run_dir) / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"text at step {step}")
    return pb.Record(
        client_seq=cs, media=pb.MediaRefs(items=[pb.MediaRef(key_id=2, step=step, path=path, caption=caption)])
    )


def test_media_stuck_on_5xx_does_not_hold_up_scalars_then_goes_up(upload_daemon, cloud):
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud)
    stuck = cloud.add_fault(FaultKind.STATUS, "/api/resources/presigned/put", status=503)
    stream(stub, run.run_id, 1, [[defs(1)], [media(2, run.run_dir, 0, "first")], [scalars(3, 0, {1: 0.5})]])
    wait_for(lambda: 0 in points(cloud, run.run_id, "loss"), 20, "the scalar, while media fails")
    assert cloud.store.metrics(run.run_id, "media") == {} and stuck.fired >= 1
    cloud.remove_fault(stuck)
    finish(stub, run.run_id, 1, 3)
    assert wait_for(lambda: finished(cloud, run.run_id), 30, "final state") == "FINISHED"
    stored = cloud.store.metrics(run.run_id, "media")["sample/text"][0]
    assert stored["data"] == ["media/text/t0.txt"] and stored["more"] == [{"caption": "first"}]
    assert cloud.store.objects(run.run_id)["media/text/t0.txt"] == b"text at step 0"
    assert cloud.store.columns(cloud.project("alice", "proj")["cuid"])["sample/text"]["type"] == "TEXT"
    assert cloud.duplicate_count() == 0


def test_a_rejected_batch_is_recorded_and_shown_and_the_rest_goes_on(upload_daemon, cloud):
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud)
    reject = cloud.add_fault(FaultKind.STATUS, "/api/house/metrics", status=400, count=1)
    stream(stub, run.run_id, 1, [[defs(1)], [scalars(2, 0, {1: 0.5})]])
    wait_for(lambda: reject.fired == 1, 20, "the 400")
    stream(stub, run.run_id, 1, [[scalars(3, 1, {1: 0.25})], [media(4, run.run_dir, 1)]])
    (Path(run.run_dir) / "media/text/t1.txt").unlink()  # a media file that vanished: recorded too
    finish(stub, run.run_id, 1, 4)
    assert wait_for(lambda: finished(cloud, run.run_id), 30, "final state") == "FINISHED"
    assert sorted(points(cloud, run.run_id, "loss")) == [1]  # step 0 was refused by the server
    ls = json.loads(upload_daemon.ctl("ls", "--json").stdout)
    (summary,) = [r for r in ls["runs"] if r["run_id"] == run.run_id]
    assert "HTTP 400" in summary["last_error"] or "FileNotFoundError" in summary["last_error"], summary
    state = wait_for(lambda: complete_upload_state(run.run_dir), 30, "the complete upload's upload-state.json")
    reasons = [(r["lane"], r["status"], r["code"]) for r in state["rejected"]]
    assert ("scalar2", 400, "503") not in reasons  # the server's own code is kept, not invented
    assert any(status == 400 for _, status, _ in reasons) and any(code == "FileNotFoundError" for *_, code in reasons)
    assert "api_key" not in json.dumps(state) and "fwd-test-key" not in json.dumps(state)


def test_a_413_halves_the_batch_and_loses_nothing(upload_daemon, cloud):
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud)
    too_big = cloud.add_fault(FaultKind.STATUS, "/api/house/metrics", status=413, count=2)
    stream(
        stub,
        run.run_id,
        1,
        [
            [defs(1)],
            [
                pb.Record(
                    client_seq=2,
                    scalars=pb.ScalarRows(
                        steps=list(range(500)),
                        row_sizes=[1] * 500,
                        key_ids=[1] * 500,
                        values=[float(s) for s in range(500)],
                    ),
                )
            ],
        ],
    )
    finish(stub, run.run_id, 1, 2)
    assert wait_for(lambda: finished(cloud, run.run_id), 30, "final state") == "FINISHED"
    assert too_big.fired == 2
    assert sorted(points(cloud, run.run_id, "loss")) == list(range(500))
    state = wait_for(lambda: complete_upload_state(run.run_dir), 30, "the complete upload's upload-state.json")
    assert state["rejected"] == [] and cloud.duplicate_count() == 0


def test_saved_files_go_up_and_a_missing_one_is_recorded(upload_daemon, cloud):
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud)
    (Path(run.run_dir) / "files").mkdir(exist_ok=True)
    (Path(run.run_dir) / "files" / "notes.txt").write_text("saved with swanlab.save()")
    stream(
        stub,
        run.run_id,
        1,
        [
            [pb.Record(client_seq=1, file=pb.SavedFile(path="files/notes.txt", size=25))],
            [pb.Record(client_seq=2, file=pb.SavedFile(path="files/gone.bin", size=3))],
        ],
    )
    finish(stub, run.run_id, 1, 2)
    assert wait_for(lambda: finished(cloud, run.run_id), 30, "final state") == "FINISHED"
    assert cloud.store.objects(run.run_id)["files/notes.txt"] == b"saved with swanlab.save()"
    state = wait_for(lambda: complete_upload_state(run.run_dir), 30, "the complete upload's upload-state.json")
    assert [(r["lane"], r["code"]) for r in state["rejected"]] == [("files", "FileNotFoundError")]
    assert cloud.errors() == []
