"""A training script that logs one row per millisecond or so until a line arrives on stdin, then
finishes. For the full-disk tests (tests/client/test_full_disk.py).

    python steady_logger.py STATUS_JSON RESULT_JSON

Every 0.1 s it rewrites STATUS_JSON: rows logged and refused, the longest log() call so far
(the one under way included, so a blocked log() shows), and the sender's state. At the end
RESULT_JSON holds the steps log() accepted (its refusals are counted by the sender), the
longest log() call and the run folder.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import swanlab_client as swanlab
from swanlab_client._sender import pending

status_path, result_path = sys.argv[1], sys.argv[2]
run = swanlab.init(
    project="p",
    mode="offline",
    settings=swanlab.Settings(queue_max_rows=2000, journal_max_bytes=64 * 1024, console=False, autostart=False),
)
sender = run.sender
assert sender is not None
stop = threading.Event()
accepted: list[int] = []
worst = 0.0
in_log_since: float | None = None


def write_json(path: str, data: dict) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(data, f)
    os.replace(path + ".tmp", path)


def refused() -> int:
    return getattr(sender, "refused", 0)


def report() -> None:
    while not stop.wait(0.1):
        since = in_log_since
        write_json(
            status_path,
            {
                "accepted": len(accepted),
                "refused": refused(),
                "worst_log_s": max(worst, time.monotonic() - since if since is not None else 0.0),
                "disk_full": getattr(sender, "disk_full", None) is not None,
                "pending": pending(sender, run._queue),
            },
        )


def wait_for_stop() -> None:
    sys.stdin.readline()
    stop.set()


threading.Thread(target=report, daemon=True).start()
threading.Thread(target=wait_for_stop, daemon=True).start()
step = 0
while not stop.is_set():
    before = refused()
    in_log_since = time.monotonic()
    swanlab.log({"a": float(step)}, step=step)
    worst = max(worst, time.monotonic() - in_log_since)
    in_log_since = None
    if refused() == before:
        accepted.append(step)
    step += 1
    time.sleep(0.001)
swanlab.finish()
write_json(
    result_path,
    {"accepted": accepted, "logged": step, "refused": refused(), "worst_log_s": worst, "run_dir": str(run.run_dir)},
)
