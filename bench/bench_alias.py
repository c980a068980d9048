"""What the `import swanlab` alias hook adds to Python start-up: `python -c pass` with and without it.

    .venv/bin/python bench/bench_alias.py            # 60 starts per case
    .venv/bin/python bench/bench_alias.py --quick    # 15 starts per case

Cases, interleaved start by start so machine load hits them alike:
- "no hook": a plain interpreter, as every Python process is outside `swanlabctl exec`. The hook
  is a sitecustomize.py on PYTHONPATH, so outside exec nothing of it runs (nothing to measure
  beyond this baseline).
- "hook": the hook's folder on PYTHONPATH, as in every Python process under exec: it imports
  `_swanlab_alias` (stdlib only) and puts the finder on sys.meta_path.
- "hook + import swanlab": the same, then `import swanlab`, which is when swanlab_client loads.
Wall time of the whole process (fork, exec, start, exit), median and quartiles, in ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "client"))

import _swanlab_alias  # noqa: E402 - client/ is put on the path just above

CASES = {
    "no hook": ("pass", None),
    "hook": ("pass", _swanlab_alias.SITE_DIR),
    "hook + import swanlab": ("import swanlab", _swanlab_alias.SITE_DIR),
}


def start_ms(code: str, pythonpath: str | None, base: dict[str, str]) -> float:
    env = dict(base)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    starts = 15 if args.quick else 60
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for code, path in CASES.values():  # warm the page cache and __pycache__ first
        start_ms(code, path, base)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(starts):
        for name, (code, path) in CASES.items():
            times[name].append(start_ms(code, path, base))
    baseline = statistics.median(times["no hook"])
    print(f"python -c ... start-up, {starts} starts per case, {sys.executable}")
    print(f"{'case':<24}{'median ms':>10}{'q1':>8}{'q3':>8}{'added':>9}")
    for name, values in times.items():
        q1, median, q3 = statistics.quantiles(values, n=4)
        print(f"{name:<24}{median:>10.1f}{q1:>8.1f}{q3:>8.1f}{median - baseline:>+9.1f}")


if __name__ == "__main__":
    main()
