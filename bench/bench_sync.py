"""Sync benchmark: one SwanLab offline run of 1,000,000 scalars, `swanlabctl sync` vs `swanlab sync`.

    .venv/bin/python bench/bench_sync.py                       # builds the SDK venv if needed
    .venv/bin/python bench/bench_sync.py --swanlab-python PY   # an interpreter with swanlab==0.10.3
    .venv/bin/python bench/bench_sync.py --scalars 100000      # smaller, for a quick look

The official SDK writes the run once, offline (100,000 steps of 10 keys; not timed; the same
script as bench_drain.py). Each side then syncs that same folder into a fresh test cloud of its
own (`python -m swanlab_testcloud`, its own process), and what is timed is the command a user
runs, from start to exit:

    swanlabd:  `swanlabctl sync RUN_FOLDER` against a running daemon: convert (docs/sync.md) + upload
    SwanLab:   `swanlab sync RUN_FOLDER`

Peak memory is each side's peak resident set: `swanlab sync`'s process (it does all the work),
and for swanlabd the daemon's (VmHWM: it converts and uploads; the figure includes its idle
baseline, printed too) and swanlabctl's. Each side is checked afterwards: every point on the
server, no duplicate. Prints times, points per second, peak memory and the ratios; `--json OUT`
writes the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_drain import (
    KEY,
    KEYS,
    PROJECT,
    SDK_SCRIPT,
    USER,
    BenchError,
    TestCloud,
    check,
    clean_env,
    sdk_python,
)

# Runs a command and prints its peak RSS (KiB) on stderr's last line: the one way to get a
# finished child's peak from outside without polling it.
PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def write_sdk_run(root: Path, steps: int, python: Path) -> Path:
    logdir = root / "swanlog"
    made = subprocess.run(
        [str(python), "-c", SDK_SCRIPT, str(steps), str(KEYS), str(logdir)],
        env=clean_env(HOME=str(root), SWANLAB_SAVE_DIR=str(root / ".swanlab")),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if made.returncode != 0:
        raise BenchError(f"writing the SDK's offline run failed: {made.stderr[-2000:]}")
    (run_dir,) = [p for p in logdir.iterdir() if p.name.startswith("run-")]
    return run_dir


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of `command`; BenchError if it fails."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PEAK, *command], env=env, capture_output=True, text=True, timeout=3600
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise BenchError(f"{' '.join(command[:3])} exited {result.returncode}: {result.stderr[-2000:]}")
    return seconds, int(result.stderr.strip().splitlines()[-1]) // 1024


def peak_mib(pid: int) -> tuple[int, int]:
    """(peak, current) resident MiB of a live process (/proc VmHWM, VmRSS)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmHWM"].split()[0]) // 1024, int(fields["VmRSS"].split()[0]) // 1024


def sync_swanlabd(root: Path, run_dir: Path, steps: int) -> dict[str, Any]:
    home, sock = root / "home", root / "s" / "swanlabd.sock"
    daemon_env = clean_env(
        SWANLABD_DATA_ROOT=str(home), SWANLABD_SOCKET=str(sock), SWANLABD_UPLOAD="true", SWANLABD_MONITOR_INTERVAL_S="0"
    )
    with open(root / "daemon.log", "wb") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "swanlabd", "run"], env=daemon_env, stderr=log)
    cloud = TestCloud(root)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():  # the daemon binds its socket once it serves
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise BenchError(f"daemon did not start: {(root / 'daemon.log').read_text()[-2000:]}")
            time.sleep(0.05)
        idle = peak_mib(daemon.pid)[1]
        env = {**daemon_env, "SWANLAB_API_HOST": cloud.url, "SWANLAB_WEB_HOST": cloud.url, "SWANLAB_API_KEY": KEY}
        seconds, ctl_mib = timed([sys.executable, "-m", "swanlabd.cli.swanlabctl", "sync", str(run_dir)], env)
        daemon_peak = peak_mib(daemon.pid)[0]
        check(cloud, steps, "swanlabd")
        return {"seconds": seconds, "peak_mib": daemon_peak, "idle_mib": idle, "swanlabctl_mib": ctl_mib}
    finally:
        cloud.close()
        daemon.terminate()
        daemon.wait(30)


def sync_swanlab(root: Path, run_dir: Path, steps: int, python: Path) -> dict[str, Any]:
    cloud = TestCloud(root)
    try:
        env = clean_env(HOME=str(root), SWANLAB_SAVE_DIR=str(root / ".swanlab"), SWANLAB_WEB_HOST=cloud.url)
        swanlab = python.parent / "swanlab"
        command = [str(swanlab), "sync", "-k", KEY, "-h", cloud.url, "-w", USER, "-p", PROJECT, str(run_dir)]
        seconds, mib = timed(command, env)
        check(cloud, steps, "swanlab")
        return {"seconds": seconds, "peak_mib": mib}
    finally:
        cloud.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scalars", type=int, default=1_000_000, help="run size (a multiple of 10)")
    parser.add_argument(
        "--swanlab-python", default=None, help="python with swanlab==0.10.3 (default: build a cached venv)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    steps = args.scalars // KEYS
    points = steps * KEYS
    python = sdk_python(args.swanlab_python)
    with tempfile.TemporaryDirectory(prefix="sd-sync-", dir="/tmp") as tmp:
        root = Path(tmp)
        run_dir = write_sdk_run(root, steps, python)
        (root / "d").mkdir()
        (root / "s").mkdir()
        ours = sync_swanlabd(root / "d", run_dir, steps)
        print(
            f"swanlabd (swanlabctl sync): {ours['seconds']:7.2f} s, {points / ours['seconds']:>10,.0f} points/s,"
            f" daemon peak {ours['peak_mib']} MiB (idle {ours['idle_mib']}), swanlabctl {ours['swanlabctl_mib']} MiB",
            flush=True,
        )
        theirs = sync_swanlab(root / "s", run_dir, steps, python)
        print(
            f"SwanLab  (swanlab sync):    {theirs['seconds']:7.2f} s, {points / theirs['seconds']:>10,.0f} points/s,"
            f" peak {theirs['peak_mib']} MiB"
        )
    ratio = theirs["seconds"] / ours["seconds"]
    print(f"ratio: swanlabd is {ratio:.1f}x faster; peak memory {ours['peak_mib'] / theirs['peak_mib']:.2f}x theirs")
    if args.json is not None:
        args.json.write_text(json.dumps({"scalars": points, "swanlabd": ours, "swanlab": theirs, "ratio": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
