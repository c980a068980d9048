"""Real offline runs of W&B (wandb 0.31.0, in its own cached venv) and W&B's own view of them:
the referee for `swanlabctl sync` of W&B folders (docs/sync.md).

wandb 0.31 reads its `.wandb` files in its Go core only (no Python reader is left), so the
referee parses each record with W&B's own generated messages (`wandb.proto.wandb_internal_pb2`,
in W&B's venv), over the framing reader the daemon uses (stdlib only, loaded by path; it has
its own tests in tests/foreign). What this checks is our copy of W&B's messages and the mapping.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testcloud"))
from sdk_venv import cache_root, official_sdk_python_with  # noqa: E402

WANDB_REQUIREMENT = "wandb==0.31.0"
STAMP = ".swanlabd-complete"
FRAMING = Path(__file__).resolve().parents[2] / "daemon" / "swanlabd" / "foreign" / "framing.py"

# Logs `steps` steps of two scalars; every 10 steps an image, a text and a histogram (which
# SwanLab has no place for), and a printed line; saves a file. With `pause_at`, writes
# <logdir>/ready after that step and waits for <logdir>/go (a growing run).
WRITER = """
import os, sys, time, numpy as np, wandb
logdir, steps, pause_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
run = wandb.init(project="foreign", name="wandb-run", mode="offline", dir=logdir, notes="from W&B",
                 tags=["t1"], config={"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}})
with open(os.path.join(logdir, "notes.txt"), "w") as f:
    f.write("saved file\\n")
wandb.save(os.path.join(logdir, "notes.txt"), base_path=logdir)
for i in range(steps):
    row = {"loss": 1.0 / (i + 1), "acc": i / steps}
    if i % 10 == 0:
        print(f"step {i}")
        row["sample"] = wandb.Image(np.full((8, 8, 3), i % 255, dtype=np.uint8), caption=f"c{i}")
        row["note"] = f"text at {i}"
        row["hist"] = wandb.Histogram([1, 2, 3])
    wandb.log(row, step=i)
    if i == pause_at:
        sys.stdout.flush()
        open(os.path.join(logdir, "ready"), "w").close()
        while not os.path.exists(os.path.join(logdir, "go")):
            time.sleep(0.05)
wandb.config.update({"epochs": 3})
wandb.finish()
"""

# W&B's messages over the framing: {"scalar": {key: {step: value}}, "media": {key: [steps]},
# "text": {key: {step: text}}, "stdout": [lines], "config": {...}, "exit": code}.
READER = """
import importlib.util, json, sys
from wandb.proto import wandb_internal_pb2 as wpb
spec = importlib.util.spec_from_file_location("framing", sys.argv[2])
framing = sys.modules["framing"] = importlib.util.module_from_spec(spec); spec.loader.exec_module(framing)
class Lost:
    def damaged(self, *a): pass
out = {"scalar": {}, "media": {}, "text": {}, "stdout": "", "config": {}, "exit": None}
with open(sys.argv[1], "rb") as f:
    framing.check_header(f, framing.WANDB)
    for data, _ in framing.read_payloads(f, framing.HEADER_SIZE, Lost()):
        rec = wpb.Record(); rec.ParseFromString(data)
        kind = rec.WhichOneof("record_type")
        if kind == "history":
            row = {}
            for item in rec.history.item:
                path = list(item.nested_key) or [item.key]
                row.setdefault(path[0], {}) if len(path) > 1 else None
                if len(path) > 1: row[path[0]][path[1]] = json.loads(item.value_json)
                else: row[path[0]] = json.loads(item.value_json)
            step = row["_step"]
            for key, value in row.items():
                if key.startswith("_"): continue
                if isinstance(value, (int, float)):
                    out["scalar"].setdefault(key, {})[step] = value
                elif isinstance(value, str):
                    out["text"].setdefault(key, {})[step] = value
                elif isinstance(value, dict) and value.get("_type") == "image-file":
                    out["media"].setdefault(key, []).append(step)
        elif kind == "output_raw" and rec.output_raw.output_type == wpb.OutputRawRecord.STDOUT:
            out["stdout"] += rec.output_raw.line
        elif kind in ("config", "run"):
            config = rec.config if kind == "config" else rec.run.config
            for item in config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "exit":
            out["exit"] = rec.exit.exit_code
out["stdout"] = out["stdout"].splitlines()
print(json.dumps(out))
"""


def wandb_python() -> Path:
    return official_sdk_python_with("numpy", "pillow", requirement=WANDB_REQUIREMENT)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB", "SWANLAB"))}
    # Offline, quiet, no git probing, and no network: W&B must never reach its servers here.
    return env | {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}


def write_run(logdir: Path, steps: int) -> Path:
    """A finished offline run of `steps` steps, in a copy of its logdir at `logdir`; returns its
    run folder. Each (WRITER, steps) run is written once under the test cache, behind a lock, as
    the venvs are (a real run costs seconds): the tests get copies, so each may damage its own."""
    key = hashlib.sha256(f"{WANDB_REQUIREMENT}\n{WRITER}".encode()).hexdigest()[:12]
    root = cache_root() / "wandb-runs"
    cached = root / f"{key}-{steps}"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}-{steps}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Written in place (W&B links saved files by absolute path), complete once stamped: a
        # run cut off by a killed test is written again.
        if not (cached / STAMP).is_file():
            shutil.rmtree(cached, ignore_errors=True)
            cached.mkdir()
            command = [str(wandb_python()), "-c", WRITER, str(cached), str(steps), "-1"]
            subprocess.run(command, env=_env(), check=True, capture_output=True)
            (cached / STAMP).touch()
    shutil.copytree(cached, logdir, symlinks=True, ignore=shutil.ignore_patterns(STAMP), dirs_exist_ok=True)
    return run_folder(logdir)


def start_growing_run(logdir: Path, steps: int, pause_at: int) -> subprocess.Popen[bytes]:
    """A run that pauses after `pause_at` until <logdir>/go exists (see WRITER)."""
    logdir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(wandb_python()), "-c", WRITER, str(logdir), str(steps), str(pause_at)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_folder(logdir: Path) -> Path:
    (folder,) = [p for p in (logdir / "wandb").glob("offline-run-*") if p.is_dir()]
    return folder


def log_file(folder: Path) -> Path:
    (file,) = folder.glob("run-*.wandb")
    return file


def wandb_view(folder: Path) -> dict[str, Any]:
    """What W&B's own messages say the file holds (see READER); steps as ints."""
    out = subprocess.run(
        [str(wandb_python()), "-c", READER, str(log_file(folder)), str(FRAMING)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    raw = json.loads(out)
    for kind in ("scalar", "text"):
        raw[kind] = {key: {int(step): v for step, v in steps.items()} for key, steps in raw[kind].items()}
    return raw


def run_id_of(folder: Path) -> str:
    """The swanlabd run id `sync` gives this folder (swanlabd.foreign.wandb.run_id_for)."""
    from swanlabd.foreign.wandb import WandbSource

    return WandbSource(folder).describe().run_id
