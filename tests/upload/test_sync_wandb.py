"""`swanlabctl sync` of runs W&B 0.31.0 wrote offline (docs/sync.md).

Each source is a real run of the real wandb package in its own venv, offline; the referee is
W&B's own messages reading the same file (wandb_runs.py): every point it sees reaches the test
cloud's experiment exactly once, and the user's folder is left byte for byte as it was, unlocked."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from sync_checks import assert_unlocked, sync_json, sync_killed_then_again, tree_digest
from uploading import ctl_sync, finished, metric_calls
from wandb_runs import log_file, run_folder, run_id_of, start_growing_run, wandb_view, write_run

from helpers.waiting import wait_for


@pytest.fixture(scope="module")
def wandb_run(tmp_path_factory) -> Path:
    """One finished W&B run of 300 steps, written once for the module (tests copy it)."""
    return write_run(tmp_path_factory.mktemp("wandb"), 300)


def copy_run(run: Path, to: Path) -> Path:
    """A copy of a run folder; symlinks (W&B links saved files to the user's) stay links."""
    folder = to / run.name
    shutil.copytree(run, folder, symlinks=True)
    return folder


def assert_matches_wandb(cloud, folder: Path) -> None:
    """Every scalar, image step, text and stdout line W&B's messages hold is on the server, once."""
    run_id = run_id_of(folder)
    view = wandb_view(folder)
    scalars = cloud.store.metrics(run_id, "scalar")
    for key, steps in view["scalar"].items():
        got = scalars.get(key, {})
        assert sorted(got) == sorted(steps), key
        for step, value in steps.items():
            assert math.isclose(got[step], value, rel_tol=1e-12), (key, step)
    media = cloud.store.metrics(run_id, "media")
    for key, steps in view["media"].items():
        assert sorted(media.get(key, {})) == sorted(steps), key
    for key, texts in view["text"].items():
        assert sorted(media.get(key, {})) == sorted(texts), key
    lines = cloud.store.metrics(run_id, "log").get("", {})
    assert [lines[n]["message"] for n in sorted(lines)] == view["stdout"]
    assert cloud.duplicate_count() == 0, cloud.store.duplicates()[:5]


def test_wandb_run_synced_point_by_point_then_again_sends_nothing(upload_daemon, cloud, wandb_run, tmp_path):
    folder = copy_run(wandb_run, tmp_path)
    before = tree_digest(folder)
    result, out = sync_json(upload_daemon, cloud, str(folder.parent))  # the wandb/ folder holding it
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = run_id_of(folder)
    (run,) = out["runs"]
    assert run["run_id"] == run_id and run["done"] and not run["error"]
    conversion = run["conversion"]
    assert conversion["source_kind"] == "wandb" and conversion["points"] == 600
    assert conversion["losses"] == []
    # W&B's summaries and histograms have no place in a SwanLab experiment: counted, not lost silently.
    assert conversion["unknown"]["histogram values (no SwanLab type)"] == 30
    assert conversion["unknown"]["summary"] > 0
    assert [e["cuid"] for e in cloud.experiments()] == [run_id]
    assert finished(cloud, run_id) == "FINISHED"
    assert_matches_wandb(cloud, folder)
    profile = cloud.store.profile(run_id)
    config = json.dumps(profile["config"])
    assert all(k in config for k in ("lr", "adam", "epochs")) and "_wandb" not in config
    assert "wandb" in profile["requirements"]
    assert len(cloud.store.objects(run_id)) >= 60  # 30 images + 30 texts
    assert tree_digest(folder) == before
    assert_unlocked(folder)
    ls = json.loads(upload_daemon.ctl("ls", "--json").stdout)
    assert [r.get("source_kind") for r in ls["runs"]] == ["wandb"]
    assert "offline (wandb)" in upload_daemon.ctl("ls").stdout

    calls, requests = metric_calls(cloud), len(cloud.requests())
    again, out = sync_json(upload_daemon, cloud, str(folder))
    assert again.returncode == 0, again.stdout + again.stderr
    assert out["runs"][0]["conversion"]["records"] == 0
    assert metric_calls(cloud) == calls and len(cloud.requests()) == requests  # not one request
    assert tree_digest(folder) == before


def test_moved_folder_syncs_into_the_same_experiment(upload_daemon, cloud, wandb_run, tmp_path):
    first = copy_run(wandb_run, tmp_path / "a")
    assert ctl_sync(upload_daemon, cloud, str(first)).returncode == 0
    moved = copy_run(wandb_run, tmp_path / "b")
    again, out = sync_json(upload_daemon, cloud, str(moved))
    assert again.returncode == 0, again.stdout + again.stderr
    assert [e["cuid"] for e in cloud.experiments()] == [run_id_of(first)] == [run_id_of(moved)]
    assert cloud.duplicate_count() == 0


def test_growing_run_synced_while_training_then_after(upload_daemon, cloud, tmp_path):
    logdir = tmp_path / "logs"
    proc = start_growing_run(logdir, 1000, pause_at=600)
    try:
        wait_for(lambda: (logdir / "ready").exists() or proc.poll() is not None, 120, "first part written")
        assert proc.poll() is None
        folder = run_folder(logdir)
        run_id = run_id_of(folder)
        first = ctl_sync(upload_daemon, cloud, str(folder))
        assert first.returncode == 0, first.stdout + first.stderr
        # W&B's core writes as it goes: whatever reached the file is up, and the run is still running.
        assert 0 < len(cloud.store.metrics(run_id, "scalar").get("loss", {})) <= 601
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
    assert sorted(cloud.store.metrics(run_id, "scalar")["loss"]) == list(range(1000))
    assert_matches_wandb(cloud, folder)


def test_flipped_byte_loses_only_its_block_and_names_it(upload_daemon, cloud, tmp_path):
    folder = write_run(tmp_path / "logs", 2000)
    file = log_file(folder)
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


def test_daemon_killed_during_sync_then_sync_again(upload_daemon, cloud, tmp_path):
    folder = write_run(tmp_path / "logs", 2500)  # with its summaries, over 7,000 records: two chunks
    run_id = run_id_of(folder)
    sync_killed_then_again(upload_daemon, cloud, folder, run_id)
    assert sorted(cloud.store.metrics(run_id, "scalar")["loss"]) == list(range(2500))
    assert_matches_wandb(cloud, folder)
    assert finished(cloud, run_id) == "FINISHED"
