"""Asking the daemon to upload runs, from another process: its Sync RPC, with progress.

`swanlabctl sync` (cli/cmd_sync.py, which draws the progress bars) and the client's `sync()`
both come here, so a sync is asked for one way. Each starts a daemon if none answers
(local/spawn.py), hands it the runs with the caller's credentials and follows the progress the
daemon streams back until every run is uploaded, or `timeout`. The upload itself is the
daemon's (docs/upload.md): stopping the caller loses nothing. Light to import: grpc loads in
`sync_runs`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from swanlabd.local import credentials, spawn
from swanlabd.local.paths import UntrustedSocket, check_socket, default_data_root, default_socket_path

DAEMON_START_TIMEOUT_S = 20.0


class ControlError(RuntimeError):
    """No daemon answers and none could be started, or the daemon refused the request."""


@dataclass
class RunProgress:
    """The last progress the daemon reported for one run."""

    run_id: str
    records_done: int = 0
    records_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    done: bool = False
    error: str = ""
    conversion: Conversion | None = None


@dataclass
class Conversion:
    """What the daemon converted for a run of another tool (`swanlabctl sync` of it: docs/sync.md)."""

    source_kind: str
    source_path: str
    records: int
    points: int
    losses: list[str]
    unknown: dict[str, int]


def ensure_daemon(socket: Path, timeout: float = DAEMON_START_TIMEOUT_S) -> None:
    """Start `python -m swanlabd run` detached if nothing accepts on the socket; wait for it.

    Then check that only this user can have made the socket (`check_socket`): the caller
    sends its API key there. Raises ControlError otherwise.
    """
    _check(socket)
    if not spawn.start_daemon(socket, default_data_root(), timeout):
        raise ControlError(f"no daemon answers on {socket} and none started within {timeout:.0f}s")
    _check(socket)


def _check(socket: Path) -> None:
    try:
        check_socket(socket)
    except FileNotFoundError:
        pass  # a daemon is yet to be started; checked again once it is
    except UntrustedSocket as exc:
        raise ControlError(f"not connecting: {exc}") from None


def sync_runs(
    *,
    paths: Sequence[str] = (),
    run_ids: Sequence[str] = (),
    creds: credentials.Credentials | None = None,
    project: str = "",
    workspace: str = "",
    wait: bool = True,
    timeout: float | None = None,
    socket: Path | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
) -> list[RunProgress]:
    """Hand runs to the daemon's uploader and follow them until uploaded (or `timeout`).

    `paths` are run folders to adopt (absolute), `run_ids` runs the daemon knows; neither: every
    queued run. `on_progress` sees each update as it comes. Returns the last progress of each
    run. Raises ControlError if no daemon answers and none can be started, or the daemon refuses
    the request (unknown run id, a folder it cannot adopt).
    """
    import grpc

    from swanlabd_pb import service_pb2, service_pb2_grpc

    socket = socket or default_socket_path()
    ensure_daemon(socket)
    cloud = service_pb2.Cloud()
    if creds is not None and creds.api_key:
        cloud = service_pb2.Cloud(api_host=creds.api_host, web_host=creds.web_host, api_key=creds.api_key)
    request = service_pb2.SyncRequest(
        run_ids=list(run_ids), paths=list(paths), cloud=cloud, project=project, workspace=workspace, wait=wait
    )
    progress: dict[str, RunProgress] = {}
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        stub = service_pb2_grpc.SwanlabdStub(channel)
        call = stub.Sync(request, timeout=timeout)
        try:
            for msg in call:
                p = progress.setdefault(msg.run_id, RunProgress(msg.run_id))
                if msg.HasField("conversion"):
                    c = msg.conversion
                    p.conversion = Conversion(
                        c.source_kind, c.source_path, c.records_converted, c.points, list(c.losses), dict(c.unknown)
                    )
                    continue
                p.records_done, p.records_total = msg.records_done, msg.records_total
                p.bytes_done, p.bytes_total, p.done, p.error = msg.bytes_done, msg.bytes_total, msg.done, msg.error
                if on_progress is not None:
                    on_progress(p)
        except grpc.RpcError as exc:
            # The deadline is the caller's `timeout`: it ends the wait, and the runs left say so.
            if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise ControlError(f"the daemon refused the sync: {exc.code().name}: {exc.details()}") from None
    return list(progress.values())
