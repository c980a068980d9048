"""A training-style script for the client's end-to-end tests (run as a subprocess).

Logs `--rows` rows of `--keys` scalars; row `step` holds value(step, k) = step + k / 1000 for key
`m/k<k>`, so a test can check every value in the backup. Prints one JSON line
{"run_id", "run_dir"} once the daemon has answered, and "DURABLE <rows>" once everything logged
is acked when --hold is given (then it waits to be killed). SIGUSR1 prints every thread's stack
to stderr (runner.wait_exit uses it when the script outlives its bound).
"""

import argparse
import faulthandler
import json
import signal
import sys
import time

import swanlab_client as swanlab


def value(step, k):
    return step + k / 1000


def main():
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--keys", type=int, default=5)
    p.add_argument("--project", default="e2e")
    p.add_argument("--name", default="trainer")
    p.add_argument("--pause-every", type=int, default=0, help="sleep --pause after this many rows")
    p.add_argument("--pause", type=float, default=0.0)
    p.add_argument("--hold", action="store_true", help="after logging, wait until durable, then sleep")
    args = p.parse_args()
    run = swanlab.init(project=args.project, experiment_name=args.name, config={"rows": args.rows}, mode="offline")
    keys = [f"m/k{k}" for k in range(args.keys)]
    for step in range(args.rows):
        swanlab.log({key: value(step, k) for k, key in enumerate(keys)}, step=step)
        if args.pause_every and step % args.pause_every == args.pause_every - 1:
            time.sleep(args.pause)
    print(json.dumps({"run_id": run.run_id, "run_dir": str(run.run_dir)}), flush=True)
    if args.hold:
        sender = run.sender
        while run._queue or sender.unacked or sender.durable < sender.next_cs - 1:
            time.sleep(0.01)
        print(f"DURABLE {args.rows}", flush=True)
        time.sleep(3600)
    swanlab.finish()


if __name__ == "__main__":
    sys.exit(main())
