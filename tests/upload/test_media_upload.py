"""Media from a training script to the test cloud: live in cloud mode, and from an offline run
folder copied to another host's data root and synced there (the folder is self-contained)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from uploading import API_KEY, caller_env, ctl_sync, finished

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for

SCRIPT = """
import json, sys
import numpy as np
import swanlab_client as s

run = s.init(project="media-up", experiment_name="m", mode=sys.argv[1])
rgb = (np.arange(8 * 8 * 3) % 251).astype(np.uint8).reshape(8, 8, 3)
for step in range(3):
    s.log({"loss": step / 10, "img": [s.Image(rgb + step, caption=f"c{step}"), s.Image(rgb)],
           "txt": s.Text(f"step {step}")}, step=step)
print(json.dumps({"run_id": run.run_id, "run_dir": str(run.run_dir)}), flush=True)
s.finish()
"""


def run_script(env: dict[str, str], mode: str) -> dict[str, str]:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_media_on_the_cloud(cloud, run_id: str, run_dir: str) -> None:
    media = cloud.store.metrics(run_id, "media")
    objects = cloud.store.objects(run_id)
    assert sorted(media) == ["img", "txt"] and sorted(media["img"]) == [0, 1, 2]
    rgb = (np.arange(8 * 8 * 3) % 251).astype(np.uint8).reshape(8, 8, 3)
    for step, value in media["img"].items():
        assert value["more"] == [{"caption": f"c{step}"}]  # the uncaptioned image has no entry
        first, second = (np.asarray(PILImage.open(io.BytesIO(objects[p]))) for p in value["data"])
        assert np.array_equal(first, rgb + step) and np.array_equal(second, rgb)
    assert [objects[media["txt"][s]["data"][0]] for s in range(3)] == [b"step 0", b"step 1", b"step 2"]
    # What went up is what the run folder holds, file for file.
    refs = [ref for _, _, ref in read_view(run_dir).media[1]]
    assert {ref.path for ref in refs} == set(objects)
    assert all(objects[ref.path] == (Path(run_dir) / ref.path).read_bytes() for ref in refs)
    assert cloud.errors() == [] and cloud.duplicate_count() == 0


def test_media_go_up_live_in_cloud_mode(upload_daemon: DaemonProcess, cloud):
    env = caller_env(upload_daemon, cloud)
    run = run_script(env, "cloud")
    assert wait_for(lambda: finished(cloud, run["run_id"]), 30, "final state") == "FINISHED"
    assert_media_on_the_cloud(cloud, run["run_id"], run["run_dir"])


def test_an_offline_run_folder_copied_to_another_data_root_syncs_its_media(daemon: DaemonProcess, cloud):
    run = run_script({**daemon.env, "SWANLAB_API_KEY": API_KEY}, "offline")
    other = DaemonProcess(env={"SWANLABD_UPLOAD": "true"})
    try:
        copy = other.root / "from-host-a" / Path(run["run_dir"]).name
        shutil.copytree(run["run_dir"], copy)
        shutil.rmtree(run["run_dir"])  # nothing of the first host is left to read
        other.start()
        result = ctl_sync(other, cloud, str(copy))
        assert result.returncode == 0, result.stdout + result.stderr
        assert finished(cloud, run["run_id"]) == "FINISHED"
        assert_media_on_the_cloud(cloud, run["run_id"], str(copy))
    finally:
        other.close()
