"""A finished run whose backup file lost its last records (a torn tail: the file cut inside a
record, by a partial copy or a failing disk) is not "uploaded": `sync` exits 1 naming what was
lost, and `ls` shows it (issue #14, item 6). The real daemon and the test cloud."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from uploading import NAMES, ctl_sync, offline_run, points

from helpers.daemon import DaemonProcess
from swanlabd.format import backup, scalarcodec


def test_sync_of_a_finished_run_with_a_torn_tail_says_what_was_lost(upload_daemon, cloud):
    run_id = offline_run(upload_daemon, 2000)
    (info,) = json.loads(upload_daemon.ctl("ls", "--json").stdout)["runs"]
    path = Path(info["run_dir"]) / backup.BACKUP_FILENAME
    records = list(backup.read_records(path))
    upload_daemon.stop()
    # Cut inside the last scalar record: it, the console lines and the Finish record are gone.
    last_rows = max(i for i, (r, _) in enumerate(records) if r.WhichOneof("kind") == "scalars")
    cut = records[last_rows - 1][1] + 20
    os.truncate(path, cut)
    upload_daemon.start()

    result = ctl_sync(upload_daemon, cloud, "--timeout", "60")
    assert result.returncode == 1, result.stdout + result.stderr  # today: 0, "uploaded"
    assert f"{run_id}: uploaded (" not in result.stdout
    assert run_id in result.stderr and "torn tail" in result.stderr
    assert f"records after seq {records[last_rows - 1][0].seq} are lost" in result.stderr
    kept_rows = sum(
        len(scalarcodec.steps(r.scalars)) for r, _ in records[:last_rows] if r.WhichOneof("kind") == "scalars"
    )
    assert sorted(points(cloud, run_id, NAMES[1])) == list(range(kept_rows))
    ls = upload_daemon.ctl("ls")
    assert "torn tail" in ls.stdout + ls.stderr


def test_sync_of_a_copied_folder_whose_file_was_cut_says_what_was_lost(upload_daemon, cloud, tmp_path):
    run_id = offline_run(upload_daemon, 2000)
    (info,) = json.loads(upload_daemon.ctl("ls", "--json").stdout)["runs"]
    copy = tmp_path / Path(info["run_dir"]).name  # as if copied from another host, mid-write
    shutil.copytree(info["run_dir"], copy)
    path = copy / backup.BACKUP_FILENAME
    records = list(backup.read_records(path))
    last_rows = max(i for i, (r, _) in enumerate(records) if r.WhichOneof("kind") == "scalars")
    os.truncate(path, records[last_rows - 1][1] + 20)
    other = DaemonProcess(env={"SWANLABD_UPLOAD": "true"})  # another host's daemon: it never saw the run
    other.env = {k: v for k, v in other.env.items() if not k.startswith("SWANLAB_")}
    try:
        other.start()
        result = ctl_sync(other, cloud, str(copy), "--timeout", "60")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"{run_id}: uploaded (" not in result.stdout
        assert run_id in result.stderr and "torn" in result.stderr, result.stderr
        assert "torn" in other.ctl("ls").stdout
    finally:
        other.close()
