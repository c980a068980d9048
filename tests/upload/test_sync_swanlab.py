"""`swanlabctl sync` of runs the official SwanLab SDK 0.10.3 wrote offline (docs/sync.md).

Each source is a real run of the real SDK in its own venv; the referee is the SDK's own reader
of the same file: every point it sees reaches the test cloud's experiment (cuid = the SDK's
run id) exactly once, and the user's folder is left byte for byte as it was, unlocked."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from swanlab_runs import backup_file, official_view, run_folder, run_id_of, start_growing_run, write_run
from sync_checks import assert_unlocked, sync_json, sync_killed_then_again, tree_digest
from uploading import API_KEY, ctl_sync, finished, metric_calls

from helpers.waiting import wait_for
from swanlabd.format import backup, scalarcodec


@pytest.fixture(scope="module")
def sdk_run(tmp_path_factory) -> Path:
    """One finished SDK run of 300 steps, written once for the module (tests copy it)."""
    return write_run(tmp_path_factory.mktemp("swanlog"), 300)


def assert_matches_official(cloud, folder: Path, uploaded_by_sdk: dict[str, set[int]] | None = None) -> None:
    """Every scalar, media step and console line the SDK's reader sees is on the server, once.

    `uploaded_by_sdk`: steps the SDK itself sent before it was killed; its file may lack the last
    of them (written after the upload), and the server keeps them.
    """
    run_id = run_id_of(folder)
    view = official_view(folder)
    scalars = cloud.store.metrics(run_id, "scalar")
    for key, steps in view["scalar"].items():
        got = scalars.get(key, {})
        extra = (uploaded_by_sdk or {}).get(key, set()) - set(steps)
        assert sorted(got) == sorted({*steps, *extra}), key
        for step, value in steps.items():
            assert math.isclose(got[step], value, rel_tol=1e-12), (key, step)
    media = cloud.store.metrics(run_id, "media")
    for key, steps in view["media"].items():
        assert sorted(media.get(key, {})) == sorted(steps), key
    lines = cloud.store.metrics(run_id, "log").get("", {})
    assert {epoch: lines[epoch]["message"] for epoch in view["log"]} == view["log"]
    assert cloud.duplicate_count() == 0, cloud.store.duplicates()[:5]


def test_sdk_run_synced_point_by_point_then_again_sends_nothing(upload_daemon, cloud, sdk_run, tmp_path):
    folder = tmp_path / sdk_run.name
    shutil.copytree(sdk_run, folder)
    before = tree_digest(folder)
    result, out = sync_json(upload_daemon, cloud, str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = run_id_of(folder)
    (run,) = out["runs"]
    assert run["run_id"] == run_id and run["done"] and not run["error"]
    conversion = run["conversion"]
    assert conversion["source_kind"] == "swanlab" and conversion["points"] == 600
    assert conversion["losses"] == [] and conversion["unknown"] == {}
    assert [e["cuid"] for e in cloud.experiments()] == [run_id]
    assert finished(cloud, run_id) == "FINISHED"
    assert_matches_official(cloud, folder)
    profile = cloud.store.profile(run_id)
    assert "lr" in json.dumps(profile["config"]) and "adam" in json.dumps(profile["config"])
    assert len(cloud.store.objects(run_id)) >= 60  # 30 images + 30 texts
    assert tree_digest(folder) == before
    assert_unlocked(folder)
    ls = json.loads(upload_daemon.ctl("ls", "--json").stdout)
    assert [r.get("source_kind") for r in ls["runs"]] == ["swanlab"]
    assert "offline (swanlab)" in upload_daemon.ctl("ls").stdout
    # The converted points are stored as the daemon stores a client's: compact (format 2).
    stored = [r.scalars for r, _ in backup.read_records(Path(ls["runs"][0]["run_dir"]) / backup.BACKUP_FILENAME)]
    assert all(rows.blocks and not rows.steps for rows in stored if rows.ByteSize())
    assert sum(len(scalarcodec.decode(rows).key_ids) for rows in stored) == 600

    calls, requests = metric_calls(cloud), len(cloud.requests())
    again, out = sync_json(upload_daemon, cloud, str(folder))
    assert again.returncode == 0, again.stdout + again.stderr
    assert out["runs"][0]["conversion"]["records"] == 0
    assert metric_calls(cloud) == calls and len(cloud.requests()) == requests  # not one request
    assert tree_digest(folder) == before


def test_growing_run_synced_while_training_then_after(upload_daemon, cloud, tmp_path):
    logdir = tmp_path / "swanlog"
    proc = start_growing_run(logdir, 3000, pause_at=2000)
    try:
        wait_for(lambda: (logdir / "ready").exists() or proc.poll() is not None, 120, "first part written")
        assert proc.poll() is None
        folder = run_folder(logdir)
        run_id = run_id_of(folder)
        first = ctl_sync(upload_daemon, cloud, str(folder))
        assert first.returncode == 0, first.stdout + first.stderr
        # The SDK buffers its writes: whatever reached the file is up, and the run is still running.
        assert 0 < len(cloud.store.metrics(run_id, "scalar").get("loss", {})) <= 2001
        assert finished(cloud, run_id) in (None, "RUNNING")
        (logdir / "go").touch()
        assert proc.wait(120) == 0
    finally:
        proc.kill()
        proc.wait()
    second = ctl_sync(upload_daemon, cloud, str(folder))
    assert second.returncode == 0, second.stdout + second.stderr
    assert [e["cuid"] for e in cloud.experiments()] == [run_id]
    assert finished(cloud, run_id) == "FINISHED"
    assert sorted(cloud.store.metrics(run_id, "scalar")["loss"]) == list(range(3000))
    assert_matches_official(cloud, folder)


def test_flipped_byte_loses_only_its_block_and_names_it(upload_daemon, cloud, tmp_path):
    folder = write_run(tmp_path / "swanlog", 2000)
    file = backup_file(folder)
    data = bytearray(file.read_bytes())
    assert len(data) > 5 * 32768
    data[3 * 32768 + 5000] ^= 0x40  # inside the fourth block
    file.write_bytes(data)
    before = tree_digest(folder)
    result, out = sync_json(upload_daemon, cloud, str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = run_id_of(folder)
    (loss,) = out["runs"][0]["conversion"]["losses"]
    assert "checksum mismatch" in loss and "lost" in loss, loss
    first, last = map(int, re.search(r"steps (\d+)-(\d+)", loss).groups())
    got = set(cloud.store.metrics(run_id, "scalar")["loss"])
    missing = set(range(2000)) - got
    # Only that block's records are gone (the rest of the run is there), and the report names them.
    assert missing and min(missing) >= first and max(missing) <= last and last - first < 300
    assert 1999 in got and finished(cloud, run_id) == "FINISHED"
    assert cloud.duplicate_count() == 0
    assert tree_digest(folder) == before
    again = ctl_sync(upload_daemon, cloud, str(folder))
    assert again.returncode == 0 and "damaged" not in again.stderr  # reported by the sync that read it


def test_daemon_killed_during_sync_then_sync_again(upload_daemon, cloud, tmp_path):
    folder = write_run(tmp_path / "swanlog", 12_000)  # 24,000 points: two conversion chunks
    run_id = run_id_of(folder)
    sync_killed_then_again(upload_daemon, cloud, folder, run_id)
    assert sorted(cloud.store.metrics(run_id, "scalar")["loss"]) == list(range(12_000))
    assert_matches_official(cloud, folder)
    assert finished(cloud, run_id) == "FINISHED"


def test_run_partly_uploaded_by_the_sdk_continues_in_place(upload_daemon, cloud, tmp_path):
    logdir = tmp_path / "swanlog"
    sdk_cloud = {
        "SWANLAB_MODE": "cloud",
        "SWANLAB_API_HOST": cloud.url,
        "SWANLAB_WEB_HOST": cloud.url,
        "SWANLAB_API_KEY": API_KEY,
        "HOME": str(tmp_path),
    }
    proc = start_growing_run(logdir, 3000, pause_at=1500, cloud_env=sdk_cloud)
    try:
        wait_for(lambda: (logdir / "ready").exists() or proc.poll() is not None, 120, "first part written")
        assert proc.poll() is None
        run_id = run_id_of(run_folder(logdir))
        wait_for(lambda: cloud.store.metrics(run_id, "scalar").get("loss"), 60, "the SDK's first upload")
    finally:
        proc.kill()  # half-way: the SDK never finishes, nor uploads the rest
        proc.wait()
    by_sdk = {key: set(steps) for key, steps in cloud.store.metrics(run_id, "scalar").items()}
    folder = run_folder(logdir)
    result = ctl_sync(upload_daemon, cloud, str(folder))
    assert [e["cuid"] for e in cloud.experiments()] == [run_id]  # the SDK's experiment, continued
    got = cloud.store.metrics(run_id, "scalar")["loss"]
    assert set(got) >= by_sdk["loss"] and sorted(got) == list(range(len(got)))
    assert_matches_official(cloud, folder, by_sdk)  # every point in the file, none twice
    assert result.returncode == 0, result.stdout + result.stderr
