"""Chaos soak: many training processes log through one swanlabd to the test cloud while the daemon,
the clients, the cloud (and the disk) fail at random; then an exact account of every row.

    .venv/bin/python bench/soak.py --seconds 60 --seed 1
    .venv/bin/python bench/soak.py --seconds 3600 --seed 7 --workers 8 --faults all   # as long as you like

Setup: a test cloud (swanlab_testcloud, in this process), a daemon with forwarding on, and
`--workers` processes of bench/workloads/soak_worker.py started at once, each logging a cloud
run of a random length and replaced by a new one when it ends. For `--seconds` the soak then
injects one fault at a time from `--faults`, at random (seeded by `--seed`), each of them once
first, in a random order: a short soak on a slow machine still meets every fault it names:

    daemon-kill   SIGKILL the daemon; it is restarted at once or left for a client to start
    daemon-stop   SIGSTOP the daemon for 0.5-3 s, then SIGCONT
    client-kill   SIGKILL a training process (a new one takes its place)
    cloud         a test-cloud fault (5xx, 429, reset, slow, dropped answer) or an outage
    disk          (root only) the data root is a tmpfs: fill it for 1-4 s, then empty it

`--faults` defaults to every fault but disk (daemon-kill, daemon-stop, client-kill, cloud),
which needs root to mount the tmpfs; `all` adds it. Then the faults stop, the training
processes finish, the daemon drains the uploads (up to `--drain-timeout`), and the soak reads
every worker's side file, every backup and the cloud. It prints one table and exits 1 if a row
that was acked (its run finished) is missing, anything is stored or uploaded twice, anything
stored was never logged, a killed run's backup has a hole, something stored never reached the
cloud, a run is stuck RUNNING, or a training process hung or failed; else 0. `--json OUT`
writes the same account as JSON. The run's directory is kept when the soak fails (or `--keep`).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The fault layer and the daemon helper are the tests' own (tests/helpers/): one implementation.
sys.path.insert(0, str(REPO / "tests"))

from helpers.backupview import read_view  # noqa: E402 - needs the sys.path line above
from helpers.daemon import DaemonProcess, DaemonStartError  # noqa: E402
from helpers.faults import CloudChaos, Crowd, TmpfsDisk, paused  # noqa: E402
from swanlab_testcloud import CloudServer  # noqa: E402

WORKER = REPO / "bench" / "workloads" / "soak_worker.py"
API_KEY = "soak-test-key-0123456789"
USER = "soak"
FAULTS = ("daemon-kill", "daemon-stop", "client-kill", "cloud", "disk")
SURVIVED = ("daemon-kill", "daemon-stop", "client-kill", "cloud")
# Relative odds of each fault per tick: a daemon kill costs the most (every client reconnects).
WEIGHTS = {"daemon-kill": 2, "daemon-stop": 1, "client-kill": 3, "cloud": 3, "disk": 1}
RESTART_GRACE_S = 3.0  # how long a killed daemon is left for a client to auto-start
WORKER_FINISH_S = 150.0  # a worker's rows plus finish() under load; past it the worker hung
HUNG = -1000  # the exit code noted for a worker the soak had to kill after WORKER_FINISH_S


def expected(step: int) -> dict[str, float]:
    """What soak_worker.py logs at `step`."""
    return {"soak/a": float(step), "soak/b": step / 2, "soak/c": -float(step)}


@dataclass
class Account:
    """The soak's result. Every field under `must_be_zero` is a broken promise when non-zero."""

    seconds: float
    seed: int
    faults: dict[str, int] = field(default_factory=dict)
    workers: dict[str, int] = field(default_factory=dict)
    runs: int = 0
    accepted: int = 0
    accepted_finished: int = 0
    accepted_killed: int = 0
    stored: int = 0
    uploaded: int = 0
    lost_unacked: int = 0
    must_be_zero: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def failed(self) -> bool:
        return any(self.must_be_zero.values())

    def table(self) -> str:
        z = self.must_be_zero
        lines = [
            f"soak: {self.seconds:.0f} s, seed {self.seed}",
            "faults: " + (", ".join(f"{k} {v}" for k, v in self.faults.items()) or "none"),
            "workers: " + ", ".join(f"{k} {v}" for k, v in self.workers.items()),
            "",
            f"| {'rows':<44} | {'count':>9} |",
            f"|{'-' * 46}|{'-' * 11}|",
            f"| {'accepted by log()':<44} | {self.accepted:>9} |",
            f"| {'  of runs that finished (acked)':<44} | {self.accepted_finished:>9} |",
            f"| {'  of killed or unfinished clients':<44} | {self.accepted_killed:>9} |",
            f"| {'  lost with a killed client, never acked':<44} | {self.lost_unacked:>9} |",
            f"| {'stored in backups':<44} | {self.stored:>9} |",
            f"| {'uploaded to the test cloud':<44} | {self.uploaded:>9} |",
            f"| {'runs':<44} | {self.runs:>9} |",
            f"|{'-' * 46}|{'-' * 11}|",
        ]
        lines += [f"| {name + ' (must be 0)':<44} | {count:>9} |" for name, count in z.items()]
        for name, items in self.examples.items():
            if items:
                lines.append(f"{name}: " + "; ".join(items[:5]))
        lines.append("FAILED: a promise was broken" if self.failed() else "OK: every promise kept")
        return "\n".join(lines)


@dataclass
class Worker:
    name: str
    side: Path
    run_id: str = ""
    accepted: int = 0  # rows noted before log(): the last may not have been accepted if killed
    finished: bool = False
    gave_up: bool = False
    killed: bool = False
    exit_code: int | None = None

    def read_side(self) -> None:
        for line in self.side.read_text().splitlines() if self.side.exists() else []:
            kind, _, value = line.partition(" ")
            if kind == "RUN":
                self.run_id = value
            elif kind == "L":
                self.accepted = int(value) + 1
            elif kind == "FINISHED":
                self.finished = True
            elif kind == "GAVE-UP":
                self.gave_up = True


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.faults = [f for f in FAULTS if f in args.faults]
        self.counts = dict.fromkeys(self.faults, 0)
        self.events: list[str] = []
        self.t0 = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="soak-", dir="/tmp"))
        self.cloud = CloudServer(self.root / "cloud.db", {API_KEY: USER}).start()
        self.chaos = CloudChaos(self.cloud, self.rng, max_outage_s=4.0)
        self.d = DaemonProcess(env={"SWANLABD_UPLOAD": "true"})
        self.d.env = {k: v for k, v in self.d.env.items() if not k.startswith("SWANLAB_")}
        self.disk = TmpfsDisk(self.d.home, args.disk_mb << 20) if "disk" in self.faults else None
        (self.root / "side").mkdir()
        env = {**self.d.env, "SWANLAB_API_HOST": self.cloud.url, "SWANLAB_WEB_HOST": self.cloud.url}
        self.crowd = Crowd({**env, "SWANLAB_API_KEY": API_KEY}, self.root / "side")
        self.workers: dict[str, Worker] = {}
        self.down_since: float | None = None

    # -- the soak's phases --

    def run(self) -> Account:
        self.d.start()
        for _ in range(self.args.workers):  # all at once, as a sweep starts them
            self.start_worker()
        deadline = self.t0 + self.args.seconds
        first = self.rng.sample(self.faults, len(self.faults))  # popped from the end
        while time.monotonic() < deadline:
            self.keep_daemon()
            self.top_up()
            if first:
                fault: str | None = first.pop()
            else:
                fault = self.rng.choices(self.faults, [WEIGHTS[f] for f in self.faults])[0] if self.faults else None
            if fault is not None:
                self.counts[fault] += 1
                self.log(f"{fault}: {self.inject(fault)}")
            time.sleep(self.rng.uniform(0.2, 1.2))  # the soak's pace, not a synchronisation
        self.calm()
        self.wind_down()
        return self.drain_and_account()

    def inject(self, fault: str) -> str:
        rng = self.rng
        if fault == "daemon-kill":
            pid = self.d.pid
            if pid is None:
                return "no daemon up"
            self.d.kill(signal.SIGKILL)
            if rng.random() < 0.5:
                self.start_daemon()
                return f"killed {pid}, restarted"
            self.down_since = time.monotonic()
            return f"killed {pid}, left for the clients to start"
        if fault == "daemon-stop":
            pid = self.d.pid
            if pid is None:
                return "no daemon up"
            seconds = rng.uniform(0.5, 3.0)
            with paused(pid):
                time.sleep(seconds)
            return f"stopped {pid} for {seconds:.1f}s"
        if fault == "client-kill":
            name = self.crowd.kill_one(rng)
            if name is not None:
                self.workers[name].killed = True
            return f"killed {name}"
        if fault == "cloud":
            return self.chaos.step()
        assert self.disk is not None
        seconds = rng.uniform(1.0, 4.0)
        self.disk.fill()
        time.sleep(seconds)
        self.disk.free()
        return f"disk full for {seconds:.1f}s"

    def calm(self) -> None:
        """No more faults: the cloud answers, the disk has room, a daemon runs."""
        self.chaos.calm()
        if self.disk is not None:
            self.disk.free()
        self.start_daemon()
        self.log("calm")

    def wind_down(self) -> None:
        """Let every live worker log its remaining rows and finish; kill one that hangs."""
        deadline = time.monotonic() + WORKER_FINISH_S
        while self.crowd.alive() and time.monotonic() < deadline:
            self.keep_daemon()
            time.sleep(0.2)
        for name in self.crowd.alive():
            self.log(f"{name} hung: killed")
            self.crowd.procs[name].kill()
            self.workers[name].exit_code = HUNG
        self.crowd.close()
        self.reap()

    # -- daemon and workers --

    def start_daemon(self) -> None:
        if self.d.running:
            return
        try:
            self.d.start()
        except DaemonStartError:
            # A client auto-started one meanwhile (ours then exits: one daemon per data root).
            if not self.d.running:
                raise
        self.down_since = None

    def keep_daemon(self) -> None:
        """Restart the daemon if it stayed down past the grace a client has to start it."""
        if self.d.running:
            self.down_since = None
        elif self.down_since is None:
            self.down_since = time.monotonic()
        elif time.monotonic() - self.down_since > RESTART_GRACE_S:
            self.start_daemon()
            self.log("daemon restarted by the soak")

    def start_worker(self) -> None:
        name = f"w{len(self.workers):04d}"
        side = self.root / "side" / f"{name}.side"
        rows = self.rng.randint(self.args.min_rows, self.args.max_rows)
        self.workers[name] = Worker(name, side)
        argv = [sys.executable, str(WORKER), "--side", str(side), "--name", name, "--rows", str(rows)]
        self.crowd.start(name, [*argv, "--burst", "10", "--pause", f"{self.rng.uniform(0.02, 0.1):.3f}"])

    def reap(self) -> None:
        for name, proc in self.crowd.procs.items():
            if proc.poll() is not None and self.workers[name].exit_code is None:
                self.workers[name].exit_code = proc.returncode

    def top_up(self) -> None:
        self.reap()
        for _ in range(self.args.workers - len(self.crowd.alive())):
            self.start_worker()

    def log(self, event: str) -> None:
        line = f"{time.monotonic() - self.t0:7.1f}s {event}"
        self.events.append(line)
        if self.args.verbose:
            print(line, flush=True)

    # -- the account --

    def stored_rows(self) -> dict[str, list[tuple[int, dict[str, float]]]]:
        """run id -> writer 1's rows in every folder of that run (a run in two folders counts twice)."""
        out: dict[str, list[tuple[int, dict[str, float]]]] = {}
        runs = self.d.home / "runs"
        for folder in sorted(runs.iterdir()) if runs.is_dir() else []:
            if folder.name.startswith("run-") and (folder / "backup.swanlab").exists():
                run_id = folder.name.rsplit("-", 1)[-1]
                out.setdefault(run_id, []).extend(read_view(folder).rows.get(1, []))
        return out

    def uploaded_steps(self, run_id: str) -> dict[str, dict[int, float]]:
        return {key: dict(points) for key, points in self.cloud.store.metrics(run_id, "scalar").items()}

    def running_runs(self) -> list[str]:
        from swanlabd_pb import records_pb2 as pb
        from swanlabd_pb import service_pb2 as svc

        try:
            runs = self.d.stub().ListRuns(svc.ListRunsRequest(), timeout=10).runs
        except Exception as exc:  # noqa: BLE001 - any gRPC failure: the daemon cannot say
            return [f"? ({exc.__class__.__name__})"]
        return [r.run_id for r in runs if r.state == pb.RUNNING]

    def settled(self, stored: dict[str, list[tuple[int, dict[str, float]]]]) -> bool:
        """Every run closed at the daemon and the cloud, and every stored row uploaded."""
        if self.running_runs():
            return False
        for run_id, rows in stored.items():
            experiment = self.cloud.store.experiment(run_id)
            if experiment is None and rows or experiment is not None and experiment["state"] == "RUNNING":
                return False
            if {s for s, _ in rows} != set(self.uploaded_steps(run_id).get("soak/a", {})):
                return False
        return True

    def drain_and_account(self) -> Account:
        deadline = time.monotonic() + self.args.drain_timeout
        while not self.settled(self.stored_rows()) and time.monotonic() < deadline:
            self.keep_daemon()
            time.sleep(1.0)
        self.log("drained" if self.settled(self.stored_rows()) else "drain timed out")
        return self.account()

    def account(self) -> Account:
        for w in self.workers.values():
            w.read_side()
        stored = self.stored_rows()
        acc = Account(seconds=self.args.seconds, seed=self.args.seed, faults=dict(self.counts))
        z = dict.fromkeys(
            [
                "acked rows missing",
                "holes in a killed run",
                "stored twice",
                "stored, never logged",
                "stored with a wrong value",
                "stored, not uploaded",
                "uploaded, not stored",
                "uploaded twice (cloud)",
                "runs stuck RUNNING (daemon)",
                "runs stuck RUNNING (cloud)",
                "workers that hung or failed",
                "finish() gave up",
                "rows lost when finish() gave up",
            ],
            0,
        )
        ex: dict[str, list[str]] = {k: [] for k in z}

        def bad(what: str, n: int, example: str) -> None:
            if n:
                z[what] += n
                ex[what].append(example)

        by_run = {w.run_id: w for w in self.workers.values() if w.run_id}
        for w in self.workers.values():
            acc.accepted += w.accepted
            if w.finished:
                acc.accepted_finished += w.accepted
            else:
                acc.accepted_killed += w.accepted
            bad("finish() gave up", int(w.gave_up), w.name)
            hung_or_failed = w.exit_code not in (0, -signal.SIGKILL) and not w.gave_up
            bad("workers that hung or failed", int(hung_or_failed), f"{w.name} exit {w.exit_code}")
        for run_id in sorted(set(stored) | set(by_run)):
            rows = stored.get(run_id, [])
            steps = [s for s, _ in rows]
            have = set(steps)
            owner = by_run.get(run_id)
            logged = set(range(owner.accepted)) if owner else set()
            acc.runs += 1
            acc.stored += len(steps)
            bad("stored twice", len(steps) - len(have), f"{run_id}: {len(steps) - len(have)} rows")
            bad("stored, never logged", len(have - logged), f"{run_id}: steps {sorted(have - logged)[:5]}")
            wrong = [s for s, values in rows if values != expected(s)]
            bad("stored with a wrong value", len(wrong), f"{run_id}: steps {wrong[:5]}")
            if owner is not None and owner.finished:
                bad("acked rows missing", len(logged - have), f"{run_id} ({owner.name}): {len(logged - have)} rows")
            else:
                holes = set(range(max(have) + 1)) - have if have else set()
                bad("holes in a killed run", len(holes), f"{run_id}: steps {sorted(holes)[:5]}")
                if owner is not None and owner.gave_up:  # its process lived: these rows were dropped
                    bad("rows lost when finish() gave up", len(logged - have), f"{run_id}: {len(logged - have)} rows")
                else:
                    acc.lost_unacked += len(logged - have)
            cloud = self.uploaded_steps(run_id)
            up = set(cloud.get("soak/a", {}))
            acc.uploaded += len(up)
            bad("stored, not uploaded", len(have - up), f"{run_id}: {len(have - up)} rows")
            bad("uploaded, not stored", len(up - have), f"{run_id}: steps {sorted(up - have)[:5]}")
            experiment = self.cloud.store.experiment(run_id)
            stuck = experiment is not None and experiment["state"] == "RUNNING"
            bad("runs stuck RUNNING (cloud)", int(stuck), run_id)
        running = self.running_runs()
        bad("runs stuck RUNNING (daemon)", len(running), ", ".join(running[:5]))
        bad("uploaded twice (cloud)", self.cloud.duplicate_count(), str(self.cloud.store.duplicates()[:3]))
        acc.workers = {
            "started": len(self.workers),
            "finished": sum(w.finished for w in self.workers.values()),
            "killed": sum(w.killed for w in self.workers.values()),
        }
        acc.must_be_zero = z
        acc.examples = {k: v for k, v in ex.items() if v}
        return acc

    def close(self, keep: bool) -> None:
        self.crowd.close()
        self.d.keep = True  # its directory holds the disk's mount point: removed after the unmount
        self.d.close()
        if self.disk is not None:
            if keep:  # the data root goes with the tmpfs: keep a copy to look into
                shutil.copytree(self.d.home, self.d.root / "home-copy", ignore_dangling_symlinks=True)
            self.disk.close()
        self.cloud.stop()
        if keep:
            print(f"kept {self.root} (side files, worker output, cloud.db)")
            print(f"kept {self.d.root} (daemon.out, home/ or with a disk home-copy/)")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
            shutil.rmtree(self.d.root, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="how long faults are injected (default 60)")
    p.add_argument("--seed", type=int, default=1, help="seeds every random choice (default 1)")
    p.add_argument("--workers", type=int, default=4, help="training processes alive at a time (default 4)")
    p.add_argument(
        "--faults",
        default=",".join(SURVIVED),
        help=f"comma-separated, from {', '.join(FAULTS)}; 'all' for every one (default {','.join(SURVIVED)})",
    )
    p.add_argument("--min-rows", type=int, default=300, help="fewest rows a worker logs (default 300)")
    p.add_argument("--max-rows", type=int, default=3000, help="most rows a worker logs (default 3000)")
    p.add_argument("--disk-mb", type=int, default=256, help="size of the tmpfs data root with 'disk' (default 256)")
    p.add_argument("--drain-timeout", type=float, default=120.0, help="bound on the final upload (default 120 s)")
    p.add_argument("--json", metavar="OUT", help="also write the account as JSON to OUT")
    p.add_argument("--keep", action="store_true", help="keep the soak's directory (always kept on failure)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every fault as it is injected")
    args = p.parse_args(argv)
    args.faults = FAULTS if args.faults == "all" else tuple(f for f in args.faults.split(",") if f)
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        p.error(f"unknown faults {sorted(unknown)}; choose from {', '.join(FAULTS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    soak = Soak(args)
    account: Account | None = None
    try:
        account = soak.run()
    finally:
        failed = account is None or account.failed()
        soak.close(keep=args.keep or failed)
    print(account.table())
    if args.json:
        doc: dict[str, Any] = {**asdict(account), "failed": account.failed(), "events": soak.events}
        Path(args.json).write_text(json.dumps(doc, indent=2))
    return 1 if account.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
