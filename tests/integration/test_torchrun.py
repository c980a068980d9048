"""`swanlabctl exec -- torchrun --nproc_per_node 2 script.py` (CPU, gloo): every rank's `import
swanlab` is swanlab_client, and the three ways ranks share SwanLab runs give what
docs/integrations.md ("torchrun") says. The runs go to a real daemon; its backup is read back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import referee
from alias_venvs import source_pythonpath
from integ_venvs import client_python

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer
from swanlabd_pb import records_pb2 as pb

RUN_ID = "torchrun-shared-1"


def torchrun(env: dict[str, str], pattern: str, cwd: Path | None = None) -> str:
    env = env | {"PYTHONPATH": source_pythonpath(with_dependencies=False), "RUN_ID": RUN_ID, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "swanlabd.cli.swanlabctl", "exec", "--", str(client_python().parent / "torchrun")]
    command += ["--nproc_per_node", "2", str(referee.SCRIPTS / "torchrun_ranks.py"), pattern]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    # Neither rank fell back to writing the run folder itself: the daemon took both writers.
    assert "writing run" not in result.stderr, result.stderr
    return result.stdout


@pytest.mark.parametrize("pattern", ["rank0", "shared", "parallel"])
def test_every_rank_sees_swanlab_client_and_the_runs_are_as_documented(daemon: DaemonProcess, pattern: str) -> None:
    out = torchrun(daemon.env | {"SWANLAB_MODE": "offline"}, pattern)
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


def test_a_shared_run_reaches_the_cloud_as_one_experiment_with_every_per_rank_point(tmp_path: Path) -> None:
    with CloudServer(tmp_path / "cloud.db", {referee.API_KEY: referee.USER}) as cloud:
        env = referee.cloud_env(cloud, tmp_path)
        with DaemonProcess(env={**env, "SWANLABD_UPLOAD": "true"}) as daemon:
            torchrun({k: v for k, v in daemon.env.items() if not k.startswith("SWANLAB_")} | env, "shared", tmp_path)

            def finished() -> bool:
                experiments = cloud.experiments(referee.USER)
                return bool(experiments) and experiments[0]["state"] == "FINISHED"

            wait_for(finished, referee.UPLOAD_TIMEOUT_S, "the shared run finished on the cloud", interval=0.2)
        [experiment] = cloud.experiments(referee.USER)
        scalars = {k: v for k, v in cloud.snapshot(experiment["cuid"])["scalar"].items() if not k.startswith("__")}
        assert cloud.errors() == [] and cloud.store.duplicates() == []
    # Per-rank keys keep every point; the key both ranks log at one step keeps one value per step
    # (the first uploaded: the cloud holds one value per step, for the official SDK too).
    assert scalars["rank0/loss"] == scalars["rank1/loss"] == {step: step / 10 for step in range(5)}
    assert sorted(scalars["loss"]) == list(range(5))
    assert all(value in (step / 10, 1 + step / 10) for step, value in scalars["loss"].items())
