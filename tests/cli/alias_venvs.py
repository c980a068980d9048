"""Cached venvs for the exec tests: the official SDK beside swanlabd, and torch + transformers + accelerate.

Built once per (name, requirements, Python minor) under the referee venv's cache root
(tests/testcloud/sdk_venv.py: $SWANLABD_TEST_CACHE or ~/.cache/swanlabd-tests/), behind a file
lock, and marked complete only after pip succeeded. They hold no swanlabd: a test runs their
python with `source_pythonpath()` on PYTHONPATH, so the checkout under test is what they import,
whichever folder CI cloned it into.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

PIP_TIMEOUT_S = 900
REPO = Path(__file__).resolve().parents[2]

OFFICIAL_SDK = ("swanlab==0.10.3",)
# --no-deps: swanlab 0.10.3 needs protobuf<7 and swanlabd protobuf>=7.35, so pip cannot install
# both whole into one venv. The official package's own files and metadata are what compete with
# the alias for `import swanlab`, find_spec and importlib.metadata.
OFFICIAL_SDK_PIP_ARGS = ("--no-deps",)
# torch 2.13.0 is the CPU build on this machine's disk (pip takes it from there; see the
# machine notes); the others are the releases the alias was checked against.
FRAMEWORKS = ("torch==2.13.0", "transformers==5.24.0", "accelerate==1.15.0")


class VenvBuildError(RuntimeError):
    """pip failed to build a cached venv; carries its output."""


def cache_root() -> Path:
    return Path(os.environ.get("SWANLABD_TEST_CACHE") or Path.home() / ".cache" / "swanlabd-tests")


def cached_python(name: str, requirements: tuple[str, ...], pip_args: tuple[str, ...] = ()) -> Path:
    """The python of the venv `name`, holding `requirements`, built on first use."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"{name}-py{sys.version_info.major}{sys.version_info.minor}"
    python = venv / "bin" / "python"
    stamp = venv / ".swanlabd-complete"
    wanted = "\n".join([*pip_args, *requirements])
    with open(root / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.is_file() and stamp.read_text() == wanted:
            return python
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)])
        _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *pip_args, *requirements])
        stamp.write_text(wanted)
    return python


def source_pythonpath(*, with_dependencies: bool) -> str:
    """PYTHONPATH that makes this checkout's swanlab_client importable from another venv.

    The sources alone suffice to import swanlab_client and resolve the alias; a run that logs
    also needs swanlabd's dependencies (grpc, protobuf...), taken from the test's own venv.
    """
    paths = [str(REPO / "client"), str(REPO / "daemon"), str(REPO / "proto")]
    if with_dependencies:
        paths.append(sysconfig.get_paths()["purelib"])
    return os.pathsep.join(paths)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    if result.returncode != 0:
        raise VenvBuildError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
