"""`swanlabctl exec -- torchrun --nproc_per_node 2 script.py` (CPU, gloo): every rank's `import
swanlab` is swanlab_client, and the three ways ranks share SwanLab runs give what
docs/integrations.md ("torchrun") says. The runs go to a real daemon; its backup is read back.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from alias_venvs import source_pythonpath
from integ_venvs import client_python
from referee import SCRIPTS

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from swanlabd_pb import records_pb2 as pb

RUN_ID = "torchrun-shared-1"


def torchrun(daemon: DaemonProcess, pattern: str) -> str:
    env = daemon.env | {
        "PYTHONPATH": source_pythonpath(with_dependencies=False),
        "SWANLAB_MODE": "offline",
        "RUN_ID": RUN_ID,
        "OMP_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "swanlabd.cli.swanlabctl", "exec", "--", str(client_python().parent / "torchrun")]
    command += ["--nproc_per_node", "2", str(SCRIPTS / "torchrun_ranks.py"), pattern]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("pattern", ["rank0", "shared", "parallel"])
def test_every_rank_sees_swanlab_client_and_the_runs_are_as_documented(daemon: DaemonProcess, pattern: str) -> None:
    out = torchrun(daemon, pattern)
    assert sorted(line for line in out.splitlines() if line.startswith("rank ")) == [
        "rank 0 swanlab_client",
        "rank 1 swanlab_client",
    ]
    [run_dir] = daemon.runs()
    view = read_view(run_dir)
    assert view.finish is not None and view.finish.state == pb.FINISHED
    if pattern == "rank0":
        assert view.rows == {1: [(step, {"loss": step / 10}) for step in range(5)]}
        assert view.config == {"world_size": 2}
        return
    # One run under the id the ranks gave, one writer per rank, every point of both kept, the
    # `loss` both log at the same steps included (the cloud keeps the first of a step: docs).
    assert run_dir.name.endswith(RUN_ID)
    assert view.run_start is not None and view.run_start.experiment_name == pattern
    assert sorted(view.rows.values(), key=lambda rows: rows[0][1]["loss"]) == [
        [(step, {"loss": rank + step / 10, f"rank{rank}/loss": step / 10}) for step in range(5)] for rank in (0, 1)
    ]
