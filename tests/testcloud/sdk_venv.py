"""A cached venv holding the official SwanLab SDK, for the conformance referee.

The SDK pins its own protobuf and pydantic, so it cannot share the project's venv. The venv is
built once per (SDK version, Python minor) under $SWANLABD_TEST_CACHE or
~/.cache/swanlabd-tests/, behind a file lock (two pytest runs at once build it once), and
marked complete only after pip succeeded: a half-built venv from a killed run is rebuilt.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

SDK_REQUIREMENT = "swanlab==0.10.3"
PIP_TIMEOUT_S = 900


class SdkVenvError(RuntimeError):
    """Building the official SDK's venv failed; carries pip's output."""


def cache_root() -> Path:
    return Path(os.environ.get("SWANLABD_TEST_CACHE") or Path.home() / ".cache" / "swanlabd-tests")


def official_sdk_python(requirement: str = SDK_REQUIREMENT) -> Path:
    """The python of a venv where `import swanlab` is the official SDK at `requirement`."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    name = f"{requirement.replace('==', '-')}-py{sys.version_info.major}{sys.version_info.minor}"
    venv = root / name
    python = venv / "bin" / "python"
    stamp = venv / ".swanlabd-complete"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # python.exists() follows the symlink: False if the base interpreter is gone.
        if python.exists() and stamp.is_file() and stamp.read_text() == requirement:
            return python
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)])
        pip_install = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", requirement]
        try:
            _run(pip_install)
        except SdkVenvError:
            # One retry: a fresh CI machine meets the odd registry hiccup; pip resumes from its cache.
            _run(pip_install)
        stamp.write_text(requirement)
    return python


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    if result.returncode != 0:
        raise SdkVenvError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")


def official_sdk_python_with(*requirements: str, requirement: str = SDK_REQUIREMENT) -> Path:
    """The official SDK's python with `requirements` installed too (the media libraries it imports
    lazily: numpy, pillow, soundfile...). Installed once per set, behind the same lock."""
    python = official_sdk_python(requirement)
    root = cache_root()
    name = python.parent.parent.name
    stamp = python.parent.parent / ".swanlabd-with"
    wanted = "\n".join(sorted(requirements))
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.is_file() and wanted in stamp.read_text().split("\n\n")):
            _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *requirements])
            with open(stamp, "a") as f:
                f.write(wanted + "\n\n")
    return python
