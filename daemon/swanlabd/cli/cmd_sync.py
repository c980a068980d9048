"""`swanlabctl sync` and `swanlabctl login`: push queued runs to the SwanLab cloud, store a key.

    swanlabctl sync                  flush every queued run (cloud runs with a backlog, offline runs)
    swanlabctl sync PATH|RUN_ID...   adopt run folders (copied from another host) / name runs
    swanlabctl login [--host H]      check the key against the server, write ~/.swanlab/.netrc

`sync` starts a daemon if none answers, hands the runs to its forwarder (the one upload path:
docs/forwarder.md) with the caller's credentials (SWANLAB_API_KEY / SWANLAB_API_HOST /
~/.swanlab/.netrc, or --api-key/--host), and shows one progress line per run: records, bytes,
rate. It exits 0 once every run is on the server, 1 naming each run that is not and why (a
missing or wrong key, a refused project, data the server rejected, --timeout). Killing it
loses nothing: the daemon keeps uploading, and the next `sync` resumes from its cursors.

The progress display is rich's (`rich.progress`), imported only here: a maintained library
that renders several live bars with transfer rates and falls back to plain lines off a TTY.
No output ever contains the API key.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swanlabd.local import credentials

EXIT_OK = 0
EXIT_NOT_UPLOADED = 1
EXIT_USAGE = 2
DAEMON_START_TIMEOUT_S = 20.0
LOGIN_TIMEOUT_S = 10.0
BACKUP_FILENAME = "backup.swanlab"


class SyncError(RuntimeError):
    """The daemon could not be reached or started, or refused the request."""


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


def register(subparsers: argparse._SubParsersAction) -> None:
    sync = subparsers.add_parser("sync", help="upload queued runs (or copied run folders) to the SwanLab cloud")
    sync.add_argument(
        "targets", nargs="*", metavar="PATH|RUN_ID", help="run folders to adopt, or run ids; none: every queued run"
    )
    sync.add_argument("--project", default="", help="upload into this project instead of the run's")
    sync.add_argument(
        "--workspace", default="", help="upload into this workspace instead of the run's (default: your user)"
    )
    sync.add_argument(
        "--api-key",
        default=None,
        help="API key for runs recorded offline (default: SWANLAB_API_KEY, ~/.swanlab/.netrc)",
    )
    sync.add_argument(
        "--host", default=None, help="SwanLab API host for runs recorded offline (default: SWANLAB_API_HOST)"
    )
    sync.add_argument("--no-wait", action="store_true", help="queue the runs and return at once")
    sync.add_argument(
        "--timeout", type=float, default=None, help="give up waiting after this many seconds (uploads go on)"
    )
    sync.add_argument(
        "--socket", type=Path, default=None, help="daemon socket (default: $SWANLABD_SOCKET or the per-user path)"
    )
    sync.set_defaults(func=sync_command)

    login = subparsers.add_parser("login", help="check an API key against the server and save it to ~/.swanlab/.netrc")
    login.add_argument("--api-key", default=None, help="the key (default: prompt, or read one line from stdin)")
    login.add_argument("--host", default=None, help="SwanLab API host (default: SWANLAB_API_HOST or the public cloud)")
    login.add_argument("--web-host", default=None, help="SwanLab web host (default: derived from the API host)")
    login.add_argument("--local", action="store_true", help="write ./.swanlab/.netrc (project level) instead")
    login.set_defaults(func=login_command)


# -- login ---------------------------------------------------------------------------------


def verify_key(creds: credentials.Credentials, timeout: float = LOGIN_TIMEOUT_S) -> str:
    """POST /api/login/api_key; returns the username. Raises credentials.LoginFailed."""
    import httpx

    from swanlabd.upload.cloudapi import SDK_PROTOCOL_VERSION

    assert creds.api_key is not None
    try:
        response = httpx.post(
            f"{creds.api_host}/api/login/api_key",
            headers={"authorization": creds.api_key, "X-SwanLab-SDK-Version": SDK_PROTOCOL_VERSION},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise credentials.LoginFailed(f"cannot reach {creds.api_host}: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise credentials.LoginFailed(f"{creds.api_host} refused the API key (HTTP {response.status_code})")
    if response.status_code >= 400:
        raise credentials.LoginFailed(f"{creds.api_host} answered HTTP {response.status_code} to the login")
    try:
        return str(response.json()["userInfo"]["username"])
    except (ValueError, KeyError, TypeError):
        raise credentials.LoginFailed(f"{creds.api_host} gave an unexpected login answer") from None


def login_command(args: argparse.Namespace) -> int:
    key = args.api_key
    if not key:
        if sys.stdin.isatty():
            key = getpass.getpass("SwanLab API key (input hidden): ")
        else:
            key = sys.stdin.readline()
        key = key.strip()
    if not key:
        print("swanlabctl login: no API key given", file=sys.stderr)
        return EXIT_USAGE
    try:
        creds = credentials.resolve(api_key=key, api_host=args.host, web_host=args.web_host)
        username = verify_key(creds)
        path = credentials.save_login(
            key, creds.api_host, creds.web_host, path=credentials.netrc_path(local=args.local)
        )
    except credentials.CredentialsError as exc:
        print(f"swanlabctl login: {exc}", file=sys.stderr)
        return EXIT_NOT_UPLOADED
    print(f"Logged in to {creds.api_host} as {username}; credentials saved to {path}")
    return EXIT_OK


# -- sync ----------------------------------------------------------------------------------


def sync_command(args: argparse.Namespace) -> int:
    paths, run_ids = [], []
    for target in args.targets:
        candidate = Path(target)
        if candidate.is_dir():
            if not (candidate / BACKUP_FILENAME).is_file():
                print(f"swanlabctl sync: {target} is not a run folder (no {BACKUP_FILENAME})", file=sys.stderr)
                return EXIT_USAGE
            paths.append(str(candidate.resolve()))
        else:
            run_ids.append(target)
    try:
        creds = credentials.resolve(api_key=args.api_key, api_host=args.host)
        results = sync_runs(
            paths=paths,
            run_ids=run_ids,
            creds=creds,
            project=args.project,
            workspace=args.workspace,
            wait=not args.no_wait,
            timeout=args.timeout,
            socket=args.socket,
            display=True,
        )
    except SyncError as exc:
        print(f"swanlabctl sync: {exc}", file=sys.stderr)
        return EXIT_NOT_UPLOADED
    except KeyboardInterrupt:
        print("\nswanlabctl sync: stopped waiting; the daemon keeps uploading (run `swanlabctl sync` again to follow)")
        return EXIT_NOT_UPLOADED
    return report(results, waited=not args.no_wait)


def report(results: Iterable[RunProgress], *, waited: bool) -> int:
    results = list(results)
    if not results:
        print("Nothing to sync: every run is uploaded.")
        return EXIT_OK
    if not waited:
        print(f"Queued {len(results)} run(s) for upload; follow with `swanlabctl sync` or `swanlabctl ls`.")
        return EXIT_OK
    left = [r for r in results if not r.done or r.error]
    for r in results:
        if r.done and not r.error:
            print(f"{r.run_id}: uploaded ({r.records_total} records, {_bytes(r.bytes_total)})")
    for r in left:
        what = "uploaded with rejections" if r.done else f"not uploaded ({_bytes(r.bytes_total - r.bytes_done)} left)"
        print(f"{r.run_id}: {what}: {r.error or 'timed out waiting'}", file=sys.stderr)
    return EXIT_OK if not left else EXIT_NOT_UPLOADED


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
    display: bool = False,
) -> list[RunProgress]:
    """Hand runs to the daemon's forwarder and follow them until uploaded (or `timeout`).

    Returns the last progress of each run. Raises SyncError if no daemon answers and none can
    be started, or the daemon refuses the request (unknown run id, a folder it cannot adopt).
    """
    import grpc

    from swanlabd_pb import service_pb2, service_pb2_grpc

    socket = socket or _socket_path()
    ensure_daemon(socket)
    cloud = service_pb2.Cloud()
    if creds is not None and creds.api_key:
        cloud = service_pb2.Cloud(api_host=creds.api_host, web_host=creds.web_host, api_key=creds.api_key)
    request = service_pb2.SyncRequest(
        run_ids=list(run_ids), paths=list(paths), cloud=cloud, project=project, workspace=workspace, wait=wait
    )
    progress: dict[str, RunProgress] = {}
    view: _View | None = None
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        stub = service_pb2_grpc.SwanlabdStub(channel)
        call = stub.Sync(request, timeout=timeout)
        try:
            for msg in call:
                p = progress.setdefault(msg.run_id, RunProgress(msg.run_id))
                p.records_done, p.records_total = msg.records_done, msg.records_total
                p.bytes_done, p.bytes_total, p.done, p.error = msg.bytes_done, msg.bytes_total, msg.done, msg.error
                if display and wait:
                    view = view or _View()
                    view.update(p)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise SyncError(f"the daemon refused the sync: {exc.code().name}: {exc.details()}") from None
        finally:
            if view is not None:
                view.close()
    return list(progress.values())


class _View:
    """One rich progress bar per run: records, bytes, rate; plain lines off a terminal."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[records]}"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.progress.start()

    def update(self, p: RunProgress) -> None:
        fields = {"records": f"{p.records_done}/{p.records_total} records", "note": p.error[:80]}
        if p.run_id not in self.tasks:
            self.tasks[p.run_id] = self.progress.add_task(p.run_id, total=max(p.bytes_total, 1), **fields)
        self.progress.update(self.tasks[p.run_id], completed=p.bytes_done, total=max(p.bytes_total, 1), **fields)

    def close(self) -> None:
        self.progress.stop()


def _bytes(n: int) -> str:
    size = float(max(0, n))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


# -- the daemon ----------------------------------------------------------------------------


def _socket_path() -> Path:
    from swanlabd.local import paths

    return paths.default_socket_path()


def ensure_daemon(socket_path: Path, timeout: float = DAEMON_START_TIMEOUT_S) -> None:
    """Start `python -m swanlabd run` detached if nothing accepts on the socket; wait for it."""
    from swanlabd.local import paths, spawn

    if not spawn.start_daemon(socket_path, paths.default_data_root(), timeout):
        raise SyncError(f"no daemon answers on {socket_path} and none started within {timeout:.0f}s")
