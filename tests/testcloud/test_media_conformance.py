"""The referee for media: the official SDK and swanlabd leave the same media on the test cloud.

media_script.py logs every media type but Molecule (RDKit embeds at random) with fixed inputs,
once through the official SDK (swanlab 0.10.3 in its cached venv, with numpy, pillow and
soundfile added at the versions this venv has) and once through swanlab_client and a real
swanlabd. The cloud must take both without a protocol error, and hold the same thing for every
media key: the same object paths (media/<type>/<step>-<sha256[:8]>.<ext>, so the same bytes),
the same `more` (captions), and the same column type and section.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy
import PIL
import pytest
import soundfile
from sdk_venv import official_sdk_python_with

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer

# One xdist worker runs the whole module, so its module-scoped fixture (which runs the official
# SDK) runs once, not once per worker.
pytestmark = pytest.mark.xdist_group("media-conformance")

SCRIPT = Path(__file__).with_name("media_script.py")
API_KEY = "media-conformance-key-0123456789"
USER = "referee"
PROJECT = "media"
TIMEOUT_S = 120
MEDIA_KEYS = {
    "img/array": "IMAGE",
    "img/list": "IMAGE",
    "img/file": "IMAGE",
    "img/jpg": "IMAGE",
    "audio": "AUDIO",
    "stereo": "AUDIO",
    "text": "TEXT",
    "video": "IMAGE",
    "chart": "ECHARTS",
    "table": "ECHARTS",
    "pc/array": "OBJECT3D",
    "pc/file": "OBJECT3D",
    "page": "HTML",
}


def env_for(cloud: CloudServer, home: Path, base: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("SWANLAB_")}
    env.update(SWANLAB_API_HOST=cloud.url, SWANLAB_WEB_HOST=cloud.url, SWANLAB_API_KEY=API_KEY, HOME=str(home))
    return env


def run(python: str | Path, client: str, env: dict[str, str], work: Path) -> None:
    result = subprocess.run(
        [str(python), str(SCRIPT), client, PROJECT, str(work)],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def held(cloud: CloudServer) -> dict[str, Any]:
    (experiment,) = cloud.experiments(USER, PROJECT)
    snapshot = cloud.snapshot(experiment["cuid"])
    return {
        "state": experiment["state"],
        "errors": cloud.errors(),
        "media": snapshot["media"],
        "objects": snapshot["objects"],
        "columns": {
            key: (column["type"], column.get("sectionName"))
            for key, column in snapshot["columns"].items()
            if key in MEDIA_KEYS or key == "loss"
        },
    }


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    python = official_sdk_python_with(
        f"numpy=={numpy.__version__}", f"pillow=={PIL.__version__}", f"soundfile=={soundfile.__version__}"
    )
    work = tmp_path_factory.mktemp("official")
    with CloudServer(work / "cloud.db", {API_KEY: USER}) as cloud:
        run(python, "swanlab", env_for(cloud, work, dict(os.environ)), work)
        return held(cloud)


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("swanlabd")
    with CloudServer(work / "cloud.db", {API_KEY: USER}) as cloud:
        env = env_for(cloud, work, dict(os.environ))
        with DaemonProcess(env={**env, "SWANLABD_UPLOAD": "true"}) as daemon:
            run(sys.executable, "swanlab_client", env_for(cloud, work, daemon.env), work)

            def finished() -> bool:
                experiments = cloud.experiments(USER, PROJECT)
                return bool(experiments) and experiments[0]["state"] == "FINISHED"

            wait_for(finished, TIMEOUT_S, "the run's final state on the cloud", interval=0.2)
            yield held(cloud)


def test_the_official_sdk_is_taken_without_errors(official: dict[str, Any]) -> None:
    assert official["errors"] == [] and official["state"] == "FINISHED"
    assert {k: t for k, (t, _) in official["columns"].items() if k != "loss"} == MEDIA_KEYS
    assert set(official["media"]) == set(MEDIA_KEYS)


def test_swanlabd_is_taken_without_errors(ours: dict[str, Any]) -> None:
    assert ours["errors"] == [] and ours["state"] == "FINISHED"


def test_the_same_columns(official: dict[str, Any], ours: dict[str, Any]) -> None:
    assert ours["columns"] == official["columns"]


@pytest.mark.parametrize("key", sorted(MEDIA_KEYS))
def test_the_same_media_metrics_and_objects(official: dict[str, Any], ours: dict[str, Any], key: str) -> None:
    mine, theirs = ours["media"][key], official["media"][key]
    assert {s: (v["data"], v["more"]) for s, v in mine.items()} == {
        s: (v["data"], v["more"]) for s, v in theirs.items()
    }
    for step in theirs:
        for path in theirs[step]["data"]:
            assert ours["objects"][path] == official["objects"][path], path
