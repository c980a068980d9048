"""Checks shared by the `swanlabctl sync` tests of each source kind (test_sync_*.py)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import subprocess
from pathlib import Path

from uploading import ctl_sync


def tree_digest(folder: Path) -> dict[str, str]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def assert_unlocked(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if anyone holds it
                fcntl.flock(f, fcntl.LOCK_UN)


def sync_json(daemon, cloud, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = ctl_sync(daemon, cloud, "--json", *args)
    return result, json.loads(result.stdout) if result.stdout.strip() else {}
