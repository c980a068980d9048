"""A uploader in the test's own process, over a real state DB and real run folders.

For tests that look inside the uploader (what it keeps after runs complete, a bug injected
into one of its tasks) and so cannot use a daemon process:

    with Harness(cloud) as h:
        run_id = h.add_run(rows=10)
        asyncio.run(h.serve(check))   # check(h) is async; the uploader runs meanwhile
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from uploading import API_KEY

from swanlab_testcloud import CloudServer
from swanlabd.format import backup
from swanlabd.format.runstate import Mode, RunState
from swanlabd.storage.state import RunInfo, State
from swanlabd.upload.registry import Uploader
from swanlabd.upload.retry import RetryPolicy
from swanlabd.upload.tuning import Tuning
from swanlabd_pb import records_pb2 as pb

# Short waits: a failed attempt is tried again within a fraction of a second.
FAST = Tuning(retry=RetryPolicy(base_s=0.02, cap_s=0.1, blocked_cap_s=0.2), poll_s=0.2, linger_s=0.0)


@dataclass(frozen=True)
class _Config:
    upload: bool = False


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """tests/helpers/waiting.py's wait_for for a coroutine: the event loop runs while it waits."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.02)


class Harness:
    """A state DB, run folders and a Uploader (made inside `serve`, on its loop) aimed at `cloud`."""

    def __init__(self, cloud: CloudServer, tuning: Tuning = FAST) -> None:
        self.cloud = cloud
        self.tuning = tuning
        self.root = Path(tempfile.mkdtemp(prefix="sd-fwd-", dir="/tmp"))
        self.state = State(self.root / "state")
        self._uploader: Uploader | None = None

    @property
    def uploader(self) -> Uploader:
        assert self._uploader is not None, "only inside serve()"
        return self._uploader

    def add_run(self, run_id: str, *, rows: int = 3, config: str = "{}", lines: int = 2, running: bool = False) -> Path:
        """A cloud run's folder and state DB entry: RunStart, config, `rows` scalar rows, console lines, Finish.

        `running`: its entry still says RUNNING (its upload waits for `Uploader.ended`).
        """
        run_dir = self.root / "runs" / run_id
        run_dir.mkdir(parents=True)
        now = int(time.time() * 1000)
        start = pb.RunStart(run_id=run_id, project="inproc", experiment_name=run_id, mode=pb.MODE_CLOUD)
        start.start_time_ms = now
        steps = list(range(rows))
        records = [
            pb.Record(time_ms=now, run_start=start),
            pb.Record(time_ms=now, config=pb.Config(json=config)),
            pb.Record(time_ms=now, writer=1, keys=pb.KeyDefs(keys=[pb.KeyDef(id=1, name="loss", type=pb.FLOAT)])),
            pb.Record(
                time_ms=now,
                writer=1,
                scalars=pb.ScalarRows(steps=steps, row_sizes=[1] * rows, key_ids=[1] * rows, values=steps),
            ),
            pb.Record(
                time_ms=now,
                writer=1,
                console=pb.ConsoleLines(lines=[pb.ConsoleLine(line_no=i + 1, text=f"line {i}") for i in range(lines)]),
            ),
            pb.Record(time_ms=now, finish=pb.Finish(state=pb.FINISHED, finish_time_ms=now)),
        ]
        with backup.BackupWriter.create(run_dir / backup.BACKUP_FILENAME, run_id) as writer:
            writer.append(records)
            writer.sync()
        self.state.put_run(
            RunInfo(
                run_id=run_id,
                run_dir=str(run_dir),
                mode=Mode.CLOUD,
                state=RunState.RUNNING if running else RunState.FINISHED,
                created_ms=now,
            )
        )
        self.state.put_cloud(run_id, {"api_host": self.cloud.url, "web_host": self.cloud.url, "api_key": API_KEY})
        return run_dir

    def finished(self, run_id: str) -> bool:
        experiment = self.cloud.store.experiment(run_id)
        return experiment is not None and experiment["state"] == "FINISHED"

    async def serve(self, check: Callable[[Harness], Awaitable[None]]) -> None:
        """Run a Uploader while `check(self)` runs; shut it down after, whatever happened."""
        self._uploader = Uploader(_Config(), self.state, tuning=self.tuning)
        task = asyncio.create_task(self._uploader.run())
        try:
            await check(self)
        finally:
            await self._uploader.shutdown()
            await task

    def close(self) -> None:
        self.state.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
