"""One training process of the chaos soak (bench/soak.py runs many, and kills some).

Logs `--rows` rows to a cloud run through swanlab_client, in bursts of `--burst` rows with a
pause between bursts, then finishes. Row `step` holds soak/a = step, soak/b = step / 2 and
soak/c = -step, so the soak can check every value it finds.

The side file `--side` says what this process was promised, one line per fact, each written
with its own write(2) so a SIGKILL loses none that returned:

    RUN <run_id>        after init()
    L <step>            after log() returned for that row (accepted)
    FINISHED <rows>     after finish() returned with every row durable (at the daemon, or
                        in the run folder the client wrote itself when no daemon could run)
    GAVE-UP <pending>   after finish() returned without that (it is bounded in time)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import swanlab_client as swanlab
from swanlab_client._sender import pending


def row(step: int) -> dict[str, float]:
    return {"soak/a": float(step), "soak/b": step / 2, "soak/c": -float(step)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--side", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--burst", type=int, default=20)
    p.add_argument("--pause", type=float, default=0.05)
    args = p.parse_args()
    side = os.open(args.side, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def note(line: str) -> None:
        os.write(side, (line + "\n").encode())

    run = swanlab.init(project="soak", experiment_name=args.name, mode="cloud")
    note(f"RUN {run.run_id}")
    for step in range(args.rows):
        swanlab.log(row(step), step=step)
        note(f"L {step}")
        if step % args.burst == args.burst - 1:
            time.sleep(args.pause)  # the workload's pacing: a training step takes time
    swanlab.finish()
    # finish() returns after Settings.finish_timeout_s even if rows are still not durable (it
    # warns); only the sender knows which it was.
    left = pending(run.sender, run._queue)
    note(f"FINISHED {args.rows}" if left == 0 else f"GAVE-UP {left}")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
