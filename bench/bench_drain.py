"""Drain benchmark: upload a backlog of 1,000,000 scalars to the test cloud, swanlabd vs `swanlab sync`.

    .venv/bin/python bench/bench_drain.py                       # builds the SDK venv if needed
    .venv/bin/python bench/bench_drain.py --swanlab-python PY   # an interpreter with swanlab==0.10.3
    .venv/bin/python bench/bench_drain.py --scalars 100000      # smaller, for a quick look

Both systems get the same data (100,000 steps of 10 keys, as a training loop logs them) and a
fresh test cloud each (`python -m swanlab_testcloud`, its own process, so the server's CPU is
not ours). What is timed is the command a user runs, from start to exit:

    swanlabd:  `swanlabctl sync RUN_FOLDER` against a running daemon (adopt + upload + state)
    SwanLab:   `swanlab sync RUN_FOLDER` of the same data recorded offline by the official SDK

Writing the backlog is not timed. Each side is checked afterwards: every point on the server,
no duplicate. Prints both times, the ratio, and the CPU seconds each process spent during the
timed command (the test cloud's tells its ingest rate, the daemon's the uploader's cost);
`--json OUT` writes {"swanlabd": s, "swanlab": s, "ratio": r, "scalars": n, "cpu": {...}} for
bench/compare.py (the BENCH helper's harness).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
KEY = "drain-bench-key-000000000"
USER = "bench"
PROJECT = "drain"
KEYS = 10
ROWS_PER_RECORD = 100  # what a client's sender thread batches into one record
SDK_REQUIREMENT = "swanlab==0.10.3"

SDK_SCRIPT = f"""
import sys, swanlab
steps, keys, logdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
# Hardware monitoring off: the backlog is the same 1,000,000 user scalars on both sides.
swanlab.merge_settings(swanlab.Settings(probe=swanlab.Settings.Probe(monitor=False)))
swanlab.init(project="{PROJECT}", experiment_name="drain", mode="offline", logdir=logdir)
for step in range(steps):
    swanlab.log({{"k%d" % k: step * 0.001 + k for k in range(keys)}}, step=step)
swanlab.finish()
"""


class BenchError(RuntimeError):
    """A side of the benchmark failed (a process exited non-zero, points missing on the server)."""


class TestCloud:
    """`python -m swanlab_testcloud` as a process; its URL; its sqlite file for checking."""

    def __init__(self, root: Path) -> None:
        self.db = root / "cloud.db"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "swanlab_testcloud", "--db", str(self.db), "--api-key", f"{KEY}={USER}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise BenchError(f"test cloud did not start (printed {self.url!r})")

    def counts(self) -> tuple[int, int]:
        """(points stored, duplicates received)."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            points = db.execute(
                "SELECT count(*) FROM metrics WHERE kind = 'scalar'"
                " AND key NOT LIKE '\\_\\_swanlab\\_\\_.%' ESCAPE '\\'"
            ).fetchone()[0]
            dups = db.execute("SELECT value FROM counters WHERE name = 'duplicates'").fetchone()[0]
        return points, dups

    def cpu_s(self) -> float:
        return process_cpu_s(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def process_cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def children_cpu_s() -> float:
    """CPU of this process's finished children so far (the timed command, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWANLAB_", "SWANLABD_"))}
    return {**env, **extra}


def write_swanlabd_backlog(folder: Path, steps: int) -> Path:
    """A finished offline run folder holding `steps` rows of KEYS scalars, as the daemon writes one
    (scalar rows compact: backup format 2)."""
    from swanlabd.format import backup
    from swanlabd_pb import records_pb2 as pb

    run_id = "drain0001"
    run_dir = folder / f"run-20260101_000000-{run_id}"
    run_dir.mkdir(parents=True)
    now = int(time.time() * 1000)
    with backup.BackupWriter.create(run_dir / backup.BACKUP_FILENAME, run_id, compact_rows=True) as writer:
        writer.append(
            [
                pb.Record(
                    time_ms=now,
                    run_start=pb.RunStart(
                        run_id=run_id, project=PROJECT, experiment_name="drain", mode=pb.MODE_OFFLINE, start_time_ms=now
                    ),
                ),
                pb.Record(
                    time_ms=now,
                    writer=1,
                    client_seq=1,
                    keys=pb.KeyDefs(keys=[pb.KeyDef(id=k, name=f"k{k}", type=pb.FLOAT) for k in range(KEYS)]),
                ),
            ]
        )
        client_seq = 2
        for first in range(0, steps, ROWS_PER_RECORD):
            rows = range(first, min(first + ROWS_PER_RECORD, steps))
            scalars = pb.ScalarRows(
                steps=list(rows),
                row_sizes=[KEYS] * len(rows),
                key_ids=list(range(KEYS)) * len(rows),
                values=[step * 0.001 + k for step in rows for k in range(KEYS)],
            )
            writer.append([pb.Record(time_ms=now + first, writer=1, client_seq=client_seq, scalars=scalars)])
            client_seq += 1
        writer.append([pb.Record(time_ms=now, writer=1, finish=pb.Finish(state=pb.FINISHED, finish_time_ms=now))])
    return run_dir


def drain_swanlabd(root: Path, steps: int) -> tuple[float, dict[str, float]]:
    run_dir = write_swanlabd_backlog(root / "copied", steps)
    home, sock = root / "home", root / "s" / "swanlabd.sock"
    daemon_env = clean_env(
        SWANLABD_DATA_ROOT=str(home), SWANLABD_SOCKET=str(sock), SWANLABD_UPLOAD="true", SWANLABD_MONITOR_INTERVAL_S="0"
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "swanlabd", "run"],
        env=daemon_env,
        stdout=subprocess.DEVNULL,
        stderr=open(root / "daemon.log", "wb"),
    )
    cloud = TestCloud(root)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise BenchError(f"daemon did not start: {(root / 'daemon.log').read_text()[-2000:]}")
            time.sleep(0.05)
        env = {
            **daemon_env,
            "SWANLAB_API_HOST": cloud.url,
            "SWANLAB_WEB_HOST": cloud.url,
            "SWANLAB_API_KEY": KEY,
            "HOME": str(root),
        }
        cpu0 = (process_cpu_s(daemon.pid), cloud.cpu_s(), children_cpu_s())
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "swanlabd.cli.swanlabctl", "sync", str(run_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        seconds = time.perf_counter() - start
        cpu1 = (process_cpu_s(daemon.pid), cloud.cpu_s(), children_cpu_s())
        if result.returncode != 0:
            raise BenchError(f"swanlabctl sync exited {result.returncode}: {result.stderr[-2000:]}")
        check(cloud, steps, "swanlabd")
        daemon_s, cloud_s, ctl_s = (after - before for after, before in zip(cpu1, cpu0, strict=True))
        return seconds, {"daemon": daemon_s, "test cloud": cloud_s, "swanlabctl": ctl_s}
    finally:
        cloud.close()
        daemon.terminate()
        daemon.wait(30)


def sdk_python(given: str | None) -> Path:
    if given:
        return Path(given)
    cache = Path(os.environ.get("SWANLABD_BENCH_CACHE") or Path.home() / ".cache" / "swanlabd-bench") / "swanlab-drain"
    python = cache / "bin" / "python"
    if not (cache / ".complete").is_file():
        shutil.rmtree(cache, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(cache)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", SDK_REQUIREMENT], check=True
        )
        (cache / ".complete").write_text(SDK_REQUIREMENT)
    return python


def drain_swanlab(root: Path, steps: int, python: Path) -> tuple[float, dict[str, float]]:
    logdir = root / "swanlog"
    env = clean_env(HOME=str(root), SWANLAB_SAVE_DIR=str(root / ".swanlab"))
    made = subprocess.run(
        [str(python), "-c", SDK_SCRIPT, str(steps), str(KEYS), str(logdir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if made.returncode != 0:
        raise BenchError(f"writing the SDK's offline run failed: {made.stderr[-2000:]}")
    (run_dir,) = [p for p in logdir.iterdir() if p.name.startswith("run-")]
    cloud = TestCloud(root)
    try:
        swanlab = python.parent / "swanlab"
        cpu0 = (cloud.cpu_s(), children_cpu_s())
        start = time.perf_counter()
        result = subprocess.run(
            [str(swanlab), "sync", "-k", KEY, "-h", cloud.url, "-w", USER, "-p", PROJECT, str(run_dir)],
            env={**env, "SWANLAB_WEB_HOST": cloud.url},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        seconds = time.perf_counter() - start
        cpu1 = (cloud.cpu_s(), children_cpu_s())
        if result.returncode != 0:
            raise BenchError(f"swanlab sync exited {result.returncode}: {result.stderr[-2000:]}")
        check(cloud, steps, "swanlab")
        cloud_s, sync_s = (after - before for after, before in zip(cpu1, cpu0, strict=True))
        return seconds, {"swanlab sync": sync_s, "test cloud": cloud_s}
    finally:
        cloud.close()


def check(cloud: TestCloud, steps: int, system: str) -> None:
    points, dups = cloud.counts()
    if points != steps * KEYS or dups:
        raise BenchError(f"{system}: {points} of {steps * KEYS} points on the server, {dups} duplicates")


def print_cpu(cpu: dict[str, float], scalars: int) -> None:
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in cpu.items())
    rate = (
        f"; test cloud ingest {scalars / cpu['test cloud']:,.0f} points per CPU second" if cpu["test cloud"] > 0 else ""
    )
    print(f"    CPU while timed: {parts}{rate}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scalars", type=int, default=1_000_000, help="backlog size (a multiple of 10)")
    parser.add_argument(
        "--swanlab-python", default=None, help="python with swanlab==0.10.3 (default: build a cached venv)"
    )
    parser.add_argument("--skip-swanlab", action="store_true", help="time swanlabd only")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    steps = args.scalars // KEYS
    results: dict[str, Any] = {"scalars": steps * KEYS, "cpu": {}}
    with tempfile.TemporaryDirectory(prefix="sd-drain-", dir="/tmp") as tmp:
        root = Path(tmp)
        (root / "d").mkdir()
        results["swanlabd"], results["cpu"]["swanlabd"] = drain_swanlabd(root / "d", steps)
        print(f"swanlabd  (swanlabctl sync): {results['swanlabd']:7.2f} s for {steps * KEYS:,} scalars", flush=True)
        print_cpu(results["cpu"]["swanlabd"], steps * KEYS)
        if not args.skip_swanlab:
            (root / "s").mkdir()
            results["swanlab"], results["cpu"]["swanlab"] = drain_swanlab(
                root / "s", steps, sdk_python(args.swanlab_python)
            )
            results["ratio"] = results["swanlab"] / results["swanlabd"]
            print(f"SwanLab   (swanlab sync):    {results['swanlab']:7.2f} s for {steps * KEYS:,} scalars")
            print_cpu(results["cpu"]["swanlab"], steps * KEYS)
            print(f"ratio: swanlabd is {results['ratio']:.1f}x faster (target >= 5x)")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
