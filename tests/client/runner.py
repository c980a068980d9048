"""Run the client's test scripts against a test daemon and ask the daemon about runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.daemon import DaemonProcess

TRAINER = Path(__file__).parent / "scripts" / "trainer.py"


def trainer(d: DaemonProcess, *args: str, **kw) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(TRAINER), *args],
        env=d.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def wait_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no line starting {prefix!r}; stderr:\n{proc.stderr.read() if proc.stderr else ''}")


def wait_exit(proc: subprocess.Popen[str], d: DaemonProcess, timeout: float) -> int:
    """The trainer's exit status; past `timeout`, fail with its threads' stacks and the daemon's log."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
        _, err = proc.communicate()
        raise AssertionError(
            f"the trainer still ran after {timeout:.0f}s; its stacks:\n{err[-20000:]}\ndaemon:\n{d.output()[-5000:]}"
        ) from None


def ls(d: DaemonProcess) -> list[dict]:
    out = d.ctl("ls", "--json", check=True).stdout
    data = json.loads(out)
    return data["runs"] if isinstance(data, dict) else data


def expected_rows(rows: int, keys: int) -> list[tuple[int, dict[str, float]]]:
    """What scripts/trainer.py logs: `rows` rows of `keys` keys, as BackupView.rows holds them."""
    return [(step, {f"m/k{k}": step + k / 1000 for k in range(keys)}) for step in range(rows)]
