"""`swanlabctl login` and `sync` take the API key from stdin (`--api-key -`) or a file
(`--api-key-file PATH`), so it never has to be on the command line, where `ps` shows it to every
user of the host. `--api-key KEY` still works, and `--help` says who can see it."""

from __future__ import annotations

import netrc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from uploading import API_KEY, assert_complete, offline_run

from helpers.daemon import DaemonProcess


def ctl(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swanlabd.cli.swanlabctl", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def clean_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """No SWANLAB_* key of the developer's, and a home with no netrc: the key comes only from the flags."""
    env = {k: v for k, v in (base or os.environ).items() if not k.startswith("SWANLAB_")}
    return env | {"HOME": str(home)}


@pytest.mark.parametrize("command", ["login", "sync"])
def test_help_says_a_key_on_the_command_line_is_visible_and_offers_stdin_and_a_file(command):
    out = " ".join(ctl(command, "--help", env=dict(os.environ)).stdout.split())
    assert "visible to other users" in out and "`-` reads it from stdin" in out and "--api-key-file PATH" in out


def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key"
    path.write_text(API_KEY + "\n")
    return path


@pytest.mark.parametrize("way", ["stdin", "file"])
def test_login_reads_the_key_from_stdin_or_a_file(cloud, tmp_path, way):
    args, stdin = (
        (["--api-key", "-"], API_KEY + "\n") if way == "stdin" else (["--api-key-file", str(key_file(tmp_path))], "")
    )
    result = ctl("login", "--host", cloud.url, *args, env=clean_env(tmp_path), stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "alice" in result.stdout and API_KEY not in result.stdout + result.stderr
    assert netrc.netrc(str(tmp_path / ".swanlab" / ".netrc")).authenticators(cloud.url) == (cloud.url, "", API_KEY)


@pytest.mark.parametrize("way", ["stdin", "file"])
def test_sync_reads_the_key_from_stdin_or_a_file(upload_daemon: DaemonProcess, cloud, tmp_path, way):
    run_id = offline_run(upload_daemon, 300)
    args, stdin = (
        (["--api-key", "-"], API_KEY + "\n") if way == "stdin" else (["--api-key-file", str(key_file(tmp_path))], "")
    )
    env = clean_env(tmp_path, upload_daemon.env)
    result = ctl("sync", "--host", cloud.url, "--timeout", "60", *args, env=env, stdin=stdin)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{run_id}: uploaded" in result.stdout
    assert_complete(cloud, run_id, 300)


def test_a_missing_or_empty_key_file_is_a_usage_error(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for path, why in ((tmp_path / "absent", "cannot read"), (empty, "is empty")):
        result = ctl("sync", "--api-key-file", str(path), env=clean_env(tmp_path))
        assert result.returncode == 2 and why in result.stderr, result.stderr


def test_api_key_on_the_command_line_still_works(cloud, tmp_path):
    result = ctl("login", "--host", cloud.url, "--api-key", API_KEY, env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
