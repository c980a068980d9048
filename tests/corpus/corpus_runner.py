"""Run the corpus's scripts with both SDKs, in cloud and offline mode, and read back what the test clouds hold.

Four test clouds, one per (side, mode), each shared by every script: a script's runs live in its own
project (the script's file name), so they never collide. The official SDK (swanlab 0.10.3 in its
cached venv) runs each script as it is; swanlab_client runs it under `swanlabctl exec`, so
`import swanlab` is our client, through one real swanlabd per mode. Offline runs are then uploaded
with each side's own tool: `swanlab sync FOLDER` (one folder per call: the SDK ends its session
with the run's state) and `swanlabctl sync`. What the clouds then hold is read into plain data by
`project_view`, the same way for both sides, and test_corpus.py compares the two.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy
import PIL
import rdkit
import soundfile
from PIL import Image as PILImage
from testcloud.sdk_venv import official_sdk_python_with

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
API_KEY = "corpus-key-0123456789"
USER = "corpus"
SIDES = ("official", "ours")
MODES = ("cloud", "offline")
SCRIPT_TIMEOUT_S = 90
UPLOAD_TIMEOUT_S = 60
# Four scripts per core: a script spends most of its time waiting (on its uploads, its daemon, sync).
WORKERS = 8
SYSTEM_PREFIX = "__swanlab__."
# A script under swanlab_client: `import swanlab` routed to it, as a user would run it.
OURS = [sys.executable, "-m", "swanlabd.cli.swanlabctl", "exec", "--", sys.executable]
SCIKIT_LEARN = "scikit-learn==1.9.1"
# The official SDK's host probes (package list, git, hardware) take a third of its run time and
# fill only the profile's metadata and requirements, which the corpus does not compare.
OFFICIAL_PROBES_OFF = {
    f"SWANLAB_PROBE_{name}": "false" for name in ("REQUIREMENTS", "HARDWARE", "GIT", "MONITOR", "RUNTIME")
}
# Lines a SDK prints itself (banners, run folders, URLs, warnings), not the script: left out of the console log.
SDK_LINE_MARKS = ("swanlab:", "swanlab_client:", "/swanlog/", "to sync this run", "http://127.0.0.1", " | ERROR ")


def scripts() -> list[str]:
    return sorted(p.stem for p in SCRIPTS.glob("*.py"))


@dataclass
class ScriptRun:
    """One script's run with one SDK in one mode: how it exited and what the cloud held afterwards."""

    returncode: int
    output: str
    seconds: float
    sync: str = ""
    view: dict[str, Any] = field(default_factory=dict)


def official_python() -> Path:
    """The referee's python, with the media libraries at the versions this venv has, and scikit-learn,
    which the official SDK's echarts.roc_curve/pr_curve/confusion_matrix need (swanlab_client's do not)."""
    versions = {"numpy": numpy.__version__, "pillow": PIL.__version__, "soundfile": soundfile.__version__}
    versions["rdkit"] = rdkit.__version__
    return official_sdk_python_with(*(f"{k}=={v}" for k, v in versions.items()), SCIKIT_LEARN)


def cloud_env(base: dict[str, str], cloud: CloudServer, home: Path, mode: str) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("SWANLAB_")}
    env.update(
        SWANLAB_API_HOST=cloud.url,
        SWANLAB_WEB_HOST=cloud.url,
        SWANLAB_API_KEY=API_KEY,
        SWANLAB_MODE="online" if mode == "cloud" else "offline",
        HOME=str(home),
        PYTHONUNBUFFERED="1",
        # The official SDK's banner is wrapped at the terminal's width, and a piece of a wrapped run
        # folder path does not look like the SDK's: one banner line each.
        COLUMNS="1000",
    )
    return env


def run_script(launcher: list[str], script: str, env: dict[str, str], work: Path) -> ScriptRun:
    """Run `launcher + [script]` in its own folder under `work`."""
    cwd = work / script
    cwd.mkdir(parents=True)
    started = time.monotonic()
    result = subprocess.run(
        [*launcher, str(SCRIPTS / f"{script}.py")],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
    )
    return ScriptRun(result.returncode, result.stdout + result.stderr, time.monotonic() - started)


def official_sync(python: Path, env: dict[str, str], cloud: CloudServer, script: str, work: Path) -> str:
    """Upload the script's offline run folders in the order they were made, with the official CLI.

    A resumed run leaves a second folder with the same local id; it is replayed into the experiment
    the first folder made (`--id`), as a user of the official SDK would do. Returns what failed, or "".
    """
    cuids: dict[str, str] = {}
    for folder in sorted((work / script / "swanlog").glob("run-*")):
        local_id = folder.name.rsplit("-", 1)[1]
        before = {e["cuid"] for e in cloud.experiments(USER, script)}
        command = [str(python), "-m", "swanlab", "sync", str(folder)]
        if local_id in cuids:
            command += ["--id", cuids[local_id]]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
        if result.returncode != 0:
            return f"swanlab sync {folder.name} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        new = [e["cuid"] for e in cloud.experiments(USER, script) if e["cuid"] not in before]
        cuids.setdefault(local_id, new[0] if new else cuids.get(local_id, ""))
    return ""


def decoded(path: str, data: bytes) -> Any:
    """A media object's content, independent of how it was encoded: pixels, samples, parsed JSON, or the bytes."""
    suffix = path.rsplit(".", 1)[-1].lower()
    if suffix in ("png", "jpg", "jpeg", "bmp", "gif"):
        image = PILImage.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
        return ("image", image.mode, image.size, frames, image.tobytes())
    if suffix == "wav":
        with wave.open(io.BytesIO(data)) as w:
            return ("wav", w.getnchannels(), w.getsampwidth(), w.getframerate(), w.readframes(w.getnframes()))
    if suffix == "json":
        return ("json", json.loads(data))
    if suffix == "pdb":
        # RDKit embeds 3D coordinates at random: the atoms and bonds are the content.
        lines = data.decode().splitlines()
        return ("pdb", [line[76:78].strip() for line in lines if line.startswith(("ATOM", "HETATM"))])
    return ("bytes", data)


def project_view(cloud: CloudServer, project: str) -> dict[str, Any]:
    """What a user sees of one project on the cloud, without ids, times or system metrics."""
    experiments = cloud.experiments(USER, project)
    view: dict[str, Any] = {"experiments": []}
    columns: dict[str, Any] = {}
    # By name: offline runs are uploaded in parallel, so their order of creation is not the script's.
    for experiment in sorted(experiments, key=lambda e: e["name"]):
        snapshot = cloud.snapshot(experiment["cuid"])
        columns = snapshot["columns"]
        objects = snapshot["objects"]
        body = json.loads(experiment["body"])
        view["experiments"].append(
            {
                "experiment": {
                    "name": experiment["name"],
                    "state": experiment["state"],
                    **{k: body.get(k) for k in ("description", "tags", "group", "jobType", "labels")},
                },
                "config": snapshot["profile"].get("config"),
                "scalar": {k: v for k, v in snapshot["scalar"].items() if not k.startswith(SYSTEM_PREFIX)},
                "media": {
                    key: {
                        step: ([decoded(p, objects[p]) for p in v["data"]], [m.get("caption") for m in v["more"]])
                        for step, v in steps.items()
                    }
                    for key, steps in snapshot["media"].items()
                },
                # Molecules are left out: RDKit embeds SMILES in 3D at random, so only their
                # decoded content (atoms) can be the same.
                "media bytes": {
                    key: {
                        step: [(p, objects[p]) for p in v["data"] if not p.endswith(".pdb")]
                        for step, v in steps.items()
                    }
                    for key, steps in snapshot["media"].items()
                },
                "files": {p: b for p, b in objects.items() if p.startswith("files/")},
                "log": [
                    line["message"]
                    for _, line in sorted(snapshot["log"].items())
                    if not any(mark in line["message"] for mark in SDK_LINE_MARKS)
                ],
            }
        )
    view["columns"] = {
        key: {k: v for k, v in column.items() if k != "key"}
        for key, column in columns.items()
        if not key.startswith(SYSTEM_PREFIX)
    }
    return view


@contextmanager
def clouds(work: Path) -> Iterator[dict[tuple[str, str], CloudServer]]:
    with ExitStack() as stack:
        yield {
            (side, mode): stack.enter_context(CloudServer(work / f"{side}-{mode}.db", {API_KEY: USER}))
            for side in SIDES
            for mode in MODES
        }


def finished(cloud: CloudServer, projects: list[str]) -> bool:
    """Every project has an experiment, and none is still RUNNING (the uploader is asynchronous)."""
    for project in projects:
        experiments = cloud.experiments(USER, project)
        if not experiments or any(e["state"] == "RUNNING" for e in experiments):
            return False
    return True


def run_corpus(
    work: Path, names: list[str]
) -> tuple[dict[tuple[str, str, str], ScriptRun], dict[tuple[str, str], Any]]:
    """Every script with both SDKs in both modes: the result per (side, mode, script), views filled in,
    and per (side, mode) the cloud's protocol errors and duplicate points."""
    official = official_python()
    protocol: dict[tuple[str, str], Any] = {}
    with clouds(work) as servers, ExitStack() as stack:
        daemons = {
            mode: stack.enter_context(
                DaemonProcess(env=cloud_env({"SWANLABD_UPLOAD": "true"}, servers["ours", mode], work, mode))
            )
            for mode in MODES
        }
        jobs = []
        for mode in MODES:
            home = work / f"official-{mode}"
            env = cloud_env(dict(os.environ), servers["official", mode], home, mode) | OFFICIAL_PROBES_OFF
            jobs += [(("official", mode, s), [str(official)], env, home) for s in names]
            home = work / f"ours-{mode}"
            env = cloud_env(daemons[mode].env, servers["ours", mode], home, mode)
            jobs += [(("ours", mode, s), OURS, env, home) for s in names]
        started = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as pool:
            futures = {key: pool.submit(run_script, launcher, key[2], env, home) for key, launcher, env, home in jobs}
            results = {key: future.result() for key, future in futures.items()}

        print(f"corpus: {len(jobs)} script runs took {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        home = work / "official-offline"
        env = cloud_env(dict(os.environ), servers["official", "offline"], home, "offline")
        with ThreadPoolExecutor(WORKERS) as pool:
            synced = pool.map(lambda s: official_sync(official, env, servers["official", "offline"], s, home), names)
            for script, failure in zip(names, synced, strict=True):
                results["official", "offline", script].sync = failure
        sync = daemons["offline"].ctl("sync", timeout=UPLOAD_TIMEOUT_S)
        # Exit status 1 also says a run was "uploaded with rejections": points at steps the
        # experiment already held (a resumed run relogging steps), which the cloud would not keep
        # anyway; the official SDK's sync says nothing of them. Any other line is a failure.
        not_uploaded = [line for line in sync.stdout.splitlines() if "not uploaded" in line and "SKIPPED:" not in line]
        if sync.returncode not in (0, 1) or not_uploaded:
            for script in names:
                results[
                    "ours", "offline", script
                ].sync = f"swanlabctl sync exited {sync.returncode}:\n{sync.stdout}{sync.stderr}"

        print(f"corpus: offline syncs took {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        for (side, mode), cloud in servers.items():
            ran = [s for s in names if results[side, mode, s].returncode == 0 and not results[side, mode, s].sync]
            try:
                wait_for(partial(finished, cloud, ran), UPLOAD_TIMEOUT_S, "final states", interval=0.2)
            except AssertionError:
                pass  # the parts show what is missing, and the RUNNING state
            for script in names:
                results[side, mode, script].view = project_view(cloud, script)
            protocol[side, mode] = (cloud.errors(), cloud.store.duplicates())
        print(f"corpus: waiting for final states and reading the clouds took {time.monotonic() - started:.1f}s")
    return results, protocol
