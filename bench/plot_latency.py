"""Plot the log() latency distributions that bench/compare.py collected (run by compare.py --plot).

Runs in the benchmark's own matplotlib venv, so matplotlib is never a dependency of swanlabd.
Usage: plot_latency.py LATENCIES.json OUT.png, where the JSON maps system -> [nanoseconds, ...].
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402  (after matplotlib.use, with the imports it orders)

LABELS = {"swanlabd": "swanlab_client + swanlabd", "swanlab": "SwanLab 0.10.3 offline", "wandb": "W&B 0.31.0 offline"}


def main() -> int:
    latencies: dict[str, list[int]] = json.loads(open(sys.argv[1]).read())
    fig, (cdf, hist) = plt.subplots(1, 2, figsize=(12, 4.5))
    for system, values in latencies.items():
        us = np.sort(np.asarray(values, dtype=float) / 1e3)
        label = f"{LABELS.get(system, system)} (median {np.median(us):.1f} µs, p99 {np.percentile(us, 99):.0f} µs)"
        # Tail view: fraction of calls slower than x, so p99 and the worst calls stay visible.
        cdf.step(us, 1 - np.arange(len(us)) / len(us), where="post", label=label)
        bins = np.logspace(np.log10(max(us[0], 0.1)), np.log10(us[-1]), 80)
        hist.hist(us, bins=bins, histtype="step", label=LABELS.get(system, system))
    cdf.set(
        xscale="log",
        yscale="log",
        xlabel="log() latency in the training thread (µs)",
        ylabel="fraction of calls slower",
        title="Tail of the log() latency",
    )
    hist.set(xscale="log", yscale="log", xlabel="log() latency (µs)", ylabel="calls", title="Histogram")
    cdf.legend(fontsize=8)
    hist.legend(fontsize=8)
    for ax in (cdf, hist):
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
