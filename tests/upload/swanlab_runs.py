"""Real offline runs of the official SwanLab SDK (0.10.3, in its own venv), and its own reader's
view of them: the referee for `swanlabctl sync` of SwanLab folders (docs/sync.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testcloud"))
from sdk_venv import official_sdk_python_with  # noqa: E402

# Logs `steps` steps of two scalars, an image and a text every 10 steps, prints lines; with
# `pause_at`, writes <logdir>/ready after that step and waits for <logdir>/go (a growing run).
WRITER = """
import os, sys, time, numpy as np, swanlab
logdir, steps, pause_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
swanlab.init(project="foreign", experiment_name="sdk-run", mode=os.environ["SWANLAB_MODE"], logdir=logdir,
             config={"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}})
for i in range(steps):
    swanlab.log({"loss": 1.0 / (i + 1), "acc": i / steps}, step=i)
    if i % 10 == 0:
        print(f"step {i}")
        swanlab.log({"sample": swanlab.Image(np.full((8, 8, 3), i % 255, dtype=np.uint8), caption=f"c{i}"),
                     "note": swanlab.Text(f"text at {i}")}, step=i)
    if i == pause_at:
        sys.stdout.flush()
        open(os.path.join(logdir, "ready"), "w").close()
        while not os.path.exists(os.path.join(logdir, "go")):
            time.sleep(0.05)
swanlab.finish()
"""

# The SDK's own reader: every (kind, key, step) -> value it sees in the file.
READER = """
import json, sys
from swanlab.sdk.internal.core_python.store import DataStoreReader
from swanlab.proto.swanlab.record.v1.record_pb2 import Record
r = DataStoreReader(); r.open(sys.argv[1])
out = {"scalar": {}, "media": {}, "log": {}}
for data in r:
    rec = Record(); rec.ParseFromString(data)
    kind = rec.WhichOneof("record_type")
    if kind == "scalar":
        out["scalar"].setdefault(rec.scalar.key, {})[rec.scalar.step] = rec.scalar.value.number
    elif kind == "media":
        out["media"].setdefault(rec.media.key, {})[rec.media.step] = [i.filename for i in rec.media.value.items]
    elif kind == "log":
        out["log"][rec.log.epoch] = rec.log.line
print(json.dumps(out))
"""


def sdk_python() -> Path:
    return official_sdk_python_with("numpy", "pillow")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWANLAB")}
    return env | {"SWANLAB_MODE": "offline"}


def write_run(logdir: Path, steps: int) -> Path:
    """A finished offline run of `steps` steps; returns its run folder."""
    subprocess.run(
        [str(sdk_python()), "-c", WRITER, str(logdir), str(steps), "-1"], env=_env(), check=True, capture_output=True
    )
    return run_folder(logdir)


def start_growing_run(
    logdir: Path, steps: int, pause_at: int, cloud_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A run that pauses after `pause_at` until <logdir>/go exists (see WRITER); offline, or in
    cloud mode with `cloud_env` (SWANLAB_API_HOST, key... of the test cloud)."""
    logdir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(sdk_python()), "-c", WRITER, str(logdir), str(steps), str(pause_at)],
        env=_env() | (cloud_env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_folder(logdir: Path) -> Path:
    (folder,) = [p for p in logdir.glob("run-*") if p.is_dir()]
    return folder


def backup_file(folder: Path) -> Path:
    (file,) = folder.glob("run-*.swanlab")
    return file


def official_view(folder: Path) -> dict[str, dict[str, Any]]:
    """What the SDK's own reader sees: {"scalar": {key: {step: value}}, "media": ..., "log": {epoch: line}}."""
    out = subprocess.run(
        [str(sdk_python()), "-c", READER, str(backup_file(folder))], check=True, capture_output=True, text=True
    ).stdout
    raw = json.loads(out)
    view: dict[str, dict[Any, Any]] = {
        kind: {key: {int(step): v for step, v in steps.items()} for key, steps in raw[kind].items()}
        for kind in ("scalar", "media")
    }
    view["log"] = {int(epoch): line for epoch, line in raw["log"].items()}
    return view


def run_id_of(folder: Path) -> str:
    return backup_file(folder).stem.removeprefix("run-")
