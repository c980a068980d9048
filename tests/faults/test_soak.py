"""The chaos soak's short CI variant: 20 s of every fault, fixed seed.

bench/soak.py runs it (docs/testing.md); a failure prints the soak's account, which names what
was lost or duplicated, and keeps its directory. The disk fault (the data root fills up, then
empties) needs root to mount a tmpfs, as CI has; as another user the soak runs without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.faults import can_mount

REPO = Path(__file__).resolve().parents[2]
FAULTS = ("daemon-kill", "daemon-stop", "client-kill", "cloud") + (("disk",) if can_mount() is None else ())


@pytest.mark.slow
def test_twenty_seconds_of_kills_stops_cloud_faults_and_a_full_disk_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    out = tmp_path / "account.json"
    argv = [sys.executable, str(REPO / "bench" / "soak.py"), "--seconds", "20", "--seed", "11"]
    proc = subprocess.run(
        [*argv, "--workers", "4", "--faults", ",".join(FAULTS), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    account = json.loads(out.read_text())
    assert not account["failed"] and not any(account["must_be_zero"].values()), proc.stdout
    assert all(account["faults"][kind] >= 1 for kind in FAULTS), account["faults"]
    assert account["accepted_finished"] > 0 and account["stored"] > 0, proc.stdout
    assert account["uploaded"] == account["stored"], proc.stdout
