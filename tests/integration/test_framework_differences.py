"""What swanlab_client's framework integrations do on purpose unlike the official SDK 0.10.3's
(docs/integrations.md, "What differs"); what they share with it is compared on the test clouds by
test_frameworks.py. The same script, offline: with the official SDK in the referee venv, and under
`swanlabctl exec` in the integration venv into a real daemon whose backup is read back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alias_venvs import source_pythonpath
from integ_venvs import client_python, official_python

from helpers.backupview import BackupView, read_view
from helpers.daemon import DaemonProcess
from swanlabd_pb import records_pb2 as pb

MMENGINE_MIXED_LIST = """
from mmengine.config import Config
from swanlab.integration.mmengine import SwanlabVisBackend

backend = SwanlabVisBackend(init_kwargs=dict(project="p", experiment_name="mixed"))
backend.add_config(Config(dict(pipeline=[dict(type="Resize", scale=(8, 8)), "Normalize"], sizes=[1, 2])))
"""


def official(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "official.py"
    script.write_text(source)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SWANLAB_MODE": "offline"}
    return subprocess.run(
        [str(official_python()), str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def ours(daemon: DaemonProcess, tmp_path: Path, source: str) -> BackupView:
    script = tmp_path / "ours.py"
    script.write_text(source)
    env = daemon.env | {"SWANLAB_MODE": "offline", "PYTHONPATH": source_pythonpath(with_dependencies=False)}
    command = [sys.executable, "-m", "swanlabd.cli.swanlabctl", "exec", "--", str(client_python()), str(script)]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    [run_dir] = daemon.runs()
    view = read_view(run_dir)
    assert view.finish is not None and view.finish.state == pb.FINISHED
    return view


def test_mmengine_a_config_list_of_dicts_and_values_is_stored(daemon: DaemonProcess, tmp_path: Path) -> None:
    """The official backend flattens each item of a list holding a dict as a dict: add_config
    raises AttributeError on a plain item beside them, and so does the Runner being built."""
    theirs = official(tmp_path, MMENGINE_MIXED_LIST)
    assert theirs.returncode == 1 and "AttributeError: 'str' object has no attribute 'items'" in theirs.stderr
    view = ours(daemon, tmp_path, MMENGINE_MIXED_LIST)
    assert view.config == {
        "FRAMEWORK": "mmengine",
        "pipeline[0]/type": "Resize",
        "pipeline[0]/scale": [8, 8],
        "pipeline[1]": "Normalize",
        "sizes": [1, 2],
    }
