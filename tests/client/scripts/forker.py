"""Fork stress for swanlab_client: the parent logs without pause while it forks children.

`--children` children are forked (multiprocessing, fork start method; every 10th with a bare
os.fork() that leaves through sys.exit instead). Every `--log-every`-th child logs
`--child-rows` rows {"child/value": i * 100000 + j} at step j; the others do nothing. Each child
is joined with a timeout: a hang prints HANG and exits 3. Prints one JSON line at the end.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time

import swanlab_client as swanlab


def child(i, rows):
    for j in range(rows):
        swanlab.log({"child/value": i * 100000 + j}, step=j)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--children", type=int, default=100)
    p.add_argument("--log-every", type=int, default=4)
    p.add_argument("--child-rows", type=int, default=200)
    p.add_argument("--join-timeout", type=float, default=60)
    args = p.parse_args()
    run = swanlab.init(project="forks", experiment_name="stress", mode="offline")
    ctx = multiprocessing.get_context("fork")
    step = 0
    logging_children = []
    for i in range(args.children):
        for _ in range(300):  # keep the sender streaming while we fork
            swanlab.log({"parent/value": step, "parent/half": step / 2}, step=step)
            step += 1
        rows = args.child_rows if i % args.log_every == 0 else 0
        if rows:
            logging_children.append(i)
        if i % 10 == 9:
            pid = os.fork()
            if pid == 0:
                child(i, rows)
                sys.exit(0)  # normal interpreter exit: atexit finishes this writer
            deadline = time.monotonic() + args.join_timeout
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    if status != 0:
                        print(f"CHILD {i} status {status}", file=sys.stderr)
                        return 4
                    break
                if time.monotonic() > deadline:
                    print(f"HANG os.fork child {i}", file=sys.stderr)
                    return 3
                time.sleep(0.01)
        else:
            proc = ctx.Process(target=child, args=(i, rows))
            proc.start()
            proc.join(args.join_timeout)
            if proc.is_alive():
                print(f"HANG multiprocessing child {i}", file=sys.stderr)
                proc.kill()
                return 3
            if proc.exitcode != 0:
                print(f"CHILD {i} exit code {proc.exitcode}", file=sys.stderr)
                return 4
    swanlab.finish()
    print(json.dumps({"run_dir": str(run.run_dir), "parent_rows": step, "logging_children": logging_children}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
