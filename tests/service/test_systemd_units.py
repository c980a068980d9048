"""The packaged systemd units: systemd-analyze accepts them, install-service writes them.

`systemd-analyze` comes with Debian's `systemd` package (CI: `apt-get install -y systemd`). The
verify tests skip, saying so, only where it is not installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from swanlabd.cli import cmd_service

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze not installed (Debian/Ubuntu: apt-get install -y systemd)"
)


def swanlabd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swanlabd", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=60,
    )


def verify(unit: Path, *, user: bool, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    env = dict(os.environ)
    args = [ANALYZE, "--man=no"]
    if user:
        # A user manager needs $XDG_RUNTIME_DIR to resolve %t and RuntimeDirectory=.
        runtime = tmp_path / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
        args.append("--user")
    return subprocess.run([*args, "verify", str(unit)], capture_output=True, text=True, env=env, timeout=120)


@needs_analyze
@pytest.mark.parametrize(("name", "scope"), [("swanlabd.service", "--user"), ("swanlabd@.service", "--system")])
def test_systemd_analyze_verify_accepts_the_installed_unit(tmp_path: Path, name: str, scope: str) -> None:
    out = swanlabd("install-service", scope, "--print")
    assert out.returncode == 0, out.stderr
    unit = tmp_path / name
    unit.write_text(out.stdout)
    result = verify(unit, user=scope == "--user", tmp_path=tmp_path)
    # verify exits 0 even for unknown keys or bad values, which it only warns about: any output
    # at all is a finding.
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stdout + result.stderr


@needs_analyze
def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    broken = cmd_service.render_unit("swanlabd.service").replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
    unit = tmp_path / "swanlabd.service"
    unit.write_text(broken)
    result = verify(unit, user=True, tmp_path=tmp_path)
    assert "Unknown key" in result.stderr


@pytest.mark.parametrize("name", [cmd_service.USER_UNIT, cmd_service.SYSTEM_UNIT])
def test_units_are_notify_services_with_a_watchdog_and_hardening(name: str) -> None:
    text = cmd_service.unit_text(name)
    for line in ("Type=notify", "WatchdogSec=30s", "NoNewPrivileges=yes", "RuntimeDirectoryMode=0700", "UMask=0077"):
        assert f"\n{line}\n" in text, line
    if name == cmd_service.SYSTEM_UNIT:
        for line in ("User=%i", "StateDirectory=swanlabd/%i", "ProtectSystem=strict", "PrivateTmp=yes"):
            assert f"\n{line}\n" in text, line


def test_rendering_changes_only_exec_start() -> None:
    for name in (cmd_service.USER_UNIT, cmd_service.SYSTEM_UNIT):
        shipped = cmd_service.unit_text(name).splitlines()
        rendered = cmd_service.render_unit(name).splitlines()
        diff = [(a, b) for a, b in zip(shipped, rendered, strict=True) if a != b]
        assert len(shipped) == len(rendered) and len(diff) == 1
        command = diff[0][1].removeprefix("ExecStart=").split()
        assert Path(command[0]).is_absolute() and os.access(command[0], os.X_OK)
        assert command[-1] == "run"


def test_stop_timeout_exceeds_the_daemon_shutdown_bound() -> None:
    from swanlabd.service.config import DaemonConfig

    for name in (cmd_service.USER_UNIT, cmd_service.SYSTEM_UNIT):
        line = next(x for x in cmd_service.unit_text(name).splitlines() if x.startswith("TimeoutStopSec="))
        assert float(line.split("=")[1].rstrip("s")) > DaemonConfig.model_fields["shutdown_timeout_s"].default


def test_install_service_user_writes_the_unit_and_says_how_to_enable(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    out = swanlabd("install-service", "--user", env=env)
    target = tmp_path / "systemd" / "user" / "swanlabd.service"
    assert out.returncode == 0, out.stderr
    assert f"wrote {target}" in out.stdout
    assert "systemctl --user enable --now swanlabd" in out.stdout
    assert target.read_text() == cmd_service.render_unit("swanlabd.service")
    again = swanlabd("install-service", env=env)
    assert f"unchanged {target}" in again.stdout


def test_install_service_system_as_non_root_is_refused_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cmd_service, "SYSTEM_UNIT_DIR", tmp_path / "etc-systemd")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    args = argparse.Namespace(scope="system", print_only=False)
    assert cmd_service.cmd_install_service(args) == 1
    assert "needs root; run with sudo, or use --print" in capsys.readouterr().err
    assert not (tmp_path / "etc-systemd").exists()


def test_install_service_system_writes_to_etc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cmd_service, "SYSTEM_UNIT_DIR", tmp_path / "etc-systemd")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setenv("SUDO_USER", "trainer")
    args = argparse.Namespace(scope="system", print_only=False)
    assert cmd_service.cmd_install_service(args) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "etc-systemd" / "swanlabd@.service").is_file()
    assert "systemctl enable --now swanlabd@trainer" in out
    assert "SWANLABD_SOCKET=/run/swanlabd/trainer/swanlabd.sock" in out
