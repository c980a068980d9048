"""The chaos soak's short CI variant: 20 s of daemon kills, client kills and cloud faults, fixed seed.

bench/soak.py runs it (docs/testing.md); a failure prints the soak's account, which names what
was lost or duplicated, and keeps its directory. The disk fault stays out until a full disk
heals by itself (docs/testing.md): `--faults all` runs it by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAULTS = ("daemon-kill", "client-kill", "cloud")


@pytest.mark.slow
def test_twenty_seconds_of_kills_and_cloud_faults_lose_and_duplicate_nothing(tmp_path: Path) -> None:
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
