"""Cached venvs for the integration tests: one with swanlab_client's dependencies and the
frameworks (the checkout's sources go on PYTHONPATH), one with the official SDK and the same
frameworks (the referee). Built once under the referee cache root (alias_venvs.py), so a test
run after the first costs seconds.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from alias_venvs import REPO, cached_python, source_pythonpath

from helpers.backupview import BackupView, read_view
from helpers.daemon import DaemonProcess
from swanlabd_pb import records_pb2 as pb

# torch 2.13.0 is the CPU wheel on this machine's disk; the others are the releases checked here.
# xgboost-cpu is xgboost without the CUDA (NCCL) wheels (the same `xgboost` module); 3.2 is the
# last release for Python 3.11. The trackers the sync_* bridges patch follow: tensorboard for
# torch.utils.tensorboard, mlflow-skinny (mlflow without its server and SQL store) with a file store.
# MMEngine brings opencv-python (its Visualizer imports cv2); Ray's tune extra brings pandas and
# pyarrow, which ray.tune imports. Together about 0.6 GB per venv. torchtune 0.6.1 needs a
# torchao older than the newest (0.18 lacks torchao.dtypes.nf4tensor, which torchtune imports);
# 0.10.0 is the one checked. Adding them changes no other package's version here.
FRAMEWORKS = (
    "torch==2.13.0",
    "transformers==5.24.0",
    "accelerate==1.15.0",
    "lightning==2.6.6",
    "xgboost-cpu==3.2.0",
    "lightgbm==4.7.0",
    "catboost==1.2.10",
    "keras==3.15.1",
    "stable-baselines3==2.9.2",
    "tensorboard==2.21.0",
    "tensorboardX==2.6.5",
    "wandb==0.31.0",
    "mlflow-skinny==3.17.2",
    "mmengine==0.10.7",
    "ray[tune]==2.60.0",
    "torchtune==0.6.1",
    "torchao==0.10.0",
)
# PaddleNLP, in a pair of venvs of its own: 2.8.1 (its latest) imports huggingface_hub's
# repo_type_and_id_from_hf_id, gone after 0.23 (transformers 5 needs a hub >= 1.0), and
# aistudio-sdk's API of 0.2; it runs on NumPy 1, with a pyarrow older than 16.
PADDLENLP = (
    "paddlepaddle==3.3.1",
    "paddlenlp==2.8.1",
    "huggingface_hub==0.23.5",
    "aistudio-sdk==0.2.6",
    "pyarrow<16",
    "numpy<2",
)
# fastai and Ultralytics, in a pair of venvs of their own: both import torchvision, and PyPI's
# torchvision 0.28.0 (the release for torch 2.13) fails to load beside the CPU torch 2.13.0 wheel
# above ("operator torchvision::nms does not exist"). torch 2.14.1 and torchvision 0.29.1 load
# together; they lie on this machine's disk, torch as its CUDA build, which runs on the CPU (6.5 GB
# a venv).
VISION = (
    "torch==2.14.1",
    "torchvision==0.29.1",
    "fastai==2.8.12",
    "ultralytics==8.4.190",
)
OFFICIAL_SDK = "swanlab==0.10.3"
# Each pair of venvs by name: the suffix of its two cache folders' names, and its frameworks.
PAIRS = {"frameworks": ("", FRAMEWORKS), "paddlenlp": ("-paddlenlp", PADDLENLP), "vision": ("-vision", VISION)}
# Which pair of venvs runs a script of scripts/ (the others: "frameworks").
VENVS_OF_SCRIPT = {
    "paddlenlp_trainer.py": "paddlenlp",
    "fastai_learner.py": "vision",
    "ultralytics_train.py": "vision",
}


def _client_requirements() -> tuple[str, ...]:
    """What swanlab_client imports from its sources: swanlabd's dependencies, and pyecharts for
    the charts the XGBoost callback logs."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    media = [r for r in project["optional-dependencies"]["media"] if r.startswith(("pyecharts", "simplejson"))]
    return (*project["dependencies"], *media)


def client_python(venvs: str = "frameworks") -> Path:
    """A python where the frameworks import and swanlab_client does from source_pythonpath().

    venvs: a name of PAIRS ("frameworks", "paddlenlp" or "vision")."""
    suffix, frameworks = PAIRS[venvs]
    return cached_python(f"integrations{suffix}", (*_client_requirements(), *frameworks))


def official_python(venvs: str = "frameworks") -> Path:
    """A python where `import swanlab` is the official SDK, beside the same frameworks."""
    suffix, frameworks = PAIRS[venvs]
    return cached_python(f"swanlab-0.10.3-integrations{suffix}", (OFFICIAL_SDK, *frameworks))


def run_offline_under_exec(daemon: DaemonProcess, tmp_path: Path, source: str) -> BackupView:
    """`source` as a script under `swanlabctl exec` in the integration venv, offline, into `daemon`:
    the backup of the one run it made, finished."""
    script = tmp_path / "script.py"
    script.write_text(source)
    env = daemon.env | {"SWANLAB_MODE": "offline", "PYTHONPATH": source_pythonpath(with_dependencies=False)}
    command = [sys.executable, "-m", "swanlabd.cli.swanlabctl", "exec", "--", str(client_python()), str(script)]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    [run_dir] = daemon.runs()
    view = read_view(run_dir)
    assert view.finish is not None and view.finish.state == pb.FINISHED
    return view


if __name__ == "__main__":
    # `python tests/integration/integ_venvs.py [frameworks|paddlenlp|vision]`: build a pair ahead of a test run.
    for venvs in sys.argv[1:] or list(PAIRS):
        print(client_python(venvs), official_python(venvs), file=sys.stderr)
