"""Run one framework script with the official SDK and with swanlab_client; what each test cloud held.

The official SDK 0.10.3 (integ_venvs.official_python, of the venvs VENVS_OF_SCRIPT names) uploads
to one fresh test cloud; the same script under `swanlabctl exec`, through a real swanlabd with
its uploader on, to another. Both are told the cloud, key and mode `cloud` by the environment,
so the script is the same file, unchanged, on both sides. `runs()` returns what a user would
compare in the two web UIs: each experiment's state, config, and the steps of every scalar and media key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alias_venvs import cache_root, source_pythonpath
from integ_venvs import VENVS_OF_SCRIPT, client_python, official_python

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer

SCRIPTS = Path(__file__).with_name("scripts")
API_KEY = "integration-key-0123456789"
USER = "referee"
RUN_TIMEOUT_S = 300
UPLOAD_TIMEOUT_S = 60
# The official SDK 0.10.3 uploads a key's column and its points side by side, and sometimes the
# points first (seen on the loaded 2-core machine for Ultralytics' last plots, and for the system
# metrics), which the test cloud refuses. Such a run is run again, at most this many times in all.
OFFICIAL_ATTEMPTS = 3
COLUMN_RACE = "metrics for keys without a column"
SYSTEM_PREFIX = "__swanlab__."


@dataclass
class Experiment:
    """One run as the cloud holds it."""

    name: str
    state: str
    config: dict[str, Any]
    scalars: dict[str, dict[int, Any]]
    media: dict[str, list[int]]
    columns: dict[str, str]
    config_records: int | None = None
    """How many Config records swanlabd's backup of the run holds (None: the official SDK's run)."""

    def steps(self) -> dict[str, list[int]]:
        return {key: sorted(points) for key, points in self.scalars.items()}


@dataclass
class Side:
    """What one side's script printed and left on its cloud (experiments by name)."""

    experiments: dict[str, Experiment]
    output: str
    errors: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]


def cloud_env(cloud: CloudServer, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWANLAB_") and k != "PYTHONPATH"}
    env.update(
        SWANLAB_API_HOST=cloud.url,
        SWANLAB_WEB_HOST=cloud.url,
        SWANLAB_API_KEY=API_KEY,
        SWANLAB_MODE="cloud",
        HOME=str(home),
        # Stable-Baselines3's logger folder in the test's folder, not /tmp (TMPDIR would move Ray's
        # sockets there too, past the 107-byte limit of a socket path).
        SB3_LOGDIR=str(home / "sb3"),
        PYTHONUNBUFFERED="1",
        # Tiny models built from configs: nothing may reach for a hub, and 2 shared cores.
        HF_HUB_OFFLINE="1",
        OMP_NUM_THREADS="1",
    )
    return env


def official(work: Path, script: str, *args: str) -> Side:
    """The official SDK's side, kept under the cache root: it is the same for the same script,
    arguments and referee venv, so a test run after the first only runs swanlab_client's side."""
    python = official_python(VENVS_OF_SCRIPT.get(script, "frameworks"))
    key = hashlib.sha256(
        b"\0".join(
            [
                (SCRIPTS / script).read_bytes(),
                *(a.encode() for a in args),
                (python.parents[1] / ".swanlabd-complete").read_bytes(),
            ]
        )
    ).hexdigest()[:24]
    cached = cache_root() / "integration-referee" / f"{script}-{key}.json"
    if cached.is_file():
        return _load(cached.read_text())
    for attempt in range(OFFICIAL_ATTEMPTS):
        folder = work if attempt == 0 else work.with_name(f"{work.name}-attempt{attempt + 1}")
        folder.mkdir(parents=True, exist_ok=True)
        with CloudServer(folder / "cloud.db", {API_KEY: USER}) as cloud:
            side = _side(cloud, _run([str(python), str(SCRIPTS / script), *args], cloud_env(cloud, folder), folder))
        if not side.errors and not side.duplicates:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps(dataclasses.asdict(side)))
            tmp.replace(cached)
            return side
        if side.duplicates or any(COLUMN_RACE not in error["message"] for error in side.errors):
            break
    return side


def swanlabd(work: Path, script: str, *args: str, runs: int = 1) -> Side:
    """The script under `swanlabctl exec`, its runs uploaded by a real daemon; waits for `runs` finished runs."""
    work.mkdir(parents=True, exist_ok=True)
    with CloudServer(work / "cloud.db", {API_KEY: USER}) as cloud:
        env = cloud_env(cloud, work)
        with DaemonProcess(env={**env, "SWANLABD_UPLOAD": "true"}) as daemon:
            script_env = {k: v for k, v in daemon.env.items() if not k.startswith("SWANLAB_")} | env
            script_env["PYTHONPATH"] = source_pythonpath(with_dependencies=False)
            python = client_python(VENVS_OF_SCRIPT.get(script, "frameworks"))
            command = [sys.executable, "-m", "swanlabd.cli.swanlabctl", "exec", "--", str(python)]
            result = _run([*command, str(SCRIPTS / script), *args], script_env, work)

            def all_finished() -> bool:
                experiments = cloud.experiments(USER)
                return len(experiments) == runs and all(e["state"] != "RUNNING" for e in experiments)

            try:
                wait_for(all_finished, UPLOAD_TIMEOUT_S, f"{runs} finished runs on the cloud", interval=0.2)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{result.stdout}{result.stderr}\ndaemon:\n{daemon.output()}") from None
            side = _side(cloud, result)
            # The daemon's run folders, and those init(log_dir=...) made in the script's folder
            # (MMEngine's backend puts its run in the Runner's work_dir, as officially).
            in_log_dirs = [backup.parent for backup in work.rglob("backup.swanlab")]
            for run_dir in [*daemon.runs(), *in_log_dirs]:
                view = read_view(run_dir)
                assert view.run_start is not None
                side.experiments[view.run_start.experiment_name].config_records = view.configs
        return side


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, f"{command} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _side(cloud: CloudServer, result: subprocess.CompletedProcess[str]) -> Side:
    experiments = {}
    for experiment in cloud.experiments(USER):
        snapshot = cloud.snapshot(experiment["cuid"])
        experiments[experiment["name"]] = Experiment(
            name=experiment["name"],
            state=experiment["state"],
            config={k: v["value"] for k, v in snapshot["profile"].get("config", {}).items()},
            scalars={k: v for k, v in snapshot["scalar"].items() if not k.startswith(SYSTEM_PREFIX)},
            media={k: sorted(v) for k, v in snapshot["media"].items()},
            columns={k: c["type"] for k, c in snapshot["columns"].items() if not k.startswith(SYSTEM_PREFIX)},
        )
    return Side(experiments, result.stdout + result.stderr, cloud.errors(), cloud.store.duplicates())


def _load(text: str) -> Side:
    data = json.loads(text)
    experiments = {}
    for name, e in data["experiments"].items():
        # JSON keys are strings: the steps go back to ints.
        e["scalars"] = {key: {int(step): v for step, v in points.items()} for key, points in e["scalars"].items()}
        experiments[name] = Experiment(**e)
    return Side(experiments, data["output"], data["errors"], data["duplicates"])
