"""login() and sync(): an offline run is uploaded later through the daemon, to the test cloud."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runner import TRAINER

from helpers.daemon import DaemonProcess
from swanlab_testcloud import CloudServer

KEY = "client-sync-key-0123456789"
USER = "syncer"


def test_offline_run_then_sync_uploads_it_once(tmp_path: Path):
    with CloudServer(tmp_path / "cloud.db", {KEY: USER}) as cloud:
        cloud_env = {"SWANLAB_API_HOST": cloud.url, "SWANLAB_WEB_HOST": cloud.url, "HOME": str(tmp_path)}
        with DaemonProcess(env={**cloud_env, "SWANLABD_UPLOAD": "true"}) as d:
            env = {k: v for k, v in d.env.items() if not k.startswith("SWANLAB_")} | cloud_env
            env |= {"SWANLABD_SOCKET": str(d.socket), "SWANLABD_DATA_ROOT": str(d.home)}
            out = subprocess.run(
                [sys.executable, str(TRAINER), "--rows", "50", "--project", "synced"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            run_id = json.loads(out.splitlines()[0])["run_id"]
            assert cloud.experiments(USER, "synced") == []  # offline: nothing went up
            login_and_sync = f"import swanlab_client as s\ns.login(api_key={KEY!r}, save=True)\nprint(s.sync())\n"
            result = subprocess.run(
                [sys.executable, "-c", login_and_sync], env=env, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 0, result.stderr + d.output()
            assert run_id in result.stdout  # sync() returns the run ids it uploaded
            assert (tmp_path / ".swanlab" / ".netrc").stat().st_mode & 0o777 == 0o600
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                (experiment,) = cloud.experiments(USER, "synced")
                if experiment["state"] == "FINISHED":
                    break
                time.sleep(0.2)
            assert experiment["state"] == "FINISHED" and experiment["cuid"] == run_id
            scalars = cloud.snapshot(run_id)["scalar"]
            assert sorted(scalars["m/k0"]) == list(range(50))


def test_sync_refused_by_the_daemon_raises_the_clients_sync_error(daemon: DaemonProcess, tmp_path: Path, monkeypatch):
    """Was swanlabd.cli.cmd_sync.SyncError: neither exported nor documented."""
    import swanlab_client

    monkeypatch.setenv("SWANLABD_SOCKET", str(daemon.socket))
    monkeypatch.setenv("SWANLABD_DATA_ROOT", str(daemon.home))
    with pytest.raises(swanlab_client.SyncError, match="refused the sync") as info:
        swanlab_client.sync(tmp_path)  # not a run folder: the daemon cannot adopt it
    assert not isinstance(info.value, swanlab_client.SyncIncomplete)


def test_sync_with_no_daemon_possible_raises_sync_error(tmp_path: Path, monkeypatch):
    import swanlab_client

    (tmp_path / "file").write_text("")
    monkeypatch.setenv("SWANLABD_SOCKET", str(tmp_path / "no.sock"))
    monkeypatch.setenv("SWANLABD_DATA_ROOT", str(tmp_path / "file" / "home"))  # cannot be made
    with pytest.raises(swanlab_client.SyncError):
        swanlab_client.sync()


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        ({"api_key": KEY, "host": "   "}, "LoginError", "host is empty"),
        ({"api_key": KEY, "host": "http://127.0.0.1:1"}, "AuthenticationError", "cannot reach"),
        ({"host": "http://127.0.0.1:1"}, "AuthenticationError", "No API key"),
    ],
)
def test_login_raises_only_the_clients_login_errors(kwargs, error, says, tmp_path: Path, monkeypatch):
    import swanlab_client

    for name in [k for k in os.environ if k.startswith("SWANLAB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no netrc
    monkeypatch.chdir(tmp_path)
    with pytest.raises(getattr(swanlab_client, error), match=says):
        swanlab_client.login(timeout=5, **kwargs)
    assert issubclass(getattr(swanlab_client, error), swanlab_client.LoginError)


def test_a_valid_key_that_cannot_be_saved_is_a_login_error(tmp_path: Path, monkeypatch):
    import swanlab_client
    from swanlabd.local import credentials

    for name in [k for k in os.environ if k.startswith("SWANLAB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SWANLAB_ROOT", str(tmp_path / "netrc-dir"))
    (tmp_path / "netrc-dir" / ".netrc").mkdir(parents=True)  # a directory where the netrc goes
    with CloudServer(tmp_path / "cloud.db", {KEY: USER}) as cloud:
        try:
            with pytest.raises(swanlab_client.LoginError, match="cannot be saved") as info:
                swanlab_client.login(api_key=KEY, host=cloud.url, save=True)
        finally:
            credentials.forget_login()
    assert not isinstance(info.value, swanlab_client.AuthenticationError)
