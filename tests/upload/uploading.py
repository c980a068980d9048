"""Helpers shared by the uploader tests (a module of its own: `conftest` and `test_*` names
are not unique across the test folders, so tests import from here, never from each other)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.daemon import DaemonProcess
from helpers.rawclient import finish, keys, start_run, stream
from swanlab_testcloud import CloudServer
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

API_KEY = "fwd-test-key-0123456789"
USER = "alice"


def caller_env(d: DaemonProcess, cloud: CloudServer, home: Path | None = None) -> dict[str, str]:
    """The environment of a user running `swanlabctl sync` against `cloud`."""
    env = {**d.env, "SWANLAB_API_HOST": cloud.url, "SWANLAB_WEB_HOST": cloud.url, "SWANLAB_API_KEY": API_KEY}
    if home is not None:
        env["HOME"] = str(home)
    return env


def points(cloud: CloudServer, run_id: str, key: str) -> dict[int, Any]:
    experiment = cloud.store.experiment(run_id)
    if experiment is None:
        return {}
    return cloud.store.metrics(run_id, "scalar").get(key, {})


def complete_upload_state(run_dir: str) -> dict[str, Any] | None:
    """The run folder's upload-state.json once it says the upload is complete, else None.

    The file is written at most once a second while lanes work, and always when the upload
    completes: only then does it hold everything (the server's FINISHED comes just before).
    """
    try:
        state: dict[str, Any] = json.loads((Path(run_dir) / "upload-state.json").read_text())
    except FileNotFoundError:
        return None
    return state if state["complete"] else None


def finished(cloud: CloudServer, run_id: str) -> str | None:
    experiment = cloud.store.experiment(run_id)
    return experiment["state"] if experiment and experiment["state"] != "RUNNING" else None


# Generous: the usual "within 2 s" is measured and printed, the bound only catches a
# uploader that waits for the end of the run.
LIVE_BOUND_S = 10.0


def cloud_run(stub, cloud, **kw) -> svc.StartRunReply:
    return start_run(
        stub, mode=pb.MODE_CLOUD, cloud=svc.Cloud(api_host=cloud.url, web_host=cloud.url, api_key=API_KEY), **kw
    )


NAMES = {1: "loss", 2: "acc", 3: "lr", 4: "val/loss", 5: "val/acc"}


def batches(first_cs: int, first_step: int, rows: int, per_batch: int = 500) -> list[list[pb.Record]]:
    """Records of `per_batch` 5-key rows each (steps first_step..), one record per batch."""
    out = []
    cs = first_cs
    for start in range(first_step, first_step + rows, per_batch):
        steps = list(range(start, min(start + per_batch, first_step + rows)))
        out.append(
            [
                pb.Record(
                    client_seq=cs,
                    scalars=pb.ScalarRows(
                        steps=steps,
                        row_sizes=[len(NAMES)] * len(steps),
                        key_ids=list(NAMES) * len(steps),
                        values=[s + k / 10 for s in steps for k in NAMES],
                    ),
                )
            ]
        )
        cs += 1
    return out


def offline_run(d: DaemonProcess, rows: int) -> str:
    stub = d.stub()
    run = start_run(stub, project="offline-proj")
    data = batches(2, 0, rows)
    stream(stub, run.run_id, 1, [[keys(1, NAMES)], *data])
    stream(
        stub,
        run.run_id,
        1,
        [
            [
                pb.Record(
                    client_seq=len(data) + 2,
                    console=pb.ConsoleLines(
                        lines=[
                            pb.ConsoleLine(line_no=1, text="epoch 1 done"),
                            pb.ConsoleLine(line_no=2, text="oops", stream=pb.STDERR),
                        ]
                    ),
                )
            ]
        ],
    )
    finish(stub, run.run_id, 1, len(data) + 2)
    return run.run_id


def ctl_sync(d: DaemonProcess, cloud, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swanlabd.cli.swanlabctl", "sync", *args],
        env=caller_env(d, cloud, home=d.root),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def metric_calls(cloud) -> int:
    return sum(1 for r in cloud.requests() if r["path"] == "/api/house/metrics")


def assert_complete(cloud, run_id: str, rows: int) -> None:
    assert finished(cloud, run_id) == "FINISHED"
    for name in NAMES.values():
        assert sorted(points(cloud, run_id, name)) == list(range(rows)), name
    assert cloud.duplicate_count() == 0, cloud.store.duplicates()[:5]
    assert [e["cuid"] for e in cloud.experiments()] == [run_id]
