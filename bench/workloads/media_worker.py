"""One training process of bench/bench_media.py: time log() of media in the training thread.

Runs in the repo's venv (``swanlab_client``) and in the official SDK's venv (``swanlab``), so it
imports only the standard library and NumPy at the top. Each step builds the media objects and
logs them, timed together with perf_counter_ns (that is what a training loop pays); finish() is
timed apart (it waits until everything is encoded and stored). One JSON object goes to --out.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", required=True)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--count", type=int, default=1, help="images per log(); above 1 a list under one key")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    swanlab = importlib.import_module(args.client)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (args.side, args.side, 3), dtype=np.uint8) for _ in range(8)]
    swanlab.init(project="bench-media", mode="offline")
    times = []
    for step in range(args.steps):
        frame = frames[step % len(frames)]
        t0 = time.perf_counter_ns()
        if args.count == 1:
            swanlab.log({"img": swanlab.Image(frame), "loss": 0.5}, step=step)
        else:
            swanlab.log({"imgs": [swanlab.Image(frame) for _ in range(args.count)], "loss": 0.5}, step=step)
        times.append(time.perf_counter_ns() - t0)
    t0 = time.perf_counter()
    swanlab.finish()
    finish_s = time.perf_counter() - t0
    times.sort()
    with open(args.out, "w") as f:
        json.dump(
            {
                "median_ms": statistics.median(times) / 1e6,
                "p99_ms": times[int(len(times) * 0.99) - 1] / 1e6,
                "mean_ms": statistics.fmean(times) / 1e6,
                "finish_s": finish_s,
            },
            f,
        )


if __name__ == "__main__":
    main()
