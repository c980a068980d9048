"""The daemon is SIGKILLed at random moments during a 200,000-row run.

The client notices the broken stream, starts a new daemon (auto-start), attaches as writer 1,
learns what the daemon holds and replays the rest. The backup must hold every row exactly once,
in order, and the script must exit 0 as if nothing happened.
"""

from __future__ import annotations

import json
import random
import signal
import time

import pytest
from runner import expected_rows, trainer

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess, socket_accepts
from swanlabd_pb import records_pb2 as pb


@pytest.mark.slow
def test_daemon_sigkilled_at_random_moments_loses_nothing(daemon: DaemonProcess):
    """200,000 rows while the daemon is SIGKILLed 10+ times; the client restarts it and replays."""
    rows, keys = 200_000, 4
    proc = trainer(daemon, "--rows", str(rows), "--keys", str(keys), "--pause-every", "2000", "--pause", "0.2")
    rng = random.Random(1234)
    kills = 0
    try:
        while proc.poll() is None and kills < 12:
            if daemon.pid is None or not socket_accepts(daemon.socket):  # the client is starting one
                time.sleep(0.05)
                continue
            time.sleep(rng.uniform(0.05, 0.6))
            if daemon.pid is not None and proc.poll() is None:
                daemon.kill(signal.SIGKILL)
                kills += 1
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "writing run" not in err, err  # it never gave up on the daemon
    assert kills >= 10, f"the run ended after only {kills} kills; slow it down"
    run_dir = json.loads(out.splitlines()[0])["run_dir"]
    content = read_view(run_dir)
    assert content.lost == []
    assert content.rows[1] == expected_rows(rows, keys)  # every row exactly once, in order
    cs = content.client_seqs[1]
    assert cs == list(range(1, len(cs) + 1))
    assert content.finish is not None and content.finish.state == pb.FINISHED
