"""`swanlabctl login` and `swanlab_client`'s `login()`/`sync()` (client/swanlab_client/_sync.py)."""

from __future__ import annotations

import netrc
import os
import stat
import subprocess
import sys

import pytest
from uploading import API_KEY, assert_complete, caller_env, finished, offline_run

from swanlab_client import _sync
from swanlabd.local import credentials


def login(cloud, home, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWANLAB_")} | {"HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "swanlabd.cli.swanlabctl", "login", "--host", cloud.url, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_login_checks_the_key_and_writes_a_private_netrc(cloud, tmp_path):
    result = login(cloud, tmp_path, stdin=API_KEY + "\n")
    assert result.returncode == 0, result.stderr
    assert "alice" in result.stdout and API_KEY not in result.stdout + result.stderr
    path = tmp_path / ".swanlab" / ".netrc"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert netrc.netrc(str(path)).authenticators(cloud.url) == (cloud.url, "", API_KEY)


def test_login_with_a_wrong_key_fails_and_writes_nothing(cloud, tmp_path):
    result = login(cloud, tmp_path, "--api-key", "not-the-key")
    assert result.returncode == 1 and "refused" in result.stderr and "not-the-key" not in result.stderr
    assert not (tmp_path / ".swanlab" / ".netrc").exists()


def test_client_login_and_sync(upload_daemon, cloud, monkeypatch):
    run_id = offline_run(upload_daemon, 300)
    for key, value in caller_env(upload_daemon, cloud, home=upload_daemon.root).items():
        if key.startswith(("SWANLABD_", "HOME")):
            monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith("SWANLAB_")]:
        monkeypatch.delenv(key)
    with pytest.raises(_sync.AuthenticationError):
        _sync.login(api_key="wrong", host=cloud.url)
    try:
        assert _sync.login(api_key=API_KEY, host=cloud.url) is True
        assert _sync.sync(timeout=60) == [run_id]
    finally:
        credentials.forget_login()
    assert_complete(cloud, run_id, 300)
    assert finished(cloud, run_id) == "FINISHED"
