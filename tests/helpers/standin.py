"""A stand-in training process: a live pid for the daemon to watch, killed by the test."""

from __future__ import annotations

import subprocess
import sys


def sleeper() -> subprocess.Popen:
    """A process that sleeps for two minutes, unless the test kills it first."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
