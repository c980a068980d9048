"""log() and config against the official SDK 0.10.3: the same input gives the same stored keys, steps and values.

tests/client/scripts/tolerance_cases.py holds the input (unicode keys, `acc(%)`, long keys,
numeric strings, one-element tensors, bad values, bad steps, config set before init()...).
scripts/official_log.py logs it with the official SDK in the referee venv and prints what
that stored; the same input goes through swanlab_client and a real swanlabd, and the run's
backup must hold the same rows, in the same order.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from testcloud.sdk_venv import official_sdk_python

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess

SCRIPTS = Path(__file__).parent / "scripts"

OURS = """
import json, sys
sys.path.insert(0, {scripts!r})
import tolerance_cases
import swanlab_client as swanlab
tolerance_cases.config_script(swanlab.config)
run = swanlab.init(mode="offline", project="tolerance", config={{"epochs": 3}})
tolerance_cases.config_after(swanlab.config)
for data, step in tolerance_cases.rows():
    run.log(data, step=step)
print(json.dumps({{"config": dict(run.config), "id": run.id}}))
swanlab.finish()
"""


def same_floats(value: Any) -> Any:
    """NaN and inf as the strings both SDKs write to JSON for them (see docs/client.md, Config)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Inf" if value > 0 else "-Inf"
    if isinstance(value, dict):
        return {k: same_floats(v) for k, v in value.items()}
    return value


def test_the_same_input_stores_the_same_rows_and_config_as_the_official_sdk(daemon: DaemonProcess, tmp_path: Path):
    official = subprocess.run(
        [str(official_sdk_python()), str(SCRIPTS / "official_log.py"), str(tmp_path / "swanlog")],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        cwd=SCRIPTS,
    )
    theirs = json.loads(official.stdout.strip().splitlines()[-1])
    ours = subprocess.run(
        [sys.executable, "-c", OURS.format(scripts=str(SCRIPTS))],
        env=daemon.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    mine = json.loads(ours.stdout.strip().splitlines()[-1])
    (run_dir,) = daemon.runs()
    rows = [
        [key, step, "NaN" if math.isnan(value) else value]
        for step, row in read_view(run_dir).rows[1]
        for key, value in row.items()
    ]
    # The one documented difference: an int too large for a float64 is stored as +-inf here (the
    # fast path does not look at ints), where the official SDK drops it with an error line.
    assert ["big", 5, math.inf] in rows and "big" not in {key for key, _, _ in theirs["rows"]}
    assert [r for r in rows if r[0] != "big"] == theirs["rows"]
    assert same_floats(mine["config"]) == same_floats(theirs["config"])
    # Both ids are lowercase letters and digits (the official SDK's 8 locally, swanlabd's 21: the cloud cuid).
    assert re.fullmatch(r"[a-z0-9]{8}", theirs["id"]) and re.fullmatch(r"[a-z0-9]{21}", mine["id"])
    warnings = ours.stderr
    for dropped in ("'sb'", "'n'", "'l'", "'a3'", "'c'", "'a\\nb'", "'__swanlab__.cpu'", "''", "'./'"):
        assert f"left out {dropped}" in warnings, dropped
