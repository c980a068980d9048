"""login() and sync(): an offline run is uploaded later through the daemon, to the test cloud."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from runner import TRAINER

from helpers.daemon import DaemonProcess
from swanlab_testcloud import CloudServer

KEY = "client-sync-key-0123456789"
USER = "syncer"


def test_offline_run_then_sync_uploads_it_once(tmp_path: Path):
    with CloudServer(tmp_path / "cloud.db", {KEY: USER}) as cloud:
        cloud_env = {"SWANLAB_API_HOST": cloud.url, "SWANLAB_WEB_HOST": cloud.url, "HOME": str(tmp_path)}
        with DaemonProcess(env={**cloud_env, "SWANLABD_FORWARD": "true"}) as d:
            env = {k: v for k, v in d.env.items() if not k.startswith("SWANLAB_")} | cloud_env
            env |= {"SWANLABD_SOCKET": str(d.socket), "SWANLABD_HOME": str(d.home)}
            out = subprocess.run(
                [sys.executable, str(TRAINER), "--rows", "50", "--project", "synced"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            run_id = json.loads(out.splitlines()[0])["run_id"]
            assert cloud.experiments(USER, "synced") == []  # offline: nothing went up
            login_and_sync = f"import swanlab_client as s\ns.login(api_key={KEY!r}, save=True)\nprint(s.sync())\n"
            result = subprocess.run(
                [sys.executable, "-c", login_and_sync], env=env, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 0, result.stderr + d.output()
            assert run_id in result.stdout  # sync() returns the run ids it uploaded
            assert (tmp_path / ".swanlab" / ".netrc").stat().st_mode & 0o777 == 0o600
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                (experiment,) = cloud.experiments(USER, "synced")
                if experiment["state"] == "FINISHED":
                    break
                time.sleep(0.2)
            assert experiment["state"] == "FINISHED" and experiment["cuid"] == run_id
            scalars = cloud.snapshot(run_id)["scalar"]
            assert sorted(scalars["m/k0"]) == list(range(50))
