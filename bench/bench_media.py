"""What log() of images costs the training thread: swanlab_client + swanlabd against SwanLab 0.10.3.

    .venv/bin/python bench/bench_media.py            # 200 steps per case, 3 repetitions
    .venv/bin/python bench/bench_media.py --quick    # 30 steps, 1 repetition

Cases: one 256x256 RGB image per log(), and a list of 16 64x64 images under one key, each with a
scalar beside it. Each measurement is its own training process (bench/workloads/media_worker.py),
offline, systems interleaved per repetition. swanlab_client only checks and copies the array in
the training thread and encodes the PNG in its sender's encoder pool; the official SDK encodes
it in Image(). finish() is reported too: it waits until every file is encoded and stored.

The official SDK runs in the cached venv of tests/testcloud/sdk_venv.py, with the numpy and
pillow versions of this venv added (the same PNG encoder on both sides).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy
import PIL

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT / "tests" / "testcloud")]

from compare import Daemon  # noqa: E402 - bench/ is put on the path just above
from sdk_venv import official_sdk_python_with  # noqa: E402

WORKER = BENCH / "workloads" / "media_worker.py"
CASES = {"1 image 256x256": ("256", "1"), "list of 16 images 64x64": ("64", "16")}


def measure(python: Path, client: str, steps: int, side: str, count: str, env: dict[str, str], work: Path) -> dict:
    out = work / "result.json"
    command = [str(python), str(WORKER), "--client", client, "--steps", str(steps), "--side", side]
    result = subprocess.run(
        [*command, "--count", count, "--out", str(out)], env=env, cwd=work, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise RuntimeError(f"{client} worker exited {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    steps, reps = (30, 1) if args.quick else (200, 3)
    official = official_sdk_python_with(f"numpy=={numpy.__version__}", f"pillow=={PIL.__version__}")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SWANLAB", "SWANLABD"))}
    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        for rep in range(reps):
            for case, (side, count) in CASES.items():
                work = Path(tmp) / f"{rep}-{side}-{count}"
                daemon = Daemon(Path(sys.executable), work / "home", work / "sock")
                daemon.start(base)
                try:
                    env = {**base, **daemon.env(), "SWANLAB_CLIENT_AUTOSTART": "0"}
                    (work / "ours").mkdir()
                    ours = measure(Path(sys.executable), "swanlab_client", steps, side, count, env, work / "ours")
                finally:
                    daemon.stop()
                results.setdefault(("swanlabd", case), []).append(ours)
                (work / "sdk").mkdir()
                sdk_env = {**base, "HOME": str(work / "sdk")}
                theirs = measure(official, "swanlab", steps, side, count, sdk_env, work / "sdk")
                results.setdefault(("swanlab", case), []).append(theirs)
    print(f"log() of images in the training thread, median of {reps} runs x {steps} steps (ms per log() call)")
    print(f"{'case':28} {'system':10} {'median':>8} {'p99':>8} {'mean':>8} {'finish s':>9}")
    for case in CASES:
        row = {}
        for system in ("swanlabd", "swanlab"):
            runs = results[(system, case)]
            row[system] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            r = row[system]
            name = "swanlabd" if system == "swanlabd" else "SwanLab"
            print(
                f"{case:28} {name:10} {r['median_ms']:8.3f} {r['p99_ms']:8.3f} {r['mean_ms']:8.3f} {r['finish_s']:9.2f}"
            )
        ratio = row["swanlab"]["median_ms"] / row["swanlabd"]["median_ms"]
        print(f"{case:28} {'ratio':10} {ratio:7.1f}x cheaper for the training thread (median)")


if __name__ == "__main__":
    main()
