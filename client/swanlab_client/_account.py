"""login() and sync(): the two calls that concern the cloud rather than the current run.

Both stay thin: credentials are resolved and stored by swanlabd.credentials (exactly as the
official SDK does: SWANLAB_API_KEY / SWANLAB_API_HOST / SWANLAB_WEB_HOST, ~/.swanlab/.netrc),
and uploading is the daemon's forwarder's job (`Sync` RPC), so there is one upload path.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from swanlab_client._errors import LoginRequiredError
from swanlab_client._settings import Settings


def login(
    api_key: str | None = None,
    relogin: bool = False,
    host: str | None = None,
    web_host: str | None = None,
    save: bool = True,
) -> None:
    """Store the API key for later runs (same arguments as the official `swanlab.login`).

    With no api_key: the environment or the netrc is used; failing that (or with relogin=True)
    the key is asked for on the terminal. save=True writes ~/.swanlab/.netrc (mode 0600);
    save=False keeps the key for this process only (SWANLAB_API_KEY for the runs it starts).
    The key is checked by the daemon when it uploads; a bad key shows in `swanlabctl status`.
    """
    import os

    from swanlabd import credentials

    creds = credentials.resolve(api_key, host, web_host)
    key = api_key or (None if relogin else creds.api_key)
    if not key:
        if not sys.stdin.isatty():
            raise LoginRequiredError("login(): no API key given, none in SWANLAB_API_KEY or the netrc, and no terminal to ask on")
        import getpass

        key = getpass.getpass(f"SwanLab API key for {creds.web_host}: ").strip()
        if not key:
            raise LoginRequiredError("login(): no API key entered")
    if save:
        credentials.save_login(key, creds.api_host, creds.web_host)
    else:
        os.environ["SWANLAB_API_KEY"] = key
        os.environ["SWANLAB_API_HOST"] = creds.api_host
        os.environ["SWANLAB_WEB_HOST"] = creds.web_host


def sync(
    dir_path: str | Path | Sequence[str | Path] | None = None,
    *,
    run_ids: Sequence[str] = (),
    api_key: str | None = None,
    host: str | None = None,
    web_host: str | None = None,
    workspace: str | None = None,
    project: str | None = None,
    wait: bool = True,
) -> None:
    """Upload offline runs through the daemon: run folders (dir_path) and/or known run ids.

    The daemon adopts folders copied from elsewhere, turns forwarding on for the runs and, with
    wait=True, streams progress until they are uploaded (printed to stderr). Uploading the same
    run again sends nothing twice and creates no second experiment.
    """
    from swanlab_client._errors import map_rpc_errors
    from swanlab_client._transport import GrpcTransport
    from swanlabd import credentials
    from swanlabd_pb import service_pb2 as svc

    paths = [] if dir_path is None else [dir_path] if isinstance(dir_path, (str, Path)) else list(dir_path)
    creds = credentials.resolve(api_key, host, web_host)
    if not creds.api_key:
        raise LoginRequiredError("sync() needs an API key: login() first or set SWANLAB_API_KEY")
    request = svc.SyncRequest(
        run_ids=list(run_ids),
        paths=[str(Path(p).resolve()) for p in paths],
        cloud=svc.Cloud(api_host=creds.api_host, web_host=creds.web_host, api_key=creds.api_key),
        project=project or "",
        workspace=workspace or "",
        wait=wait,
    )
    settings = Settings()
    from swanlab_client._spawn import start_daemon

    if settings.autostart:
        start_daemon(settings.socket, settings.data_root, settings.spawn_timeout_s)
    transport = GrpcTransport(settings.socket, connect_timeout_s=settings.connect_timeout_s, ack_timeout_s=settings.ack_timeout_s)
    try:
        with map_rpc_errors("Sync"):
            for progress in transport.sync(request):
                done = "done" if progress.done else f"{progress.records_done}/{progress.records_total} records"
                print(f"swanlab_client sync: {progress.run_id}: {done} {progress.error}".rstrip(), file=sys.stderr)
    finally:
        transport.close()
