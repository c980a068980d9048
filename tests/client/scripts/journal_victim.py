"""A training loop that is SIGKILLed (run as a subprocess by tests/client/test_journal_kills.py).

Row `step` holds value(step, k) for keys k0..k<keys-1>. After each log() returns, the script
writes that step into the first 8 bytes of the file --progress (shared memory, as cheap as a
store), so the test knows which rows log() returned for when the kill lands. The kill comes:

- after: from this process, right after log() number --at returns (unpaced);
- thread: from another thread of this process, --delay s after init() returned, anywhere in
  the loop, inside log() too (unpaced, or paced by --pace s per row);
- finish: from another thread --delay s after finish() began (all rows were returned).
The run folder is printed (one line) before the loop, which waits for the daemon's answer; with
--print id the run id is, which does not wait (a kill can then come before any daemon has the run).
"""

import argparse
import mmap
import os
import signal
import struct
import threading
import time

import swanlab_client as swanlab


def value(step, k):
    return step * 1.0000001 + k / 7


def kill_after(delay):
    def go():
        time.sleep(delay)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=go, daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--progress", required=True)
    p.add_argument("--how", choices=["after", "thread", "finish"], required=True)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--keys", type=int, default=10)
    p.add_argument("--at", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--pace", type=float, default=0.0)
    p.add_argument("--print", choices=["dir", "id"], default="dir", dest="show")
    args = p.parse_args()
    fd = os.open(args.progress, os.O_RDWR)
    progress = mmap.mmap(fd, 8)
    run = swanlab.init(project="kills", mode="offline")
    print(run.id if args.show == "id" else run.run_dir, flush=True)
    keys = [f"k{k}" for k in range(args.keys)]
    if args.how == "thread":
        kill_after(args.delay)
    for step in range(args.rows):
        swanlab.log({key: value(step, k) for k, key in enumerate(keys)})
        struct.pack_into("<q", progress, 0, step)
        if args.how == "after" and step == args.at:
            os.kill(os.getpid(), signal.SIGKILL)
        if args.pace:
            time.sleep(args.pace)
    if args.how == "finish":
        kill_after(args.delay)
    swanlab.finish()
    time.sleep(60)  # the kill comes first


if __name__ == "__main__":
    main()
