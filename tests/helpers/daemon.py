"""Run the real `swanlabd` as a process for a test, on a real Unix socket in a short /tmp dir.

    with DaemonProcess() as d:          # or the `daemon` fixture (tests/conftest.py)
        stub = d.stub()                 # raw grpc stub of service.proto
        d.kill(signal.SIGKILL); d.start()   # restart on the same socket and data root
        subprocess.run([...], env=d.env)    # a client process that finds this daemon

Socket paths must stay under ~100 bytes, so the root is `tempfile.mkdtemp(prefix="sd-",
dir="/tmp")`, never pytest's tmp_path. `close()` always kills what the test started: the
daemon this helper spawned and any daemon a client auto-started for the same data root (found
through `<home>/swanlabd.pid`), then removes the directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import psutil

from swanlabd.local.paths import socket_accepts

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0


class DaemonStartError(RuntimeError):
    """The daemon exited or did not accept on its socket in time; carries its output."""


class DaemonProcess:
    """One test's daemon: its paths, its process, and the cleanup of both.

    Not thread-safe; one per test. `env` is the environment for child processes (clients,
    swanlabctl) so they talk to this daemon and no other. By default uploading and the host
    monitor are off (SWANLABD_UPLOAD=false, SWANLABD_MONITOR_INTERVAL_S=0); pass
    `env={"SWANLABD_UPLOAD": "true", ...}` to turn them on.
    """

    def __init__(
        self,
        *,
        fsync: str = "group",
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        keep: bool = False,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
        self.socket = self.root / "sock" / "swanlabd.sock"
        self.home = self.root / "home"
        self.log_path = self.root / "daemon.out"
        self.fsync = fsync
        self.args = list(args)
        self.keep = keep
        self.env: dict[str, str] = {
            **os.environ,
            "SWANLABD_SOCKET": str(self.socket),
            "SWANLABD_DATA_ROOT": str(self.home),
            # Never talk to a real cloud from a test by accident.
            "SWANLABD_UPLOAD": "false",
            "SWANLABD_MONITOR_INTERVAL_S": "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self._channel = None

    # -- lifecycle -----------------------------------------------------------------------

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "swanlabd",
            "run",
            "--socket",
            str(self.socket),
            "--data-root",
            str(self.home),
            "--fsync",
            self.fsync,
            *self.args,
        ]

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the daemon process without waiting for it (see `start`)."""
        log = open(self.log_path, "ab")
        try:
            return subprocess.Popen(self.command(), env=self.env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()

    def start(self, timeout: float = START_TIMEOUT_S) -> DaemonProcess:
        """Start (or restart) the daemon on the same paths and wait until its socket accepts."""
        if self.running:
            raise RuntimeError(f"daemon already running (pid {self.pid})")
        self.proc = self.spawn()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Block until a connect() to the socket succeeds; raise with the daemon's output if it dies."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise DaemonStartError(f"daemon exited with {self.proc.returncode}:\n{self.output()}")
            if socket_accepts(self.socket):
                return
            if time.monotonic() > deadline:
                raise DaemonStartError(f"daemon not accepting on {self.socket} after {timeout}s:\n{self.output()}")
            time.sleep(0.02)

    @property
    def pid(self) -> int | None:
        """The pid of the daemon serving this data root (ours, or one a client auto-started)."""
        if self.proc is not None and self.proc.poll() is None:
            return self.proc.pid
        return self.pidfile_pid()

    @property
    def running(self) -> bool:
        return self.pid is not None

    def pidfile_pid(self) -> int | None:
        """The pid in `<home>/swanlabd.pid` if that process is alive and is a swanlabd daemon."""
        try:
            pid = int((self.home / "swanlabd.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if is_daemon_process(pid) else None

    def kill(self, sig: int = signal.SIGKILL, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Send `sig` to the daemon and wait for it to exit; return its exit code if it was ours."""
        pid = self.pid
        if pid is None:
            return None
        os.kill(pid, sig)
        try:
            return self.wait_exit(pid, timeout)
        finally:
            self.close_channel()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM (clean shutdown), SIGKILL if it overstays `timeout`. Returns the exit code if ours."""
        pid = self.pid
        if pid is None:
            return None
        os.kill(pid, signal.SIGTERM)
        try:
            return self.wait_exit(pid, timeout)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            self.wait_exit(pid, timeout)
            raise
        finally:
            # Only now: open streams of the test must see the daemon's own goodbye, not ours.
            self.close_channel()

    def wait_exit(self, pid: int, timeout: float = STOP_TIMEOUT_S) -> int | None:
        if self.proc is not None and self.proc.pid == pid:
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired as exc:
                raise TimeoutError(f"daemon {pid} still alive after {timeout}s") from exc
        deadline = time.monotonic() + timeout
        while is_daemon_process(pid):
            if time.monotonic() > deadline:
                raise TimeoutError(f"daemon {pid} still alive after {timeout}s")
            time.sleep(0.02)
        return None

    def close(self) -> None:
        """Kill every daemon of this data root (ours and auto-started ones) and remove the dir."""
        self.close_channel()
        for _ in range(3):  # a client may auto-start a new daemon while we stop the old one
            pid = self.pid
            if pid is None:
                break
            try:
                self.stop(timeout=5)
            except (TimeoutError, ProcessLookupError):
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DaemonProcess:
        return self.start() if not self.running else self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- talking to it -------------------------------------------------------------------

    @property
    def target(self) -> str:
        return f"unix:{self.socket}"

    def channel(self):  # -> grpc.Channel; grpc imported lazily so helpers stay cheap to import
        """A cached channel to the daemon; closed on kill/stop/close."""
        import grpc

        if self._channel is None:
            self._channel = grpc.insecure_channel(self.target)
        return self._channel

    def stub(self):  # -> service_pb2_grpc.SwanlabdStub
        from swanlabd_pb import service_pb2_grpc

        return service_pb2_grpc.SwanlabdStub(self.channel())

    def close_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def ctl(self, *args: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run `swanlabctl ARGS` against this daemon."""
        return subprocess.run(
            [sys.executable, "-m", "swanlabd.cli.swanlabctl", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def output(self) -> str:
        """Everything the daemon(s) this helper spawned printed (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def runs(self) -> list[Path]:
        """Run folders under the data root, oldest first."""
        runs = self.home / "runs"
        return sorted(runs.iterdir()) if runs.is_dir() else []


def is_daemon_process(pid: int) -> bool:
    """True if `pid` is alive (not a zombie) and runs swanlabd: pid files may be stale and pids reused."""
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return any("swanlabd" in part for part in p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
