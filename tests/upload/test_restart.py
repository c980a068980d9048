"""The uploader in-process (no daemon): a restart between "every lane at the end" and "final
state accepted" still sends the final state, once, and nothing else again."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

from uploading import API_KEY

from swanlab_testcloud import FaultKind
from swanlabd.format import backup
from swanlabd.service.config import DaemonConfig
from swanlabd.storage.state import RunInfo, State
from swanlabd.upload.registry import Uploader
from swanlabd_pb import records_pb2 as pb

RUN_ID = "restart1"


def write_run(root: Path) -> Path:
    run_dir = root / "runs" / f"run-20260101_000000-{RUN_ID}"
    run_dir.mkdir(parents=True)
    now = int(time.time() * 1000)
    with backup.BackupWriter.create(run_dir / backup.BACKUP_FILENAME, RUN_ID) as writer:
        writer.append(
            [
                pb.Record(
                    time_ms=now,
                    run_start=pb.RunStart(run_id=RUN_ID, project="p", experiment_name="e", start_time_ms=now),
                ),
                pb.Record(time_ms=now, config=pb.Config(json=json.dumps({"lr": 0.1, "bs": 8}))),
                pb.Record(
                    time_ms=now,
                    writer=1,
                    client_seq=1,
                    keys=pb.KeyDefs(keys=[pb.KeyDef(id=0, name="x", type=pb.FLOAT)]),
                ),
                pb.Record(
                    time_ms=now,
                    writer=1,
                    client_seq=2,
                    scalars=pb.ScalarRows(
                        steps=list(range(50)),
                        row_sizes=[1] * 50,
                        key_ids=[0] * 50,
                        values=[float(i) for i in range(50)],
                    ),
                ),
                pb.Record(time_ms=now, writer=1, finish=pb.Finish(state=pb.CRASHED, finish_time_ms=now)),
            ]
        )
    return run_dir


async def upload_until(fwd: Uploader, done, timeout: float = 30) -> None:
    task = asyncio.create_task(fwd.run())
    deadline = time.monotonic() + timeout
    try:
        while not done():
            assert time.monotonic() < deadline, "not within the time"
            await asyncio.sleep(0.05)
    finally:
        await fwd.shutdown()
        await task


def test_final_state_is_sent_after_a_restart_at_the_end(cloud):
    root = Path(tempfile.mkdtemp(prefix="sdr-", dir="/tmp"))
    run_dir = write_run(root)
    state = State(root / "state")
    try:
        state.put_run(RunInfo(run_id=RUN_ID, run_dir=str(run_dir), mode="MODE_OFFLINE", state="CRASHED"))
        state.put_cloud(RUN_ID, {"api_host": cloud.url, "web_host": cloud.url, "api_key": API_KEY})
        config = DaemonConfig(data_root=root, socket=root / "s.sock")
        refuse = cloud.add_fault(FaultKind.STATUS, "/api/project/alice/p/runs/restart1/state", status=503)
        first = Uploader(config, state)

        async def go_first() -> None:  # enable() starts a task: it needs the running loop
            first.enable(RUN_ID)
            await upload_until(first, lambda: refuse.fired >= 1)

        asyncio.run(go_first())
        assert cloud.store.experiment(RUN_ID)["state"] == "RUNNING"
        cloud.remove_fault(refuse)
        metric_calls = sum(1 for r in cloud.requests() if r["path"] == "/api/house/metrics")
        second = Uploader(config, state)
        asyncio.run(upload_until(second, lambda: RUN_ID not in second.queued_runs()))
        experiment = cloud.store.experiment(RUN_ID)
        assert (experiment["state"], experiment["state_calls"]) == ("CRASHED", 1)
        assert sum(1 for r in cloud.requests() if r["path"] == "/api/house/metrics") == metric_calls
        assert sorted(cloud.store.metrics(RUN_ID)["x"]) == list(range(50)) and cloud.duplicate_count() == 0
        assert cloud.store.profile(RUN_ID)["config"] == {
            "lr": {"value": 0.1, "desc": "", "sort": 0},
            "bs": {"value": 8, "desc": "", "sort": 1},
        }
    finally:
        state.close()
        shutil.rmtree(root, ignore_errors=True)
