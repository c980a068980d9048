"""A completed upload leaves nothing behind in the `Uploader`: no RunUploader, session, task, key
table or HTTP client per run, however many runs it has uploaded (objects counted, not RSS)."""

from __future__ import annotations

import asyncio
import gc

import httpx
from inprocess_uploader import Harness, until

from swanlab_testcloud import CloudServer
from swanlabd.upload.batches import KeyTable
from swanlabd.upload.cloudapi import CloudAPI
from swanlabd.upload.registry import Uploader
from swanlabd.upload.uploader import RunUploader
from swanlabd.upload.uploadstate import UploadState

RUNS = 30


def kept(uploader: Uploader) -> dict[str, int]:
    """How many of each per-run thing the uploader holds (for classes: live objects in the process)."""
    gc.collect()
    objects = gc.get_objects()

    def alive(cls: type) -> int:
        return sum(1 for o in objects if isinstance(o, cls))

    return {
        "uploaders": len(uploader._uploaders),
        "host clients": len(uploader.hosts._clients),
        "host gates": len(uploader.hosts._gates),
        "tasks": sum(1 for t in asyncio.all_tasks() if t.get_name().startswith("fwd-")),
        "RunUploader": alive(RunUploader),
        "CloudAPI": alive(CloudAPI),
        "UploadState": alive(UploadState),
        "KeyTable": alive(KeyTable),
        "httpx.AsyncClient": alive(httpx.AsyncClient),
    }


def test_completed_runs_leave_nothing_behind_in_the_uploader(cloud: CloudServer) -> None:
    ids = [f"done{i:03d}" for i in range(RUNS)]
    with Harness(cloud) as h:
        sizes = {run_id: (h.add_run(run_id) / "backup.swanlab").stat().st_size for run_id in ids}

        async def check(h: Harness) -> None:
            before = kept(h.uploader)  # what other tests of this process left is not ours
            for run_id in ids:
                h.uploader.enable(run_id)
            await until(lambda: all(h.state.get_upload_on(r) is None for r in ids), 60, "every upload complete")
            assert all(h.finished(r) for r in ids)
            left = {what: n - before[what] for what, n in kept(h.uploader).items() if n != before[what]}
            assert left == {}
            # What status, ls and sync show of a completed run now comes from its stored upload state.
            for run_id in ids:
                assert h.uploader.upload_info(run_id)[:2] == (sizes[run_id], False)
                assert h.uploader.progress(run_id, sizes[run_id]).done
            assert h.uploader.queued_runs() == []

        asyncio.run(h.serve(check))
    assert cloud.duplicate_count() == 0 and cloud.errors() == []
