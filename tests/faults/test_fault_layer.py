"""Each tool of tests/helpers/faults.py injects what it says, checked without a daemon.

A test that relies on a fault must be able to trust that the fault happened: a full disk that
is not full, or a throttle that does not slow, would make a passing test mean nothing.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from helpers.faults import CloudChaos, Crowd, Ext4Disk, TmpfsDisk, can_mount, limit_open_files, paused
from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer, FaultKind

needs_mount = pytest.mark.skipif(can_mount() is not None, reason=str(can_mount()))


def write(path: Path, nbytes: int, *, sync: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, b"x" * nbytes)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def errno_of(call: object) -> int:
    try:
        call()  # type: ignore[operator]  # a zero-argument callable
    except OSError as exc:
        return exc.errno or 0
    return 0


@pytest.fixture
def mountpoint(tmp_path: Path) -> Path:
    return tmp_path / "disk"


@needs_mount
def test_tmpfs_disk_fills_frees_and_leaves_a_chosen_amount(mountpoint: Path) -> None:
    with TmpfsDisk(mountpoint, 4 << 20) as disk:
        write(mountpoint / "before", 64 << 10)
        disk.fill()
        assert disk.free_bytes() == 0
        assert errno_of(lambda: write(mountpoint / "during", 8192)) == errno.ENOSPC
        disk.set_free(1 << 20)
        assert abs(disk.free_bytes() - (1 << 20)) <= 4096
        write(mountpoint / "some", 512 << 10)
        disk.free()
        assert disk.ballast_bytes() == 0
        write(mountpoint / "after", 2 << 20)
    assert not mountpoint.is_mount()


@needs_mount
def test_ext4_disk_shutdown_fails_everything_with_eio_until_remounted(mountpoint: Path) -> None:
    with Ext4Disk(mountpoint, 32 << 20) as disk:
        path = mountpoint / "f"
        write(path, 100, sync=True)
        disk.shutdown()
        assert errno_of(lambda: write(path, 100)) == errno.EIO
        assert errno_of(lambda: write(mountpoint / "new", 1)) == errno.EIO
        assert errno_of(path.read_bytes) == errno.EIO
        disk.remount()
        assert path.read_bytes() == b"x" * 100  # what was fsynced before survives


@needs_mount
def test_ext4_disk_throttle_slows_one_process_fsync(mountpoint: Path) -> None:
    script = (
        "import os, sys, time\n"
        "sys.stdin.readline()\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)\n"
        "os.write(fd, b'x' * (512 << 10)); t = time.monotonic(); os.fsync(fd)\n"
        "print(time.monotonic() - t)\n"
    )
    with Ext4Disk(mountpoint, 32 << 20) as disk:
        timings = []
        for throttled in (True, False):
            proc = subprocess.Popen(
                [sys.executable, "-c", script, str(mountpoint / f"f{throttled}")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            if throttled:
                disk.throttle(proc.pid, 512 << 10)
            out, _ = proc.communicate("go\n", timeout=60)
            timings.append(float(out))
        assert timings[0] > 0.5 > timings[1], timings  # 512 KiB at 512 KiB/s, then unthrottled


def test_paused_stops_a_process_and_lets_it_go_however_the_block_ends() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(KeyboardInterrupt), paused(proc.pid):
            wait_for(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_STOPPED, 10, "stopped")
            raise KeyboardInterrupt
        wait_for(lambda: psutil.Process(proc.pid).status() != psutil.STATUS_STOPPED, 10, "continued")
    finally:
        proc.kill()
        proc.wait()


def test_limit_open_files_gives_emfile_after_the_allowance() -> None:
    script = (
        "import os, sys\n"
        "sys.stdin.readline()\n"
        "opened = []\n"
        "try:\n"
        "    while len(opened) < 100:\n"
        "        opened.append(os.open('/dev/null', os.O_RDONLY))\n"
        "except OSError as exc:\n"
        "    print(len(opened), exc.errno)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    limit_open_files(proc.pid, 5)
    out, _ = proc.communicate("go\n", timeout=30)
    assert out.split() == ["5", str(errno.EMFILE)]


def test_crowd_starts_many_at_once_and_kills_one_at_random(tmp_path: Path) -> None:
    crowd = Crowd(dict(os.environ), tmp_path)
    try:
        for i in range(5):
            crowd.start(f"p{i}", [sys.executable, "-c", "print('up', flush=True); import time; time.sleep(60)"])
        wait_for(lambda: all("up" in crowd.output(f"p{i}") for i in range(5)), 30, "five processes up")
        victim = crowd.kill_one(random.Random(3))
        assert victim is not None
        assert crowd.procs[victim].wait(10) == -signal.SIGKILL
        assert sorted(crowd.alive()) == sorted(set(crowd.procs) - {victim})
    finally:
        crowd.close()
    assert crowd.alive() == []


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    server = CloudServer(tmp_path / "cloud.db", {"k" * 24: "alice"}).start()
    try:
        yield server
    finally:
        server.stop()


def test_cloud_chaos_switches_faults_on_and_calm_switches_them_off(cloud: CloudServer) -> None:
    chaos = CloudChaos(cloud, random.Random(5), kinds=[FaultKind.STATUS], max_outage_s=30)
    events = [chaos.step() for _ in range(20)]
    assert any(e.startswith("cloud down") for e in events) and any(e.startswith("status") for e in events)
    assert chaos.events == events
    chaos.calm()
    assert cloud.is_up
    answer = httpx.post(f"{cloud.url}/api/house/metrics", timeout=10)  # a path the faults above hit
    assert answer.status_code not in (500, 502, 503, 504), answer.text
