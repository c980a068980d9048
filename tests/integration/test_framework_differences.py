"""What swanlab_client's framework integrations do on purpose unlike the official SDK 0.10.3's
(docs/integrations.md, "What differs"); what they share with it is compared on the test clouds by
test_frameworks.py. The same script, offline: with the official SDK in the referee venv, and under
`swanlabctl exec` in the integration venv into a real daemon whose backup is read back.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from integ_venvs import official_python, run_offline_under_exec

from helpers.daemon import DaemonProcess

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


def test_mmengine_a_config_list_of_dicts_and_values_is_stored(daemon: DaemonProcess, tmp_path: Path) -> None:
    """The official backend flattens each item of a list holding a dict as a dict: add_config
    raises AttributeError on a plain item beside them, and so does the Runner being built."""
    theirs = official(tmp_path, MMENGINE_MIXED_LIST)
    assert theirs.returncode == 1 and "AttributeError: 'str' object has no attribute 'items'" in theirs.stderr
    view = run_offline_under_exec(daemon, tmp_path, MMENGINE_MIXED_LIST)
    assert view.config == {
        "FRAMEWORK": "mmengine",
        "pipeline[0]/type": "Resize",
        "pipeline[0]/scale": [8, 8],
        "pipeline[1]": "Normalize",
        "sizes": [1, 2],
    }
