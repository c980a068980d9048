"""No upload task dies silently: a bug anywhere in a run's upload (setup, a lane, the heartbeat,
the state DB under it) is logged with its traceback, shown as the run's upload error, makes
`sync` stop waiting and say why, and is tried again until it goes away; then the run completes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from inprocess_uploader import Harness, until

from swanlab_testcloud import CloudServer
from swanlabd.storage.state import State
from swanlabd.upload import batches, uploadstate
from swanlabd.upload.cloudapi import CloudAPI
from swanlabd.upload.uploader import RunUploader
from swanlabd_pb import service_pb2 as svc

ROWS = 5


class Bug:
    """Wraps a function so that it raises while `on` (a bug the uploader never expected)."""

    def __init__(self, where: str) -> None:
        self.message = f"injected bug in {where}"
        self.on = True
        self.hits = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def buggy(*args: Any, **kwargs: Any) -> Any:
            if self.on:
                self.hits += 1
                raise RuntimeError(self.message)
            return fn(*args, **kwargs)

        return buggy


def logged(caplog: pytest.LogCaptureFixture, bug: Bug) -> list[logging.LogRecord]:
    """The log records that carry the bug's traceback."""
    return [r for r in caplog.records if r.exc_info and bug.message in str(r.exc_info[1])]


# (where, owner, attribute, whether `sync` stops waiting for it: the heartbeat does not hold up an upload)
PLACES = [
    ("setup", RunUploader, "_read_run_start", True),
    ("profile lane", batches, "profile_batch", True),
    ("console lane", batches, "console_batch", True),
    ("state DB", State, "put_upload_state", True),
    ("heartbeat", CloudAPI, "heartbeat", False),
]


@pytest.mark.parametrize(("where", "owner", "name", "blocks"), PLACES, ids=[p[0] for p in PLACES])
def test_a_bug_in_an_upload_task_is_logged_shown_and_retried(
    cloud: CloudServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    where: str,
    owner: Any,
    name: str,
    blocks: bool,
) -> None:
    caplog.set_level(logging.INFO, logger="swanlabd")
    bug = Bug(where)
    monkeypatch.setattr(owner, name, bug.wrap(getattr(owner, name)))
    with Harness(cloud) as h:
        size = (h.add_run("r1", rows=ROWS, running=True) / "backup.swanlab").stat().st_size

        async def check(h: Harness) -> None:
            fwd = h.uploader
            fwd.enable("r1")
            await until(lambda: bug.message in fwd.upload_info("r1")[3], 20, f"the bug in {where} shown")
            hits = bug.hits
            await until(lambda: bug.hits > hits, 20, "tried again")
            if blocks:
                # `swanlabctl sync` stops waiting for a run only a fix can help, and says why.
                last = None
                async for progress in fwd.sync(svc.SyncRequest(wait=True), ["r1"]):
                    last = progress
                assert last is not None and not last.done and bug.message in last.error
            bug.on = False
            await until(lambda: not fwd.upload_info("r1")[3], 20, "the error gone with the bug")
            fwd.ended("r1")
            await until(lambda: h.state.get_upload_on("r1") is None, 20, "upload complete once the bug is gone")
            assert fwd.upload_info("r1") == (size, False, f"{cloud.url}/@alice/inproc/runs/r1/chart", "")

        asyncio.run(h.serve(check))
        assert h.finished("r1")
    assert sorted(cloud.store.metrics("r1", "scalar")["loss"]) == list(range(ROWS))
    assert cloud.store.experiment("r1")["heartbeats"] >= 1
    assert cloud.duplicate_count() == 0 and cloud.errors() == []
    tracebacks = logged(caplog, bug)
    assert tracebacks, f"no traceback of the bug in the log: {[r.getMessage() for r in caplog.records]}"
    assert all(r.levelno == logging.ERROR and "r1" in r.getMessage() for r in tracebacks)


# (where, owner, attribute): an uploader that cannot be made; an upload that ends on a bug past
# all of its retries (switching the run off in the state DB).
STOPS = [
    ("start", uploadstate, "load"),
    ("end", State, "delete_upload_on"),
]


@pytest.mark.parametrize(("where", "owner", "name"), STOPS, ids=[p[0] for p in STOPS])
def test_a_run_whose_upload_cannot_go_on_costs_that_run_only(
    cloud: CloudServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    where: str,
    owner: Any,
    name: str,
) -> None:
    bug = Bug(where)
    real, buggy = getattr(owner, name), bug.wrap(getattr(owner, name))
    # Only the run "bad" meets the bug (both functions take the run id).
    monkeypatch.setattr(owner, name, lambda *args: buggy(*args) if "bad" in args else real(*args))
    with Harness(cloud) as h:
        for run_id in ("good", "bad"):
            h.add_run(run_id, rows=ROWS)
            h.state.put_upload_on(run_id, {})  # on when the daemon stopped: the uploader starts it

        async def check(h: Harness) -> None:
            fwd = h.uploader
            await until(lambda: logged(caplog, bug), 20, f"the bug at {where} logged")
            assert "internal error" in fwd.upload_info("bad")[3] and fwd.upload_info("bad")[1]
            progress = [p async for p in fwd.sync(svc.SyncRequest(wait=True), ["bad"])]
            assert "internal error" in progress[-1].error
            await until(lambda: h.state.get_upload_on("good") is None, 20, "good uploaded meanwhile")
            bug.on = False
            fwd.enable("bad")  # what `swanlabctl sync` does: try again
            await until(lambda: h.state.get_upload_on("bad") is None, 20, "bad uploaded once the bug is gone")
            assert fwd.upload_info("bad")[1:] == (False, f"{cloud.url}/@alice/inproc/runs/bad/chart", "")

        asyncio.run(h.serve(check))
        assert h.finished("good") and h.finished("bad")
    assert cloud.duplicate_count() == 0 and cloud.errors() == []
    assert all(r.levelno == logging.ERROR and "bad" in r.getMessage() for r in logged(caplog, bug))
