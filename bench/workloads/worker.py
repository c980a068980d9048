"""One training process of the side-by-side benchmark (run by bench/compare.py).

The same file runs in three interpreters: the repo's own (``--system swanlabd``, through
swanlab_client), the cached SwanLab 0.10.3 venv (``--system swanlab``) and the cached W&B
0.31.0 venv (``--system wandb``). It therefore imports only the standard library, NumPy and
psutil at the top, and the tracker under test only inside its adapter, after the clock starts.

Every workload writes one JSON object to ``--out`` (never stdout: the trackers capture the
console while a run is live). Workloads:

- ``log``: init, ``--steps`` log() calls of 10 scalars timed one by one with perf_counter_ns in
  the training thread, finish; wall times, peak RSS, the helper process's peak RSS. With
  ``--float32`` the values are what a float32 tensor's ``.item()`` returns (most of training).
- ``fixedcost``: a NumPy matmul loop, ``--steps`` steps without logging and ``--steps`` steps
  with one log() each, in alternating blocks after init(); the logged steps' time against the
  bare steps'.
- ``crash``: init, ``--steps`` fixed-cost steps with one log() each, then SIGKILL of this very process right after the
  last log(); the facts needed to count what survived are written before the loop. With ``--matmul-n 0`` the loop
  is unpaced: the rows are logged as fast as the tracker takes them and the kill comes milliseconds after init().
- ``throughput``: init, signal ready, wait for the go file, log rows as fast as possible for
  ``--seconds``, finish; reports rows and wall-clock times so compare.py can add up all processes.
"""

from __future__ import annotations

import argparse
import glob
import importlib
import json
import os
import resource
import signal
import sys
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCALARS_PER_ROW = 10
KEYS = [f"train/metric_{k}" for k in range(SCALARS_PER_ROW)]


class Tracker:
    """The three calls a training script makes, plus where its backup file ends up."""

    name = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def load(self) -> None:
        """Import the tracker (timed apart from init(): a script pays it once per process)."""
        raise NotImplementedError

    def init(self, project: str) -> None:
        raise NotImplementedError

    # The SDK's own log function, bound by init() and called directly as log(row, step=step):
    # no wrapper frame of ours inside the timed region.
    log: Callable[..., Any]

    def finish(self) -> None:
        raise NotImplementedError

    def backup_path(self) -> str:
        raise NotImplementedError

    def helper_pids(self) -> list[int]:
        """Processes the tracker started for this run (their memory is part of its cost)."""
        import psutil

        return [child.pid for child in psutil.Process().children(recursive=True)]


class SwanLabTracker(Tracker):
    name = "swanlab"

    def load(self) -> None:
        import swanlab

        self.sdk = swanlab

    def init(self, project: str) -> None:
        swanlab = self.sdk
        # Hardware monitoring off (the other systems are measured with it off too).
        swanlab.merge_settings(swanlab.Settings(probe=swanlab.Settings.Probe(monitor=False)))
        self.run = swanlab.init(project=project, mode="offline", log_dir=str(self.workdir / "swanlog"))
        self.log = swanlab.log

    def finish(self) -> None:
        self.sdk.finish()

    def backup_path(self) -> str:
        found = glob.glob(str(self.workdir / "swanlog" / "run-*" / "run-*.swanlab"))
        return max(found, key=os.path.getmtime) if found else ""


class WandbTracker(Tracker):
    name = "wandb"

    def load(self) -> None:
        os.environ["WANDB_MODE"] = "offline"
        os.environ["WANDB_SILENT"] = "true"
        os.environ["WANDB_DIR"] = str(self.workdir)
        import wandb

        self.sdk = wandb

    def init(self, project: str) -> None:
        wandb = self.sdk
        # x_disable_stats: no system-metrics sampling (hardware monitoring off).
        self.run = wandb.init(project=project, dir=str(self.workdir), settings=wandb.Settings(x_disable_stats=True))
        self.log = self.run.log

    def finish(self) -> None:
        self.run.finish()

    def backup_path(self) -> str:
        found = glob.glob(str(self.workdir / "wandb" / "offline-run-*" / "run-*.wandb"))
        return max(found, key=os.path.getmtime) if found else ""


class SwanlabdTracker(Tracker):
    name = "swanlabd"

    def load(self) -> None:
        import swanlab_client

        self.sdk = swanlab_client

    def init(self, project: str) -> None:
        self.run = self.sdk.init(project=project, mode="offline")
        self.log = self.sdk.log

    def finish(self) -> None:
        self.sdk.finish()

    def backup_path(self) -> str:
        return str(Path(self.run.run_dir) / "backup.swanlab")

    def helper_pids(self) -> list[int]:
        # The daemon is shared and started by compare.py; its memory is reported there.
        return []


TRACKERS: dict[str, type[Tracker]] = {t.name: t for t in (SwanLabTracker, WandbTracker, SwanlabdTracker)}


def make_row(step: int) -> dict[str, float]:
    """A fresh dict per step, as a training loop builds it (outside the timed log() call).

    Not built up front: 20,000 live dicts would add ~25 MiB to every system's peak RSS.
    """
    return {key: step * 0.001 + k for k, key in enumerate(KEYS)}


def make_float32_row(step: int) -> dict[str, float]:
    """make_row's values as float32 tensors' .item() returns them: doubles of float32 values."""
    return dict(zip(KEYS, array("f", make_row(step).values()).tolist(), strict=True))


def peak_rss_bytes(pid: int | None = None) -> int:
    """VmHWM (peak resident set) of a process, from /proc; 0 if it is gone."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of this process (all its threads) or of another one."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def percentile(sorted_ns: list[int], fraction: float) -> int:
    return sorted_ns[min(len(sorted_ns) - 1, int(fraction * len(sorted_ns)))]


def workload_log(tracker: Tracker, args: argparse.Namespace, out: dict[str, Any]) -> None:
    lat = array("q", bytes(8 * args.steps))
    clock = time.perf_counter_ns
    bare_cpu = bare_loop_cpu(args.steps)
    t0 = clock()
    tracker.init("bench-log")
    t1 = clock()
    cpu0 = cpu_seconds()
    log = tracker.log
    build = make_float32_row if args.float32 else make_row
    for step in range(args.steps):
        row = build(step)
        a = clock()
        log(row, step=step)
        lat[step] = clock() - a
    t2 = clock()
    helpers = tracker.helper_pids()
    helper_rss = sum(peak_rss_bytes(pid) for pid in helpers)
    helper_cpu = {pid: cpu_seconds(pid) for pid in helpers}
    tracker.finish()
    t3 = clock()
    cpu1 = cpu_seconds()
    # A helper that outlived finish() did more work since; one that exited is counted as last seen.
    helper_cpu.update({pid: cpu_seconds(pid) for pid in helpers if Path(f"/proc/{pid}").exists()})
    ordered = sorted(lat)
    out.update(
        init_s=(t1 - t0) / 1e9,
        loop_s=(t2 - t1) / 1e9,
        finish_s=(t3 - t2) / 1e9,
        loop_finish_s=(t3 - t1) / 1e9,
        log_median_us=percentile(ordered, 0.5) / 1e3,
        log_p99_us=percentile(ordered, 0.99) / 1e3,
        log_max_us=ordered[-1] / 1e3,
        peak_rss_mb=peak_rss_bytes() / 2**20,
        cpu_s=cpu1 - cpu0,
        tracker_cpu_s=cpu1 - cpu0 - bare_cpu,
        helper_cpu_s=sum(helper_cpu.values()),
        helper_peak_rss_mb=helper_rss / 2**20,
        backup=tracker.backup_path(),
        scalars=args.steps * SCALARS_PER_ROW,
    )
    if args.latencies:
        # Every sample, for the distribution plot (docs/benchmarks.md).
        Path(args.latencies).write_text(json.dumps(list(lat)))


def bare_loop_cpu(steps: int) -> float:
    """The CPU seconds of the timed loop with a dict lookup for the log() call: what in the
    training process's CPU time from init() to finish() is not the tracker's."""
    clock = time.perf_counter_ns
    lat = array("q", bytes(8 * steps))
    cpu0 = cpu_seconds()
    for step in range(steps):
        row = make_row(step)
        a = clock()
        row.get(KEYS[0])
        lat[step] = clock() - a
    return cpu_seconds() - cpu0


def matmul_step(n: int) -> Callable[[], object]:
    """One step of fixed CPU cost: an n x n matmul (compare.py sizes it to ~1 ms)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.random((n, n))
    b = rng.random((n, n))
    a @ b  # warm the BLAS code path before the first timed step
    return lambda: a @ b


FIXEDCOST_BLOCK = 100
# Bare and logged blocks in ABBA order: drift of a shared machine over seconds cancels out, and
# background work a tracker leaves behind after a logged block falls as often into the next logged
# block as into a bare one.
FIXEDCOST_PATTERN = "BLLB"


def workload_fixedcost(tracker: Tracker, args: argparse.Namespace, out: dict[str, Any]) -> None:
    step_cost = matmul_step(args.matmul_n)
    clock = time.perf_counter
    tracker.init("bench-fixedcost")
    log = tracker.log
    # One logged block first, outside the comparison: work a tracker defers past init() (e.g.
    # swanlab_client imports grpc in its sender thread) would otherwise land in the first bare
    # block. It is reported on its own as the warm-up's extra time.
    start = clock()
    for step in range(FIXEDCOST_BLOCK):
        step_cost()
        log(make_row(step), step=step)
    warmup = clock() - start
    step = FIXEDCOST_BLOCK
    spent = {"B": 0.0, "L": 0.0}
    # The training thread's own CPU time: blind to waiting for the GIL, but also to other load on
    # the machine, so it shows the direct cost of log() where the wall clock is too noisy.
    thread_cpu = {"B": 0.0, "L": 0.0}
    # Bare time of the first and of the last B of each BLLB group, kept apart: their ratio is an
    # A/A test, the noise floor that the slowdown figure can be read against.
    bare_halves = [0.0, 0.0]
    bare_counts = [0, 0]
    for block in range(2 * max(1, args.steps // FIXEDCOST_BLOCK)):
        kind = FIXEDCOST_PATTERN[block % len(FIXEDCOST_PATTERN)]
        start, start_cpu = clock(), time.thread_time()
        if kind == "B":
            for _ in range(FIXEDCOST_BLOCK):
                step_cost()
        else:
            for _ in range(FIXEDCOST_BLOCK):
                step_cost()
                log(make_row(step), step=step)
                step += 1
        elapsed = clock() - start
        spent[kind] += elapsed
        thread_cpu[kind] += time.thread_time() - start_cpu
        if kind == "B":
            half = block % len(FIXEDCOST_PATTERN) != 0
            bare_halves[half] += elapsed
            bare_counts[half] += 1
    start = clock()
    tracker.finish()
    finish = clock() - start
    out.update(
        bare_s=spent["B"],
        logged_s=spent["L"],
        finish_s=finish,
        logged_steps=step - FIXEDCOST_BLOCK,
        step_ms=spent["B"] / (step - FIXEDCOST_BLOCK) * 1e3,
        warmup_extra_ms=(warmup - spent["L"] / (step - FIXEDCOST_BLOCK) * FIXEDCOST_BLOCK) * 1e3,
        slowdown_pct=(spent["L"] / spent["B"] - 1) * 100,
        slowdown_with_finish_pct=((spent["L"] + finish) / spent["B"] - 1) * 100,
        slowdown_thread_cpu_pct=(thread_cpu["L"] / thread_cpu["B"] - 1) * 100,
        aa_noise_pct=abs((bare_halves[1] / bare_counts[1]) / (bare_halves[0] / bare_counts[0]) - 1) * 100
        if all(bare_counts)
        else 0.0,
    )


def workload_crash(tracker: Tracker, args: argparse.Namespace, out: dict[str, Any]) -> None:
    # Paced like a training loop (one fixed-cost step per log), or unpaced (--matmul-n 0): a
    # script that logs a burst and dies milliseconds after init() (issue #12).
    step_cost = matmul_step(args.matmul_n) if args.matmul_n else (lambda: None)
    tracker.init("bench-crash")
    out.update(backup=tracker.backup_path(), helper_pids=tracker.helper_pids(), scalars=args.steps * SCALARS_PER_ROW)
    # Written before the loop: after the last log() nothing may run but the kill.
    Path(args.out).write_text(json.dumps(out))
    log = tracker.log
    for step in range(args.steps):
        step_cost()
        log(make_row(step), step=step)
    os.kill(os.getpid(), signal.SIGKILL)


def workload_throughput(tracker: Tracker, args: argparse.Namespace, out: dict[str, Any]) -> None:
    tracker.init("bench-throughput")
    log = tracker.log
    Path(args.ready).touch()
    while not os.path.exists(args.go):
        time.sleep(0.002)
    start = time.time()
    # Time-boxed, not a fixed row count: every system logs for the same --seconds, so a fast one is
    # not measured on its fixed costs (init, finish) alone. What is not durable by then is drained
    # by finish(), and that time counts.
    deadline = start + args.seconds
    step = 0
    while time.time() < deadline:
        for _ in range(64):
            log(make_row(step), step=step)
            step += 1
    tracker.finish()
    out.update(start_wall=start, end_wall=time.time(), rows=step, backup=tracker.backup_path())


WORKLOADS = {
    "log": workload_log,
    "fixedcost": workload_fixedcost,
    "crash": workload_crash,
    "throughput": workload_throughput,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=sorted(TRACKERS), required=True)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), required=True)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, required=True, help="where the tracker writes its run folder")
    parser.add_argument("--out", required=True, help="JSON result file")
    parser.add_argument("--latencies", help="also write every log() latency (ns) as JSON here")
    parser.add_argument("--matmul-n", type=int, default=128)
    parser.add_argument("--ready", help="throughput: touch this file once init() returned")
    parser.add_argument("--go", help="throughput: start logging once this file exists")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput: log for this long")
    parser.add_argument("--float32", action="store_true", help="log: values of float32 tensors")
    parser.add_argument(
        "--preimport", metavar="MODULE", help="import MODULE before the workload, outside what is measured"
    )
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(args.workdir)
    tracker = TRACKERS[args.system](args.workdir)
    start = time.perf_counter()
    tracker.load()
    out: dict[str, Any] = {"system": args.system, "workload": args.workload, "steps": args.steps, "pid": os.getpid()}
    out["import_s"] = time.perf_counter() - start
    if args.preimport:
        importlib.import_module(args.preimport)
    WORKLOADS[args.workload](tracker, args, out)
    Path(args.out).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
