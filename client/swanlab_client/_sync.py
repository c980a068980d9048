"""`login()` and `sync()`, with the official SDK's signatures (swanlab 0.10.3 `swanlab.login`, `swanlab.sync`).

Light on purpose: importing this module costs nothing beyond the stdlib `swanlabd.local.credentials`;
httpx (the key check, `swanlabd.local.cloudlogin`) and grpc (the Sync RPC, `swanlabd.local.control`)
are imported inside the calls. `swanlabctl login` and `swanlabctl sync` use the same two modules.
The upload itself is the daemon's (docs/upload.md): `sync()` hands it the runs and follows
their progress. What those modules raise becomes LoginError or SyncError here, and nothing else
leaves these calls.
"""

from __future__ import annotations

from pathlib import Path

from swanlab_client._errors import AuthenticationError, LoginError, SyncError, SyncIncomplete
from swanlabd.local import credentials

__all__ = ["login", "sync"]


def login(
    api_key: str | None = None,
    relogin: bool = False,
    host: str | None = None,
    save: bool = False,
    timeout: int = 10,
) -> bool:
    """Check the API key against the server and use it for this process's runs.

    `api_key` None: the key already configured (SWANLAB_API_KEY or ~/.swanlab/.netrc) for that
    host. `save=True` also writes ~/.swanlab/.netrc (mode 0600) as `swanlab login` does.
    `relogin` is accepted for compatibility: every call checks the key again. The key is never
    printed or logged. Raises AuthenticationError if no key is found or the server refuses it
    (or cannot be asked), LoginError if the host is not usable or the key cannot be saved.
    """
    from swanlabd.local import cloudlogin

    del relogin
    try:
        creds = credentials.resolve(api_key=api_key, api_host=host)
    except credentials.CredentialsError as exc:
        raise LoginError(str(exc)) from exc
    if not creds.api_key:
        raise AuthenticationError("No API key provided and no stored API key found. Please provide an API key.")
    try:
        cloudlogin.verify_key(creds, timeout=timeout)
    except credentials.LoginFailed as exc:
        raise AuthenticationError(str(exc)) from exc
    if save:
        try:
            credentials.save_login(creds.api_key, creds.api_host, creds.web_host)
        except (credentials.CredentialsError, OSError) as exc:
            raise LoginError(f"the key is valid but cannot be saved: {exc}") from exc
    credentials.set_login(creds)
    return True


def sync(
    path: str | Path | list[str | Path] | None = None,
    *,
    api_key: str | None = None,
    host: str | None = None,
    workspace: str | None = None,
    project: str | None = None,
    wait: bool = True,
    timeout: float | None = None,
) -> list[str]:
    """Upload run folders (or, with no path, every queued run) through the local daemon.

    A folder copied from another host goes into the same cloud experiment as the original run
    (its run id is the experiment's cuid). Runs recorded offline upload with this caller's
    credentials (`api_key`/`host`, else SWANLAB_API_KEY/SWANLAB_API_HOST/netrc). Starts the
    daemon if none runs. Returns the run ids uploaded; raises SyncIncomplete naming the runs that
    are not (and why) when `wait` and something is left after `timeout`, SyncError if no daemon
    can be reached or started, or it refuses the request.
    """
    from swanlabd.local import control

    targets = [] if path is None else [path] if isinstance(path, (str, Path)) else list(path)
    try:
        paths = [str(Path(p).expanduser().resolve()) for p in targets]
        creds = credentials.resolve(api_key=api_key, api_host=host)
        results = control.sync_runs(
            paths=paths, creds=creds, project=project or "", workspace=workspace or "", wait=wait, timeout=timeout
        )
    except (control.ControlError, credentials.CredentialsError, OSError) as exc:
        raise SyncError(str(exc)) from exc
    if wait:
        left = {r.run_id: r.error or "timed out waiting" for r in results if not r.done or r.error}
        if left:
            raise SyncIncomplete(left)
    return [r.run_id for r in results]
