"""A run's package list (files/requirements.txt and its Requirements record) is what the training
process has installed, though the training process only sends its sys.path: the daemon, or the
fallback file's writer, lists it (swanlabd.local.packages). Against the daemon as a process; the
referee is `pip list` run on the script's own interpreter and path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.rawclient import start_run
from swanlab_client._transport import FileTransport
from swanlabd.format.backup import BACKUP_FILENAME, read_records
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

SCRIPT = """
import swanlab_client as swanlab
run = swanlab.init(project="req", experiment_name="e", mode="offline")
swanlab.log({"loss": 1.0})
swanlab.finish()
print(run.run_dir)
"""


def normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def pip_list(env: dict[str, str]) -> set[tuple[str, str]]:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {(normal(p["name"]), p["version"]) for p in json.loads(out)}


def listed(text: str) -> set[tuple[str, str]]:
    return {(normal(line.split("==")[0]), line.split("==")[1]) for line in text.splitlines()}


def requirements_records(run_dir: Path) -> list[pb.Requirements]:
    return [r.requirements for r, _ in read_records(run_dir / BACKUP_FILENAME) if r.HasField("requirements")]


def test_the_daemon_lists_the_packages_of_the_training_process(daemon: DaemonProcess, tmp_path: Path) -> None:
    site = tmp_path / "site"  # a folder on the script's path only: the daemon's own path lacks it
    (site / "only_here-0.1.dist-info").mkdir(parents=True)
    (site / "only_here-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: only_here\nVersion: 0.1\n")
    env = {**daemon.env, "PYTHONPATH": os.pathsep.join(filter(None, [daemon.env.get("PYTHONPATH"), str(site)]))}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.split()[-1])
    text = (run_dir / "files" / "requirements.txt").read_text()
    assert listed(text) == pip_list(env)
    assert "only_here==0.1" in text.splitlines()
    [stored] = requirements_records(run_dir)
    assert stored.pip == text and list(stored.sys_path) == []  # the list is stored, not the path
    assert read_view(run_dir).finish is not None


def test_the_fallback_file_lists_them_too(tmp_path: Path) -> None:
    site = os.path.dirname(os.path.dirname(pytest.__file__))
    transport = FileTransport(tmp_path)
    try:
        reply = transport.start(
            svc.StartRunRequest(
                start=pb.RunStart(run_id="fallback1", project="p", start_time_ms=1_767_225_600_000),
                requirements=pb.Requirements(sys_path=[site]),
                pid=os.getpid(),
            )
        )
    finally:
        transport.close()
    run_dir = Path(reply.run_dir)
    text = (run_dir / "files" / "requirements.txt").read_text()
    assert f"pytest=={pytest.__version__}" in text.splitlines()
    assert [r.pip for r in requirements_records(run_dir)] == [text]


@pytest.mark.parametrize("sys_path", [["relative"], ["/p"] * 1025])
def test_a_startrun_whose_sys_path_the_daemon_would_not_read_is_invalid_argument(
    daemon: DaemonProcess, sys_path: list[str]
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        start_run(daemon.stub(), requirements=pb.Requirements(sys_path=sys_path))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith("StartRun: requirements.sys_path"), info.value.details()
    assert daemon.runs() == []
