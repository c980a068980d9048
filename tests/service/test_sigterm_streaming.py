"""SIGTERM while eight clients stream: a clean exit, then nothing lost and nothing doubled.

Eight real training processes (swanlab_client) log rows to a real daemon. Once each has logged
a quarter of its rows, the daemon gets SIGTERM: it must exit 0 within its shutdown timeout. A
new daemon starts; the clients reconnect, replay what was not acked, and finish. Every run's
backup then holds each of its rows exactly once, one Finish record, and there is one run folder
per client.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess, socket_accepts
from helpers.waiting import wait_for
from swanlabd.format import backup, scalarcodec
from swanlabd_pb import records_pb2 as pb

CLIENTS = 8
ROWS = 2000
SHUTDOWN_TIMEOUT_S = 5.0

CLIENT_SCRIPT = """
import sys, time
import swanlab_client as swanlab

index, rows, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
swanlab.init(project="sigterm", experiment_name=f"client-{index}", mode="offline")
for step in range(rows):
    swanlab.log({"value": float(step), "client": float(index)}, step=step)
    if step == rows // 4:
        open(ready, "w").close()
    time.sleep(0.002)  # keep streaming across the daemon's restart
swanlab.finish()
"""


def rows_by_run(run_dir: Path) -> tuple[str, list[float], list[int], int]:
    """(experiment name, the `value` of every row in file order, their steps, Finish records)."""
    name = ""
    keys: dict[tuple[int, int], str] = {}
    values: list[float] = []
    steps: list[int] = []
    finishes = 0
    for record, _ in backup.read_records(run_dir / backup.BACKUP_FILENAME):
        kind = record.WhichOneof("kind")
        if kind == "run_start":
            name = record.run_start.experiment_name
        elif kind == "keys":
            keys.update(((record.writer, k.id), k.name) for k in record.keys.keys)
        elif kind == "scalars":
            rows = scalarcodec.decode(record.scalars)
            at = 0
            for step, size in zip(rows.steps, rows.row_sizes, strict=True):
                for key_id, value in zip(rows.key_ids[at : at + size], rows.values[at : at + size], strict=True):
                    if keys[(record.writer, key_id)] == "value":
                        values.append(value)
                        steps.append(step)
                at += size
        elif kind == "finish":
            finishes += 1
            assert record.finish.state == pb.FINISHED, record
    return name, values, steps, finishes


@pytest.mark.slow
def test_sigterm_while_eight_clients_stream_loses_and_doubles_nothing() -> None:
    d = DaemonProcess(env={"SWANLABD_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S)})
    clients: list[subprocess.Popen[str]] = []
    try:
        d.start()
        ready = [d.root / f"ready-{i}" for i in range(CLIENTS)]
        clients = [
            subprocess.Popen(
                [sys.executable, "-c", CLIENT_SCRIPT, str(i), str(ROWS), str(ready[i])],
                env=d.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for i in range(CLIENTS)
        ]

        def all_streaming() -> bool:
            assert all(c.poll() is None for c in clients), [c.communicate()[0] for c in clients if c.poll() is not None]
            return all(r.exists() for r in ready)

        wait_for(all_streaming, 60, "every client logged a quarter of its rows")

        assert all(c.poll() is None for c in clients), "a client finished before the daemon was stopped"
        stopped_at = time.monotonic()
        assert d.stop(timeout=SHUTDOWN_TIMEOUT_S + 10) == 0, d.output()
        # Its own bound, plus process start-up/teardown slack on a loaded 2-core machine.
        assert time.monotonic() - stopped_at < SHUTDOWN_TIMEOUT_S + 5, d.output()

        # The next daemon: ours, unless a client already started one on these paths.
        if not socket_accepts(d.socket):
            try:
                d.start()
            except Exception:
                d.wait_ready()
        outputs = []
        for c in clients:
            out, _ = c.communicate(timeout=180)
            outputs.append(out)
            assert c.returncode == 0, out
        assert not any("Traceback" in out for out in outputs), outputs
        # They went through a daemon, not the no-daemon fallback file.
        assert not any("no swanlabd could be reached" in out for out in outputs), outputs

        runs = d.runs()
        assert len(runs) == CLIENTS, runs
        names = set()
        for run_dir in runs:
            name, values, steps, finishes = rows_by_run(run_dir)
            names.add(name)
            duplicated = [s for s, n in collections.Counter(steps).items() if n > 1]
            missing = sorted(set(range(ROWS)) - set(steps))
            assert not duplicated and not missing, f"{name}: duplicated {duplicated[:10]}, missing {missing[:10]}"
            assert values == [float(s) for s in steps]
            assert finishes == 1
        assert names == {f"client-{i}" for i in range(CLIENTS)}
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
                c.wait()
        d.close()
