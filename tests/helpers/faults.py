"""Faults a test (or bench/soak.py) injects into swanlabd's world: its disk, its processes, its cloud.

Nothing here hooks production code: each fault is the real thing, made by the kernel.

    Disk (root only; mount the disk where the daemon's data root will be, before it starts):
        TmpfsDisk(path, size)   a tmpfs of `size` bytes: write() fails ENOSPC once full.
                                fill()/free()/set_free() grow and shrink a ballast file.
        Ext4Disk(path, size)    ext4 on a loop device. shutdown(): every later read, write,
                                open and fsync fails EIO (the disk died; only a remount heals,
                                so open files stay broken). throttle(pid, bytes_per_s): that
                                process's writeback (its fsyncs) is slowed by a blkio cgroup
                                (cgroup v1). remount() drops the file cache, so a test reads
                                only what reached the device.
    Processes:
        paused(pid)             SIGSTOP now (the block begins once all its threads stopped),
                                SIGCONT when the block ends (a hung process).
        limit_open_files(pid)   EMFILE after N more open files (its RLIMIT_NOFILE, set from outside).
        Crowd                   many client processes at once; kill one at random (SIGKILL).
    Cloud:
        CloudChaos              switches test-cloud faults (FaultKind) and outages on and off
                                at random, and calms the cloud down at the end.

What cannot be injected this way is listed in docs/testing.md.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil

from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer, FaultKind

# <linux/ext4.h>: _IOR('X', 125, __u32). NOLOGFLUSH: stop at once, as a dead disk would, without
# writing the journal first.
EXT4_IOC_SHUTDOWN = 0x8004587D
EXT4_GOING_FLAGS_NOLOGFLUSH = 0x2
BLKIO_ROOT = Path("/sys/fs/cgroup/blkio")
PAGE = 4096


class FaultSetupError(RuntimeError):
    """A fault could not be set up here (not root, no loop device, no blkio cgroup); says which."""


def can_mount() -> str | None:
    """None if this process can mount file systems, else why not (for a pytest skip reason)."""
    if os.geteuid() != 0:
        return "mounting a small disk needs root"
    return None


def _run(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise FaultSetupError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


def _unmount(path: Path) -> None:
    # Lazy: a process we are cleaning up after may still hold files open in it.
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=60)


class _Disk:
    """What both disks share: a mount point, space queries, the context manager."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer can still allocate here."""
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class TmpfsDisk(_Disk):
    """A tmpfs of `size_bytes` mounted at `path` (created 0700 if missing): a disk that fills up.

    The ballast file `.ballast` takes space away and gives it back. tmpfs allocates on write,
    so ENOSPC comes from write() itself, and space freed is usable at once.
    """

    def __init__(self, path: Path, size_bytes: int) -> None:
        super().__init__(path)
        if reason := can_mount():
            raise FaultSetupError(reason)
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        _run("mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0700", "tmpfs", str(self.path))
        self.ballast = self.path / ".ballast"
        self.ballast.touch(mode=0o600)

    def ballast_bytes(self) -> int:
        return self.ballast.stat().st_size

    def set_free(self, nbytes: int) -> None:
        """Grow or shrink the ballast until about `nbytes` are free (page-rounded; 0 = full)."""
        size = self.ballast_bytes()
        target = max(0, size + self.free_bytes() - nbytes)
        if target < size:
            os.truncate(self.ballast, target)
            return
        # In chunks, halving on ENOSPC down to a page: the daemon writes meanwhile, so the space
        # measured above may be gone by the time the ballast takes it.
        chunk = 1 << 20
        fd = os.open(self.ballast, os.O_WRONLY)
        try:
            while size < target:
                step = min(chunk, target - size)
                try:
                    os.posix_fallocate(fd, size, step)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    if chunk <= PAGE:
                        return  # as full as it gets
                    chunk //= 2
                    continue
                size += step
        finally:
            os.close(fd)

    def fill(self) -> None:
        """Take every free byte: the next write() that needs a new page fails ENOSPC."""
        self.set_free(0)

    def free(self) -> None:
        """Give all the ballast's space back."""
        os.truncate(self.ballast, 0)

    def close(self) -> None:
        _unmount(self.path)


class Ext4Disk(_Disk):
    """ext4 on a loop device mounted at `path`: a disk that can die (EIO) or crawl.

    The image file is sparse, in a private temp dir. Not offered: a device that runs out of
    space under a file system that has room (fsync fails, write did not). A loop device over a
    full tmpfs looks like one, but it acks short writes as whole, so data it acked by fsync is
    gone after a remount: a test on it would blame the daemon for the device's lie.
    """

    def __init__(self, path: Path, size_bytes: int = 64 << 20) -> None:
        super().__init__(path)
        if reason := can_mount():
            raise FaultSetupError(reason)
        self._backing = Path(tempfile.mkdtemp(prefix="sd-img-", dir="/tmp"))
        self.loop = ""
        self._cgroup: Path | None = None
        try:
            image = self._backing / "disk.img"
            with open(image, "wb") as f:
                f.truncate(size_bytes)
            self.loop = _run("losetup", "--find", "--show", str(image))
            _run("mkfs.ext4", "-q", "-F", self.loop)
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            _run("mount", "-o", "errors=continue", self.loop, str(self.path))
            os.chmod(self.path, 0o700)
        except BaseException:
            self.close()
            raise

    def shutdown(self) -> None:
        """The disk dies: from now on every operation on this file system fails EIO."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
        finally:
            os.close(fd)

    def remount(self) -> None:
        """Unmount and mount again, with the file cache dropped: only what reached the device is read.

        Also what heals a shut-down disk. Whoever held files open here must have exited.
        """
        _run("umount", str(self.path))
        _run("mount", "-o", "errors=continue", self.loop, str(self.path))

    def throttle(self, pid: int, bytes_per_s: int) -> None:
        """Limit the writes process `pid` (all its threads) issues to this disk to `bytes_per_s`."""
        if not (BLKIO_ROOT / "cgroup.procs").exists():
            raise FaultSetupError(f"no cgroup v1 blkio hierarchy at {BLKIO_ROOT}: cannot slow a disk down")
        if self._cgroup is None:
            self._cgroup = BLKIO_ROOT / f"swanlabd-faults-{os.getpid()}-{Path(self.loop).name}"
            self._cgroup.mkdir(exist_ok=True)
        device = (Path("/sys/block") / Path(self.loop).name / "dev").read_text().strip()
        (self._cgroup / "blkio.throttle.write_bps_device").write_text(f"{device} {bytes_per_s}\n")
        (self._cgroup / "cgroup.procs").write_text(f"{pid}\n")

    def unthrottle(self, pid: int) -> None:
        """Give `pid` its full speed back (it returns to the root blkio cgroup)."""
        with contextlib.suppress(ProcessLookupError, OSError):
            (BLKIO_ROOT / "cgroup.procs").write_text(f"{pid}\n")

    def close(self) -> None:
        if self._cgroup is not None:
            # Whatever is left in it goes back to the root, or rmdir fails EBUSY.
            for pid in (self._cgroup / "cgroup.procs").read_text().split():
                self.unthrottle(int(pid))
            with contextlib.suppress(OSError):
                self._cgroup.rmdir()
            self._cgroup = None
        if self.path.is_mount():
            _unmount(self.path)
        if self.loop:
            # After a lazy unmount the device detaches when its last user lets go (autoclear).
            subprocess.run(["losetup", "-d", self.loop], capture_output=True, timeout=60)
            self.loop = ""
        shutil.rmtree(self._backing, ignore_errors=True)


@contextlib.contextmanager
def paused(pid: int) -> Iterator[None]:
    """SIGSTOP `pid` for the duration of the block (a hung process); SIGCONT however the block ends.

    The block begins once every thread of `pid` has stopped: a thread inside a system call (an
    fsync) stops only when the call returns, so none is half-way through one during the block.
    """
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: _all_threads_stopped(pid), 30, f"every thread of process {pid} stopped")
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def _all_threads_stopped(pid: int) -> bool:
    """True once each thread of `pid` is in state T (stopped) or t (traced), or `pid` is gone."""
    tasks = Path(f"/proc/{pid}/task")
    try:
        stats = [(task / "stat").read_text() for task in tasks.iterdir()]
    except FileNotFoundError:
        return not tasks.exists()  # gone; or a thread ended while listing, and the next poll sees
    # The state follows the command name, which is in parentheses and may hold anything.
    return all(stat.rsplit(")", 1)[1].split()[0] in ("T", "t") for stat in stats)


def limit_open_files(pid: int, more: int) -> tuple[int, int]:
    """Let process `pid` open at most `more` files beyond those open now (EMFILE after).

    Lowers its soft RLIMIT_NOFILE from outside (prlimit): no restart, no hook. Returns the
    (soft, hard) limits before; `resource.prlimit(pid, resource.RLIMIT_NOFILE, before)` restores
    them (the hard limit is left alone, so that needs no privilege).
    """
    before = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (psutil.Process(pid).num_fds() + more, before[1]))
    return before


class Crowd:
    """Many processes started at once from one command line each; any of them killed at random.

    Output goes to files under `logdir` (a pipe nobody reads would block a chatty process).
    """

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = Path(logdir)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start `argv` as member `name`; its stdout and stderr go to <logdir>/<name>.out."""
        with open(self.logdir / f"{name}.out", "wb") as out:
            proc = subprocess.Popen(list(argv), env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def alive(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is None]

    def kill_one(self, rng: random.Random, sig: int = signal.SIGKILL) -> str | None:
        """Send `sig` to one live member chosen by `rng`; its name, or None if none is alive."""
        names = self.alive()
        if not names:
            return None
        name = rng.choice(names)
        with contextlib.suppress(ProcessLookupError):
            self.procs[name].send_signal(sig)
        return name

    def output(self, name: str) -> str:
        return (self.logdir / f"{name}.out").read_text(errors="replace")

    def close(self) -> None:
        """SIGKILL and reap every member still alive."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()


# The cloud paths the uploader's lanes use; a fault on each hits a different lane.
CLOUD_PATHS = ("/api/house/metrics", "/api/project", "/api/projects", "/api/house/experiments", "/api/login")


class CloudChaos:
    """Random test-cloud trouble: one `step()` switches one fault or outage on, `calm()` ends all.

    `kinds` are the FaultKinds it may use (default all); `outages` allows the cloud to go down
    (connection refused) for up to `max_outage_s`. Faults are bounded by count and duration, so
    the cloud always comes back by itself too.
    """

    def __init__(
        self,
        cloud: CloudServer,
        rng: random.Random,
        *,
        kinds: Sequence[FaultKind] = tuple(FaultKind),
        outages: bool = True,
        max_outage_s: float = 5.0,
    ) -> None:
        self.cloud = cloud
        self.rng = rng
        self.kinds = list(kinds)
        self.outages = outages
        self.max_outage_s = max_outage_s
        self.events: list[str] = []

    def step(self) -> str:
        """Switch on one random fault (or an outage); returns what it did, also kept in `events`."""
        rng = self.rng
        if self.outages and rng.random() < 0.2:
            seconds = rng.uniform(0.5, self.max_outage_s)
            self.cloud.go_down(seconds)
            event = f"cloud down {seconds:.1f}s"
        else:
            kind = rng.choice(self.kinds)
            path = rng.choice(CLOUD_PATHS)
            options: dict[str, object] = {"count": rng.randint(1, 5), "duration_s": rng.uniform(1, 10)}
            if kind is FaultKind.STATUS:
                options["status"] = rng.choice([500, 502, 503, 504])
            elif kind is FaultKind.SLOW:
                options["delay_s"] = rng.uniform(0.2, 3)
            self.cloud.add_fault(kind, path, **options)
            event = f"{kind.value} on {path} x{options['count']}"
        self.events.append(event)
        return event

    def calm(self) -> None:
        """No fault, no outage: the cloud answers everything from now on."""
        self.cloud.clear_faults()
        self.cloud.come_up()
