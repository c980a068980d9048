"""Side-by-side benchmark: swanlab_client + swanlabd against SwanLab 0.10.3 and W&B 0.31.0 offline.

One command (docs/benchmarks.md shows its latest output):

    .venv/bin/python bench/compare.py            # full run, < 10 min on 2 cores
    .venv/bin/python bench/compare.py --quick    # a few hundred steps, 1 repetition (CI smoke)

The official SDKs are installed, once, into their own venvs under the cache directory
(``$SWANLABD_BENCH_CACHE``, default ``~/.cache/swanlabd-bench/<name>-<version>``), with the same
NumPy version as the interpreter that measures swanlabd, so the fixed-cost loop runs the same code
in every system. Every measurement is a separate training process (bench/workloads/worker.py);
systems are interleaved (A B C, A B C, ...) so that drift of a shared machine hits all of them
alike. swanlabd runs as one daemon per repetition in a temporary home, with uploading and
hardware sampling off; the anchors run offline with their hardware monitoring off.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
WORKER = BENCH_DIR / "workloads" / "worker.py"
COUNTER = BENCH_DIR / "workloads" / "count_backup.py"
PLOTTER = BENCH_DIR / "plot_latency.py"
DRAIN = BENCH_DIR / "bench_drain.py"

SWANLAB_VERSION = "0.10.3"
WANDB_VERSION = "0.31.0"
MATPLOTLIB_SPEC = "matplotlib>=3.8"
SYSTEMS = ("swanlabd", "swanlab", "wandb")
LABELS = {"swanlabd": "swanlabd", "swanlab": f"SwanLab {SWANLAB_VERSION}", "wandb": f"W&B {WANDB_VERSION}"}
SCALARS_PER_ROW = 10
THROUGHPUT_PROCESSES = 8
# Seconds a killed run gets to settle: swanlabd writes Finish{CRASHED} within 5 s, W&B's
# service process may still drain what it had.
CRASH_SETTLE_S = 7.0


class BenchError(RuntimeError):
    """The harness itself failed (a venv could not be built, a worker died unexpectedly)."""


@dataclass(frozen=True)
class Sizes:
    log_steps: int
    fixed_steps: int
    crash_steps: int
    throughput_s: float
    reps: int
    workloads: tuple[str, ...]


FULL = Sizes(
    20_000, 1_500, 2_000, 2.0, 3, ("log", "size32", "fixedcost", "crash", "crash_unpaced", "throughput", "drain")
)
QUICK = Sizes(300, 200, 300, 0.5, 1, ("log", "size32", "fixedcost", "crash", "crash_unpaced"))


# --------------------------------------------------------------------------- environments


def cache_dir() -> Path:
    return Path(os.environ.get("SWANLABD_BENCH_CACHE") or Path.home() / ".cache" / "swanlabd-bench")


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venvs(specs: dict[str, list[str]], log: Callable[[str], None]) -> dict[str, Path]:
    """Build the venvs that are missing or whose requirements changed, in parallel; their pythons.

    A venv counts as ready once a marker file holding its exact requirement list exists, so an
    interrupted install is redone rather than trusted.
    """
    pythons: dict[str, Path] = {}
    jobs: list[tuple[str, Path, list[str], subprocess.Popen[bytes], Path]] = []
    for name, requirements in specs.items():
        venv = cache_dir() / name
        marker = venv / ".swanlabd-bench-requirements"
        pythons[name] = venv_python(venv)
        if marker.exists() and marker.read_text() == "\n".join(requirements) and pythons[name].exists():
            continue
        log(f"installing {' '.join(requirements)} into {venv} ...")
        venv.parent.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)
        logfile = venv.parent / f"{name}.install.log"
        script = f"{shlex.join([sys.executable, '-m', 'venv', str(venv)])} && " + shlex.join(
            [str(venv_python(venv)), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements]
        )
        with open(logfile, "wb") as out:
            proc = subprocess.Popen(["bash", "-c", script], stdout=out, stderr=subprocess.STDOUT)
        jobs.append((name, venv, requirements, proc, logfile))
    for name, venv, requirements, proc, logfile in jobs:
        if proc.wait() != 0:
            raise BenchError(f"installing {name} failed, see {logfile}")
        (venv / ".swanlabd-bench-requirements").write_text("\n".join(requirements))
    return pythons


def numpy_version(python: Path | str) -> str:
    out = subprocess.run([str(python), "-c", "import numpy; print(numpy.__version__)"], capture_output=True, text=True)
    if out.returncode != 0:
        raise BenchError(f"{python} has no NumPy (install the repo with its test or bench extra)")
    return out.stdout.strip()


def worker_env(base: Path) -> dict[str, str]:
    """Environment of every training process: single-threaded BLAS, trackers' homes kept in `base`."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        # One BLAS thread: the "training thread" owns one core, the logger may use the other.
        env[var] = "1"
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_CONFIG_DIR=str(base / "wandb-config"),
        WANDB_CACHE_DIR=str(base / "wandb-cache"),
        WANDB_DATA_DIR=str(base / "wandb-data"),
        SWANLAB_MODE="offline",
        SWANLAB_ROOT=str(base / "swanlab-root"),
        PYTHONUNBUFFERED="1",
    )
    return env


# --------------------------------------------------------------------------- the daemon


@dataclass
class Daemon:
    """One swanlabd for a repetition, in its own home and socket directory."""

    python: Path
    home: Path
    socket_dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.socket_dir / "swanlabd.sock"

    def env(self) -> dict[str, str]:
        return {
            "SWANLABD_DATA_ROOT": str(self.home),
            "SWANLABD_SOCKET": str(self.socket),
            # Hardware sampling and uploads off: the anchors run offline without monitoring too.
            "SWANLABD_MONITOR_INTERVAL_S": "0",
            "SWANLABD_UPLOAD": "false",
            "SWANLABD_LOG_FILE": str(self.home / "swanlabd.log"),
        }

    def start(self, env: dict[str, str]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        full_env = {**env, **self.env(), "XDG_CONFIG_HOME": str(self.home / "config")}
        with open(self.home / "swanlabd.stderr", "wb") as err:
            self.proc = subprocess.Popen(
                [str(self.python), "-m", "swanlabd", "run"], env=full_env, stdout=err, stderr=err, cwd=self.home
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"swanlabd exited with {self.proc.returncode}: {self.stderr_tail()}")
            if self._answers():
                return
            time.sleep(0.05)
        raise BenchError(f"swanlabd did not answer on {self.socket} within 20 s: {self.stderr_tail()}")

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(self.socket))
            return True
        except OSError:
            return False

    def stderr_tail(self) -> str:
        try:
            return (self.home / "swanlabd.stderr").read_text()[-2000:]
        except OSError:
            return ""

    def rss_mb(self) -> tuple[float, float]:
        """(current, peak) resident set of the daemon, MiB."""
        assert self.proc is not None
        values = {"VmRSS:": 0.0, "VmHWM:": 0.0}
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                key = line.split(maxsplit=1)[0]
                if key in values:
                    values[key] = int(line.split()[1]) / 1024
        return values["VmRSS:"], values["VmHWM:"]

    def cpu_s(self) -> float:
        """User + system CPU seconds the daemon has used so far (/proc/PID/stat, clock ticks)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- running workloads


@dataclass
class Context:
    pythons: dict[str, Path]
    sizes: Sizes
    base: Path
    env: dict[str, str]
    matmul_n: int
    daemon: Daemon | None = None
    results: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    latencies: dict[str, list[int]] = field(default_factory=dict)
    counter: int = 0

    def record(self, figure: str, system: str, value: float) -> None:
        self.results.setdefault(figure, {}).setdefault(system, []).append(value)

    def workdir(self, system: str, workload: str) -> Path:
        self.counter += 1
        return self.base / f"{self.counter:03d}-{system}-{workload}"

    def system_env(self, system: str) -> dict[str, str]:
        if system == "swanlabd" and self.daemon is not None:
            return {**self.env, **self.daemon.env()}
        return self.env


def run_worker(
    ctx: Context, system: str, workload: str, steps: int, *extra: str, expect_kill: bool = False
) -> dict[str, Any]:
    workdir = ctx.workdir(system, workload)
    out = workdir.with_suffix(".json")
    cmd = [
        str(ctx.pythons[system]),
        str(WORKER),
        "--system",
        system,
        "--workload",
        workload,
        "--steps",
        str(steps),
        "--workdir",
        str(workdir),
        "--out",
        str(out),
        *extra,
    ]
    proc = subprocess.run(cmd, env=ctx.system_env(system), capture_output=True, timeout=600)
    killed = proc.returncode == -signal.SIGKILL
    if (proc.returncode != 0 and not (expect_kill and killed)) or not out.exists():
        raise BenchError(
            f"{system} {workload} worker failed (exit {proc.returncode}):\n"
            f"{proc.stderr.decode(errors='replace')[-3000:]}"
        )
    return json.loads(out.read_text())


def count_backup(ctx: Context, system: str, path: str) -> dict[str, Any]:
    proc = subprocess.run(
        [str(ctx.pythons[system]), str(COUNTER), system, path],
        env=ctx.system_env(system),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BenchError(f"counting {path} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def workload_log(ctx: Context, system: str, rep: int) -> None:
    lat_file = ctx.base / f"lat-{system}-{rep}.json"
    daemon_cpu = ctx.daemon.cpu_s() if system == "swanlabd" and ctx.daemon else 0.0
    res = run_worker(ctx, system, "log", ctx.sizes.log_steps, "--latencies", str(lat_file))
    if system == "swanlabd" and ctx.daemon:
        daemon_cpu = ctx.daemon.cpu_s() - daemon_cpu
    else:
        daemon_cpu = res["helper_cpu_s"]
    # CPU per row over every process involved: robust to other load on the machine, unlike wall time.
    ctx.record("cpu_per_row_us", system, (res["cpu_s"] + daemon_cpu) / res["steps"] * 1e6)
    # The tracker's own CPU inside the training process, all its threads (issue #12's figure).
    ctx.record("client_cpu_per_row_us", system, res["tracker_cpu_s"] / res["steps"] * 1e6)
    ctx.latencies.setdefault(system, []).extend(json.loads(lat_file.read_text()))
    for key in ("log_median_us", "log_p99_us", "log_max_us", "loop_finish_s", "init_s", "import_s", "peak_rss_mb"):
        ctx.record(key, system, res[key])
    if system == "swanlabd":
        assert ctx.daemon is not None
        current, _peak = ctx.daemon.rss_mb()
        ctx.record("helper_rss_mb", system, current)
    elif res["helper_peak_rss_mb"]:
        ctx.record("helper_rss_mb", system, res["helper_peak_rss_mb"])
    counted = count_backup(ctx, system, res["backup"])
    if counted["scalars"] != res["scalars"]:
        ctx.notes.append(
            f"{system} log rep {rep + 1}: backup holds {counted['scalars']} of {res['scalars']} scalars after finish()"
        )
    ctx.record("bytes_per_scalar", system, os.path.getsize(res["backup"]) / res["scalars"])
    if system == "swanlabd":
        # What the client costs without importing grpc (30-50 ms of CPU, most of it asyncio, which
        # grpc's Cython core imports): the part of the figure above the transport decides.
        pre = run_worker(ctx, system, "log", ctx.sizes.log_steps, "--preimport", "grpc")
        ctx.record("client_cpu_pre_grpc_us", system, pre["tracker_cpu_s"] / pre["steps"] * 1e6)


def workload_size32(ctx: Context, system: str, rep: int) -> None:
    """The log workload's backup size when the values come from float32 tensors (loss.item())."""
    res = run_worker(ctx, system, "log", ctx.sizes.log_steps, "--float32")
    ctx.record("bytes_per_scalar_f32", system, os.path.getsize(res["backup"]) / res["scalars"])


def workload_fixedcost(ctx: Context, system: str, rep: int) -> None:
    res = run_worker(ctx, system, "fixedcost", ctx.sizes.fixed_steps, "--matmul-n", str(ctx.matmul_n))
    ctx.record("slowdown_pct", system, res["slowdown_pct"])
    ctx.record("slowdown_with_finish_pct", system, res["slowdown_with_finish_pct"])
    ctx.record("step_ms", system, res["step_ms"])
    ctx.record("aa_noise_pct", system, res["aa_noise_pct"])
    ctx.record("warmup_extra_ms", system, res["warmup_extra_ms"])
    ctx.record("slowdown_thread_cpu_pct", system, res["slowdown_thread_cpu_pct"])


def workload_crash(ctx: Context, system: str, rep: int) -> None:
    crash(ctx, system, rep, ctx.matmul_n, "crash")


def workload_crash_unpaced(ctx: Context, system: str, rep: int) -> None:
    crash(ctx, system, rep, 0, "crash_unpaced")


def crash(ctx: Context, system: str, rep: int, matmul_n: int, name: str) -> None:
    """SIGKILL of the training process right after its last log(); what the backup holds then."""
    res = run_worker(ctx, system, "crash", ctx.sizes.crash_steps, "--matmul-n", str(matmul_n), expect_kill=True)
    path = res["backup"]
    # Let the survivors finish what they do after the kill (daemon crash detection, W&B's
    # service draining its queue), then count: stop once the file is stable and, for
    # swanlabd, the crash Finish record is there.
    deadline = time.monotonic() + CRASH_SETTLE_S
    last_size, stable_since = -1, time.monotonic()
    counted = count_backup(ctx, system, path)
    while time.monotonic() < deadline:
        size = os.path.getsize(path)
        helpers_alive = any(Path(f"/proc/{pid}").exists() for pid in res["helper_pids"])
        if size != last_size:
            last_size, stable_since = size, time.monotonic()
        elif not helpers_alive and time.monotonic() - stable_since > 1.0:
            counted = count_backup(ctx, system, path)
            if system != "swanlabd" or counted["finish"]:
                break
        time.sleep(0.1)
    counted = count_backup(ctx, system, path)
    ctx.record(f"{name}_lost", system, res["scalars"] - counted["scalars"])
    ctx.record(f"{name}_finish", system, 1.0 if counted["finish"] else 0.0)
    if counted["finish"]:
        ctx.notes.append(f"{system} {name} rep {rep + 1}: finish record after SIGKILL: {counted['state']}")


def workload_throughput(ctx: Context, system: str, rep: int) -> None:
    gate = ctx.base / f"tp-{system}-{rep}"
    gate.mkdir()
    go = gate / "go"
    procs = []
    outs = []
    for i in range(THROUGHPUT_PROCESSES):
        workdir = ctx.workdir(system, f"throughput{i}")
        out = workdir.with_suffix(".json")
        cmd = [
            str(ctx.pythons[system]),
            str(WORKER),
            "--system",
            system,
            "--workload",
            "throughput",
            "--seconds",
            str(ctx.sizes.throughput_s),
            "--workdir",
            str(workdir),
            "--out",
            str(out),
            "--ready",
            str(gate / f"ready{i}"),
            "--go",
            str(go),
        ]
        procs.append(
            subprocess.Popen(cmd, env=ctx.system_env(system), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        )
        outs.append(out)
    deadline = time.monotonic() + 120
    while sum(1 for i in range(THROUGHPUT_PROCESSES) if (gate / f"ready{i}").exists()) < THROUGHPUT_PROCESSES:
        if time.monotonic() > deadline or any(p.poll() not in (None, 0) for p in procs):
            for p in procs:
                p.kill()
            raise BenchError(f"{system} throughput workers did not get ready: {procs[0].communicate()[1][-2000:]!r}")
        time.sleep(0.01)
    go_wall = time.time()
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=600)
        if p.returncode != 0:
            raise BenchError(f"{system} throughput worker failed: {err.decode(errors='replace')[-2000:]}")
    results = [json.loads(o.read_text()) for o in outs]
    logged = sum(r["rows"] for r in results)
    # Durable means in the backup file once finish() returned: count it there, not in the workers.
    durable = sum(count_backup(ctx, system, r["backup"])["scalars"] for r in results) // SCALARS_PER_ROW
    if durable != logged:
        ctx.notes.append(f"{system} throughput rep {rep + 1}: {logged} rows logged, {durable} in the backups")
    ctx.record("throughput_rows_s", system, durable / (max(r["end_wall"] for r in results) - go_wall))


def workload_drain(ctx: Context, systems: Sequence[str]) -> None:
    """Upload drain of a 1,000,000-scalar backlog: bench/bench_drain.py."""
    if not DRAIN.exists():
        ctx.notes.append("drain: skipped, bench/bench_drain.py does not exist yet")
        return
    out = ctx.base / "drain.json"
    cmd = [str(ctx.pythons["swanlabd"]), str(DRAIN), "--json", str(out)]
    if "swanlab" in systems:
        cmd += ["--swanlab-python", str(ctx.pythons["swanlab"])]
    else:
        cmd.append("--skip-swanlab")
    proc = subprocess.run(cmd, env=ctx.env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not out.exists():
        ctx.notes.append(f"drain: bench/bench_drain.py failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
        return
    data = json.loads(out.read_text())
    for system in ("swanlabd", "swanlab"):
        if system in data:
            ctx.record("drain_s", system, float(data[system]))


PER_SYSTEM: dict[str, Callable[[Context, str, int], None]] = {
    "log": workload_log,
    "size32": workload_size32,
    "fixedcost": workload_fixedcost,
    "crash": workload_crash,
    "crash_unpaced": workload_crash_unpaced,
    "throughput": workload_throughput,
}


def calibrate_matmul(python: Path, env: dict[str, str], target_ms: float = 1.0) -> int:
    """The square matmul size that takes about `target_ms` on one BLAS thread here."""
    script = (
        "import numpy as np, time\n"
        "best = 64\n"
        "for n in range(64, 1025, 16):\n"
        "    a = np.random.rand(n, n); b = np.random.rand(n, n); a @ b\n"
        "    t = time.perf_counter()\n"
        "    for _ in range(20): a @ b\n"
        f"    if (time.perf_counter() - t) / 20 * 1e3 > {target_ms:f}: break\n"
        "    best = n\n"
        "print(best)\n"
    )
    out = subprocess.run([str(python), "-c", script], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    lower_is_better: bool
    target: float | None  # absolute goal for swanlabd, None: reported, not judged
    ten_x: bool  # judged by the "10x better than the better anchor" rule
    ratio_shown: bool = True


FIGURES = (
    Figure("log_median_us", "log() median", "µs", True, 2, True),
    Figure("log_p99_us", "log() p99", "µs", True, 30, True),
    Figure("log_max_us", "log() max", "µs", True, None, False),
    Figure("loop_finish_s", "log loop + finish, wall", "s", True, 0.3, True),
    Figure("init_s", "init() (swanlabd: daemon up)", "s", True, 0.030, True),
    Figure("import_s", "import of the SDK", "s", True, None, False),
    Figure("peak_rss_mb", "peak RSS, training process", "MiB", True, None, False),
    Figure("helper_rss_mb", "RSS of the helper (daemon / wandb-core)", "MiB", True, None, False),
    Figure("cpu_per_row_us", "CPU per row, training process + helper", "µs", True, None, False),
    Figure("client_cpu_per_row_us", "CPU per row inside the training process (all threads)", "µs", True, 2, False),
    Figure("client_cpu_pre_grpc_us", "same, grpc imported before init()", "µs", True, None, False),
    Figure("bytes_per_scalar", "backup bytes per scalar", "B", True, 9.5, True),
    Figure("bytes_per_scalar_f32", "same, values of float32 tensors", "B", True, 5, True),
    Figure("throughput_rows_s", f"throughput, {THROUGHPUT_PROCESSES} processes", "rows/s", False, None, True),
    Figure("slowdown_pct", "slowdown of a ~1 ms/step loop", "%", True, 1, True),
    Figure("slowdown_with_finish_pct", "same, finish() included", "%", True, None, False),
    Figure("slowdown_thread_cpu_pct", "same, training thread's CPU time", "%", True, None, False),
    Figure("aa_noise_pct", "noise floor of that loop (bare vs bare blocks)", "%", True, None, False, ratio_shown=False),
    Figure("warmup_extra_ms", "first 100 logged steps after init(): extra time", "ms", True, None, False),
    Figure("crash_lost", "points lost on SIGKILL", "points", True, 0, True),
    Figure("crash_unpaced_lost", "same, unpaced loop killed ms after init()", "points", True, 0, True),
    Figure("drain_s", "drain of 1M scalars vs `swanlab sync`", "s", True, None, True),
)


def fmt(value: float, unit: str) -> str:
    magnitude = abs(value)
    if unit == "points" or (unit == "rows/s" and magnitude >= 100):
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def cell(values: list[float] | None, unit: str) -> str:
    if not values:
        return "—"
    median = statistics.median(values)
    if len(values) == 1:
        return fmt(median, unit)
    return f"{fmt(median, unit)} ({fmt(min(values), unit)}–{fmt(max(values), unit)})"


def ratio(figure: Figure, ours: float, anchors: list[float]) -> float | None:
    """How many times better swanlabd is than the better anchor (>1: better); None if undefined."""
    if not anchors:
        return None
    if figure.lower_is_better:
        best = min(anchors)
        if ours <= 0:
            return float("inf") if best > 0 else None
        return best / ours if best > 0 else None
    best = max(anchors)
    return ours / best if best > 0 else None


def table(results: dict[str, dict[str, list[float]]], systems: Sequence[str]) -> tuple[str, list[str]]:
    """The markdown table, and the list of judged targets that were missed or could not be judged."""
    anchors = [s for s in systems if s != "swanlabd"]
    head = ["figure", *(f"{LABELS[s]}" for s in systems), "best anchor ÷ swanlabd", "target", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    missed: list[str] = []
    noise = results.get("aa_noise_pct", {}).get("swanlabd")
    noise_floor = statistics.median(noise) if noise else None
    for fig in FIGURES:
        per_system = results.get(fig.key, {})
        if not per_system:
            continue
        cells = [cell(per_system.get(s), fig.unit) for s in systems]
        medians = {s: statistics.median(v) for s, v in per_system.items() if v}
        ours = medians.get("swanlabd")
        others = [medians[a] for a in anchors if a in medians]
        signed = fig.key.startswith("slowdown")
        if not fig.ratio_shown:
            factor, factor_txt = None, "—"
        elif signed and ours is not None and (ours <= 0 or any(v <= 0 for v in others)):
            # A slowdown at or below zero is noise; a ratio of two such numbers means nothing.
            factor, factor_txt = None, "within noise"
        else:
            factor = ratio(fig, ours, others) if ours is not None else None
            factor_txt = "—" if factor is None else ("∞" if factor == float("inf") else f"{factor:.1f}×")
        # Within the noise floor of the target, a slowdown can be neither claimed nor denied.
        unjudgeable = (
            signed
            and fig.target is not None
            and noise_floor is not None
            and ours is not None
            and abs(ours - fig.target) < noise_floor
        )
        goals, verdicts = [], []
        if fig.target is not None:
            op = "≤" if fig.lower_is_better else "≥"
            goals.append(f"{op} {fig.target:g} {fig.unit}")
            if unjudgeable:
                verdicts.append("❔")
                missed.append(
                    f"{fig.label}: not judged, {fmt(ours, fig.unit)} % is within the loop's noise floor "
                    f"({noise_floor:.1f} %) of the target"
                )
            elif ours is not None:
                ok = ours <= fig.target if fig.lower_is_better else ours >= fig.target
                verdicts.append("✅" if ok else "❌")
                if not ok:
                    missed.append(f"{fig.label}: {fmt(ours, fig.unit)} {fig.unit}, target {goals[-1]}")
        if fig.ten_x:
            need = 5 if fig.key == "drain_s" else 10
            goals.append(f"{need}× anchor")
            if factor is not None:
                # Under the absolute target, a ratio to an anchor adds nothing (0.5 % vs 3 %).
                ok = factor >= need or (signed and fig.target is not None and ours is not None and ours <= fig.target)
                verdicts.append("✅" if ok else "❌")
                if not ok:
                    missed.append(f"{fig.label}: {factor_txt} the better anchor, target {need}×")
        unit = f" ({fig.unit})"
        lines.append(
            "| "
            + " | ".join([fig.label + unit, *cells, factor_txt, ", ".join(goals) or "—", " ".join(verdicts) or "—"])
            + " |"
        )
    return "\n".join(lines), missed


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred steps, 1 repetition, no slow workloads")
    parser.add_argument("--reps", type=int, help="repetitions (default: 3, --quick: 1)")
    parser.add_argument("--python", type=Path, default=Path(sys.executable), help="interpreter with swanlabd installed")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    parser.add_argument("--workloads", help="comma-separated subset of " + ",".join((*PER_SYSTEM, "drain")))
    parser.add_argument("--json", type=Path, help="write every raw figure and the table here")
    parser.add_argument("--plot", type=Path, help="PNG of the log() latency distributions (matplotlib, own venv)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary run folders")
    args = parser.parse_args(argv)
    # abspath, not resolve(): a venv's python is a symlink whose target is outside the venv.
    args.python = Path(os.path.abspath(args.python))
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(args.systems) - set(SYSTEMS)
    if unknown or not args.systems:
        parser.error(f"--systems takes a subset of {', '.join(SYSTEMS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    base_sizes = QUICK if args.quick else FULL
    workloads = tuple(args.workloads.split(",")) if args.workloads else base_sizes.workloads
    sizes = Sizes(
        base_sizes.log_steps,
        base_sizes.fixed_steps,
        base_sizes.crash_steps,
        base_sizes.throughput_s,
        args.reps or base_sizes.reps,
        workloads,
    )

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    npver = numpy_version(args.python)
    specs = {
        f"swanlab-{SWANLAB_VERSION}": [f"swanlab=={SWANLAB_VERSION}", f"numpy=={npver}", "psutil"],
        f"wandb-{WANDB_VERSION}": [f"wandb=={WANDB_VERSION}", f"numpy=={npver}", "psutil"],
    }
    wanted = {k: v for k, v in specs.items() if k.split("-")[0] in args.systems}
    if args.plot:
        wanted["plot"] = [MATPLOTLIB_SPEC]
    venvs = ensure_venvs(wanted, log)
    pythons: dict[str, Path] = {"swanlabd": args.python}
    for name, python in venvs.items():
        if name != "plot":
            pythons[name.split("-")[0]] = python

    base = Path(tempfile.mkdtemp(prefix="swanlabd-bench-"))
    env = worker_env(base)
    matmul_n = calibrate_matmul(args.python, env) if {"fixedcost", "crash"} & set(workloads) else 0
    ctx = Context(pythons=pythons, sizes=sizes, base=base, env=env, matmul_n=matmul_n)
    log(f"venvs ready after {time.monotonic() - started:.0f} s; work dir {base}; matmul {matmul_n}x{matmul_n}")
    try:
        for rep in range(sizes.reps):
            if "swanlabd" in args.systems:
                # A short directory: a Unix socket path must stay under 108 bytes.
                socket_dir = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
                ctx.daemon = Daemon(args.python, base / f"daemon-{rep}", socket_dir)
                ctx.daemon.start(env)
            try:
                for workload in workloads:
                    if workload not in PER_SYSTEM:
                        continue
                    for system in args.systems:
                        log(f"rep {rep + 1}/{sizes.reps}: {workload} {system}")
                        PER_SYSTEM[workload](ctx, system, rep)
            finally:
                if ctx.daemon is not None:
                    ctx.daemon.stop()
                    shutil.rmtree(ctx.daemon.socket_dir, ignore_errors=True)
        if "drain" in workloads:
            log("drain")
            workload_drain(ctx, args.systems)
        rendered, missed = table(ctx.results, args.systems)
        info = machine()
        print(
            f"\nswanlabd vs SwanLab {SWANLAB_VERSION} and W&B {WANDB_VERSION}, offline, hardware monitoring off; "
            f"{sizes.reps} repetition(s) interleaved; median (min–max)\n"
            f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}, {info['date']}; "
            f"log: {sizes.log_steps} steps x {SCALARS_PER_ROW} scalars; fixed-cost loop: {sizes.fixed_steps} "
            f"steps of a {matmul_n}x{matmul_n} matmul\n"
        )
        print(rendered)
        if "swanlabd" not in args.systems:
            print("\nswanlabd not measured: no target judged.")
        else:
            print("\nTargets missed:" if missed else "\nAll judged targets met.")
        for line in missed:
            print(f"- {line}")
        if ctx.notes:
            print("\nNotes:")
            for note in ctx.notes:
                print(f"- {note}")
        print(f"\ntotal time {time.monotonic() - started:.0f} s")
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "machine": info,
                        "sizes": sizes.__dict__,
                        "matmul_n": matmul_n,
                        "results": ctx.results,
                        "notes": ctx.notes,
                        "table": rendered,
                        "missed": missed,
                    },
                    indent=1,
                )
            )
        if args.plot:
            lat_file = base / "latencies.json"
            lat_file.write_text(json.dumps(ctx.latencies))
            subprocess.run([str(venvs["plot"]), str(PLOTTER), str(lat_file), str(args.plot)], check=True)
            log(f"plot written to {args.plot}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
