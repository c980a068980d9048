"""What the gRPC servicer asks of the daemon: the `RunService` protocol, one method per RPC.

The servicer (server.py) checks a request's shape, calls `RunService` and turns the result, or
the daemon exception, into the reply. Policy sits behind the protocol, in the service layer
(swanlabd/service/runservice.py): which credentials a run keeps, when uploading starts, which
folders a Sync adopts, when a batch is fsynced before its ack. So ingest never imports the
service layer, and a test can serve the RPCs over any implementation.

Every method runs on the daemon's event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from swanlabd.storage.activerun import ActiveRun
from swanlabd.storage.state import RunInfo
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2


@dataclass(frozen=True)
class Started:
    """What StartRun answers: the run, and the writer id the caller streams as."""

    run_id: str
    run_dir: str
    writer: int
    durable_client_seq: int
    next_step: int = 0  # a resumed run: where automatic steps continue (StartRunReply.next_step)


@dataclass(frozen=True)
class RunView:
    """A run as `swanlabctl status` and `ls` show it: its registry entry and its upload."""

    info: RunInfo
    uploaded_bytes: int = 0
    uploading: bool = False
    cloud_url: str = ""
    upload_error: str = ""

    @property
    def bytes_not_uploaded(self) -> int:
        return max(0, self.info.backup_bytes - self.uploaded_bytes)


@dataclass(frozen=True)
class DaemonStatus:
    """What Status answers besides the version and pid (the servicer's own)."""

    socket: str
    data_root: str
    started_ms: int
    active_runs: list[RunView]
    queued_bytes: int  # bytes of cloud runs not uploaded yet


class RunService(Protocol):
    """The daemon behind the RPCs. Raises `swanlabd.storage.errors` exceptions, nothing else on purpose."""

    async def start(self, request: service_pb2.StartRunRequest) -> Started:
        """StartRun: create, resume or attach to a run."""
        ...

    async def open_stream(self, run_id: str, writer: int) -> ActiveRun:
        """The first request of a Stream: the active run that writer `writer` appends to."""
        ...

    async def append(self, run: ActiveRun, writer: int, records: Sequence[pb.Record]) -> int:
        """Append a checked batch (validate.check_batch); return the writer's durable client_seq."""
        ...

    def stream_ended(self) -> None:
        """A Stream ended, cleanly or not (its client may have died)."""
        ...

    async def finish(self, run_id: str, writer: int, last_client_seq: int, finish: pb.Finish) -> int:
        """FinishRun; returns the writer's durable client_seq."""
        ...

    def status(self) -> DaemonStatus:
        """Status: the daemon and its active runs."""
        ...

    def list_runs(self) -> list[RunView]:
        """ListRuns: every known run, oldest first."""
        ...

    def sync(self, request: service_pb2.SyncRequest) -> AsyncIterator[service_pb2.SyncProgress]:
        """Sync: upload the named runs and folders (every queued run if none) and report progress."""
        ...
