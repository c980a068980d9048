"""The referee: the official SDK and swanlabd leave the same records on the test cloud.

1. The official SDK (swanlab==0.10.3, in its own cached venv, see sdk_venv.py) runs
   reference_script.py in cloud mode against a fresh CloudServer. The server must have taken
   everything without a single protocol error or duplicate: project, experiment, config,
   columns, every key/step/value, the console lines (stdout and stderr), the text media, the
   final state. This proves the test cloud speaks the protocol the SDK speaks.
2. The same script through swanlab_client and a real swanlabd (with its uploader) must leave
   exactly the records the official SDK leaves when it runs the script with the same arguments:
   experiment, profile, config, columns, scalars, media and console lines, each compared whole.
   The only lines left out of the comparison are the official SDK's own ("swanlab: ..." banner,
   run URLs), which the SDK prints itself and the script did not.

Media: the script logs text media with `--media text` and none with `--media none`. Both sides
run `--media text`, and every media item (object bytes, captions, column type and section) must
match. Nothing is skipped: what both sides logged is compared in full. The other media types
are compared with the official SDK in tests/testcloud/test_media_conformance.py.

Cold cache: building the SDK venv takes ~30 s (pip); afterwards each SDK run takes ~2 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import reference_script as ref
from sdk_venv import official_sdk_python

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer

# One xdist worker runs the whole module, so its module-scoped fixture (which runs the official
# SDK) runs once, not once per worker.
pytestmark = pytest.mark.xdist_group("conformance")

SCRIPT = Path(__file__).with_name("reference_script.py")
API_KEY = "conformance-key-0123456789"
USER = "referee"
PROJECT = "conformance"
STEPS = 60
RUN_TIMEOUT_S = 120
UPLOAD_TIMEOUT_S = 60
SYSTEM_PREFIX = "__swanlab__."
# What the script logs through swanlab_client (and the official run it is compared with).
CLIENT_MEDIA = "text"


def cloud_env(cloud: CloudServer, home: Path) -> dict[str, str]:
    """The environment of a training script aimed at `cloud` (and at no real cloud)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWANLAB_")}
    env.update(
        SWANLAB_API_HOST=cloud.url,
        SWANLAB_WEB_HOST=cloud.url,
        SWANLAB_API_KEY=API_KEY,
        HOME=str(home),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_script(
    python: str | Path, client: str, media: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    command = [str(python), str(SCRIPT), "--client", client, "--project", PROJECT, "--steps", str(STEPS)]
    command += ["--media", media]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def the_experiment(cloud: CloudServer) -> dict[str, Any]:
    experiments = cloud.experiments(USER, PROJECT)
    assert len(experiments) == 1, f"expected one experiment in {USER}/{PROJECT}, got {experiments}"
    return experiments[0]


def records(cloud: CloudServer, experiment_cuid: str) -> dict[str, Any]:
    """What a user would see of one run in the cloud, without ids, times or system metrics."""
    snapshot = cloud.snapshot(experiment_cuid)
    experiment = snapshot["experiment"]
    objects = snapshot["objects"]
    # `more` is not aligned with `data`: the SDK adds an entry only for an item with a caption.
    media = {
        key: {
            step: ([objects[path] for path in v["data"]], [m["caption"] for m in v["more"] if m.get("caption")])
            for step, v in steps.items()
        }
        for key, steps in snapshot["media"].items()
    }
    return {
        "experiment": {
            **{k: experiment[k] for k in ("name", "state", "create_calls", "state_calls")},
            "description": json.loads(experiment["body"]).get("description"),
        },
        "profile kinds": sorted(snapshot["profile"]),
        "config": snapshot["profile"].get("config"),
        "columns": {
            key: (column["type"], column.get("sectionName"))
            for key, column in snapshot["columns"].items()
            if not key.startswith(SYSTEM_PREFIX)
        },
        "scalar": {key: steps for key, steps in snapshot["scalar"].items() if not key.startswith(SYSTEM_PREFIX)},
        "media": media,
        "log": [(epoch, line["level"], line["message"]) for epoch, line in sorted(snapshot["log"].items())],
    }


def expected_columns(media: str) -> dict[str, tuple[str, str]]:
    columns = {key: ("FLOAT", key.split("/")[0]) for key in ref.expected(STEPS)}
    return columns | {"sample/text": ("TEXT", "sample")} if media == "text" else columns


def expected_media(media: str) -> dict[str, Any]:
    if media == "none":
        return {}
    return {"sample/text": {step: ([text.encode()], [caption]) for step, (text, caption) in ref.texts(STEPS).items()}}


def by_stream(log: list[tuple[int, str, str]]) -> dict[str, list[tuple[str, str]]]:
    """(level, message) of each line, in order, by the stream the script printed it to ("other": not the script's)."""
    streams = {line: stream for stream, line in ref.console_lines()}
    result: dict[str, list[tuple[str, str]]] = {"stdout": [], "stderr": [], "other": []}
    for _, level, message in log:
        result[streams.get(message, "other")].append((level, message))
    return result


def printed_by_the_script(log: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """The official SDK's console log without the lines the SDK printed itself.

    Its own lines are a banner ("swanlab: Tracking run with swanlab version 0.10.3"), the run
    folder and the run's URLs, and now and then a piece of a URL line its terminal emulator cut
    in two. Only the SDK's side is filtered: swanlab_client's log must hold the script's lines
    and nothing else.
    """
    script = {line for _, line in ref.console_lines()}
    return [(epoch, level, message) for epoch, level, message in log if message in script]


def assert_numbered_from_one(log: list[tuple[int, str, str]]) -> None:
    """Lines go up numbered 1, 2, 3, ...: no line number twice, none skipped."""
    assert [epoch for epoch, _, _ in log] == list(range(1, len(log) + 1)), log


def official_run(work: Path, media: str) -> dict[str, Any]:
    """Run the script with the official SDK on a fresh test cloud; what the cloud then held and how it was told."""
    with CloudServer(work / "cloud.db", {API_KEY: USER}) as cloud:
        result = run_script(official_sdk_python(), "swanlab", media, cloud_env(cloud, work), work)
        assert result.returncode == 0, result.stdout + result.stderr
        experiment = the_experiment(cloud)
        return {
            "media": media,
            "records": records(cloud, experiment["cuid"]),
            "experiment": experiment,
            "errors": cloud.errors(),
            "requests": cloud.requests(),
            "duplicates": cloud.store.duplicates(),
            "output": result.stdout + result.stderr,
        }


@pytest.fixture(scope="module")
def official_runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Any]]:
    """official_runs(media): the official SDK's run of the script with `--media media`, run once per module."""
    runs: dict[str, dict[str, Any]] = {}

    def get(media: str) -> dict[str, Any]:
        if media not in runs:
            runs[media] = official_run(tmp_path_factory.mktemp(f"official-{media}"), media)
        return runs[media]

    return get


@pytest.fixture(scope="module")
def referee(official_runs: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The official SDK's run of the script with the arguments swanlab_client's run gets."""
    return official_runs(CLIENT_MEDIA)


@pytest.mark.parametrize("media", ref.MEDIA)
def test_official_sdk_run_is_taken_without_errors(official_runs: Callable[[str], dict[str, Any]], media: str) -> None:
    run = official_runs(media)
    assert run["errors"] == [], run["output"]
    assert run["duplicates"] == []
    got = run["records"]
    assert got["experiment"] == {
        "name": "reference",
        "state": "FINISHED",
        "create_calls": 1,
        "state_calls": 1,
        "description": "conformance reference run",
    }
    assert run["experiment"]["heartbeats"] >= 1
    assert got["profile kinds"] == ["config", "metadata", "requirements"]
    assert {k: v["value"] for k, v in got["config"].items()} == ref.CONFIG
    assert got["scalar"] == ref.expected(STEPS)
    assert got["media"] == expected_media(media)
    assert got["columns"] == expected_columns(media)
    assert_numbered_from_one(got["log"])
    printed = by_stream(got["log"])
    for stream in ("stdout", "stderr"):
        assert [message for _, message in printed[stream]] == [m for s, m in ref.console_lines() if s == stream]
        assert all(level in ("INFO", "ERROR") for level, _ in printed[stream])
    # Every call carried the SDK version; the only non-2xx was the project lookup before creation.
    assert all(r["sdk_version"] == "0.10.3" for r in run["requests"])
    assert [(r["method"], r["status"]) for r in run["requests"] if r["status"] >= 300] == [("GET", 404)]


@pytest.fixture(scope="module")
def swanlabd_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Run the script through swanlab_client and a real swanlabd; yield what the cloud then held."""
    work = tmp_path_factory.mktemp("swanlabd")
    with CloudServer(work / "cloud.db", {API_KEY: USER}) as cloud:
        env = cloud_env(cloud, work)
        with DaemonProcess(env={**env, "SWANLABD_UPLOAD": "true"}) as daemon:
            # daemon.env starts from os.environ: keep a developer's own SWANLAB_* out of the script.
            script_env = {k: v for k, v in daemon.env.items() if not k.startswith("SWANLAB_")} | env
            result = run_script(sys.executable, "swanlab_client", CLIENT_MEDIA, script_env, work)
            assert result.returncode == 0, result.stdout + result.stderr
            experiment = wait_until_finished(cloud, daemon)
        yield {
            "records": records(cloud, experiment["cuid"]),
            "experiment": experiment,
            "errors": cloud.errors(),
            "duplicates": cloud.store.duplicates(),
        }


def test_swanlabd_is_taken_without_errors(swanlabd_run: dict[str, Any]) -> None:
    assert swanlabd_run["errors"] == []
    assert swanlabd_run["duplicates"] == []
    assert swanlabd_run["experiment"]["heartbeats"] >= 1


@pytest.mark.parametrize("part", ["experiment", "profile kinds", "config", "columns", "scalar", "media"])
def test_swanlabd_leaves_the_same_records(referee: dict[str, Any], swanlabd_run: dict[str, Any], part: str) -> None:
    # config includes each key's `sort` (the order the script gave its config in); scalar
    # includes every step of every key, non-finite values as "nan"; media every item and caption.
    assert swanlabd_run["records"][part] == referee["records"][part]


def test_swanlabd_uploads_the_printed_lines_as_the_sdk_does(
    referee: dict[str, Any], swanlabd_run: dict[str, Any]
) -> None:
    """The lines the script printed, each with the official SDK's level, in order within each stream, and nothing else.

    Order across streams is not compared: the official SDK (0.10.3) holds a stderr line back and
    uploaded it after its own finish banner, so its cross-stream order is an accident of its
    buffering, not a record of what the script did.
    """
    got = swanlabd_run["records"]["log"]
    assert_numbered_from_one(got)
    assert by_stream(got) == by_stream(printed_by_the_script(referee["records"]["log"]))


def wait_until_finished(cloud: CloudServer, daemon: DaemonProcess) -> dict[str, Any]:
    """The run's experiment once the uploader has set its final state (the upload is asynchronous)."""

    def final_state() -> bool:
        experiments = cloud.experiments(USER, PROJECT)
        return bool(experiments) and experiments[0]["state"] != "RUNNING"

    try:
        wait_for(final_state, UPLOAD_TIMEOUT_S, "final state on the cloud", interval=0.2)
    except AssertionError:
        requests = [(r["method"], r["path"], r["status"], r["outcome"]) for r in cloud.requests()]
        pytest.fail(
            f"no final state on the cloud after {UPLOAD_TIMEOUT_S}s\nrequests: {requests}\n"
            f"errors: {cloud.errors()}\ndaemon output:\n{daemon.output()}"
        )
    return the_experiment(cloud)
