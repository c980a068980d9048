"""Ids and names read from a run folder the daemon did not write never steer a cloud request.

A folder copied from elsewhere (or planted in runs/) may name any run id, project, workspace or
experiment in its backup. Adoption checks them as StartRun and init() check theirs (refused
with the reason; the daemon keeps serving), and every URL path segment the cloud client builds
is escaped, so not even a name that passed could add a path or a query to a request.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest
from uploading import ctl_sync, offline_run

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlabd.format import backup
from swanlabd.format.runstate import RunState
from swanlabd.upload.cloudapi import CloudAPI, Rejected
from swanlabd_pb import service_pb2 as svc

HOSTILE = "../../../../api/projects/alice/victim?x="

CASES = {
    "run id": dict(run_id=HOSTILE),
    "project": dict(project=HOSTILE),
    "workspace": dict(workspace=HOSTILE),
    "experiment name": dict(experiment_name="x" * 256),
    "run id of RunStart": dict(start_run_id="other"),
}


def forge(d: DaemonProcess, dest: Path, *, run_id: str | None = None, start_run_id: str | None = None, **names) -> Path:
    """A copy of a real offline run whose backup names `run_id` in its header and `names` in its RunStart."""
    source = Path(d.runs()[0])
    dest.mkdir(parents=True)
    folder = dest / source.name
    shutil.copytree(source / "files", folder / "files")
    records = [r for r, _ in backup.read_records(source / backup.BACKUP_FILENAME)]
    header = records[0].header
    run_id = run_id or "forged" + header.run_id[:10]
    for r in records:
        if r.WhichOneof("kind") == "run_start":
            r.run_start.run_id = start_run_id or run_id
            for key, value in names.items():
                setattr(r.run_start, key, value)
    writer = backup.BackupWriter.create(folder / backup.BACKUP_FILENAME, run_id)
    writer.append(records[1:])
    writer.close()
    return folder


def no_request_was_steered(cloud) -> None:
    paths = [r["path"] for r in cloud.requests()]
    assert not [p for p in paths if "victim" in p or ".." in p], paths
    assert not [e for e in cloud.experiments() if e["cuid"].startswith("forged") or "victim" in e["cuid"]]


@pytest.mark.parametrize("case", list(CASES))
def test_sync_refuses_a_folder_whose_backup_names_a_bad_id_or_name(upload_daemon: DaemonProcess, cloud, case):
    offline_run(upload_daemon, 20)
    folder = forge(upload_daemon, upload_daemon.root / "copied", **CASES[case])
    result = ctl_sync(upload_daemon, cloud, str(folder), "--timeout", "20")
    no_request_was_steered(cloud)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused the sync" in result.stderr and f"{folder}" in result.stderr, result.stderr
    assert upload_daemon.stub().Status(svc.StatusRequest(), timeout=10).pid == upload_daemon.pid  # still serving


def test_a_bad_folder_planted_in_runs_is_not_adopted_and_the_daemon_goes_on(upload_daemon: DaemonProcess, cloud):
    run_id = offline_run(upload_daemon, 20)
    folder = forge(upload_daemon, upload_daemon.root / "planted", run_id=HOSTILE)
    shutil.move(folder, upload_daemon.home / "runs" / "run-20260101_000000-planted")
    wait_for(lambda: "cannot adopt" in upload_daemon.output(), 30, "the adoption scan's refusal")
    assert "run id '../../../../api/projects/alice/victim?x='" in upload_daemon.output()
    result = ctl_sync(upload_daemon, cloud, "--timeout", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{run_id}: uploaded" in result.stdout
    no_request_was_steered(cloud)


def test_every_url_path_segment_is_escaped_and_dot_segments_are_refused():
    seen: list[bytes] = []
    project_gets = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal project_gets
        seen.append(request.url.raw_path)
        if request.url.path == "/api/login/api_key":
            return httpx.Response(200, json={"sid": "s", "userInfo": {"username": "alice"}})
        if request.method == "GET" and request.url.path.startswith("/api/project/"):
            project_gets += 1
            if project_gets == 2:  # get_or_create_project finds none and creates it
                return httpx.Response(404, json={"code": "NOT_FOUND", "message": "no project"})
            return httpx.Response(200, json={"cuid": "pc", "name": "p"})
        return httpx.Response(200, json={"cuid": "x", "urls": ["http://o/1"]})

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            api = CloudAPI(http, "http://cloud.test", "key")
            bad = HOSTILE
            await api.get_project(bad, bad)
            await api.get_or_create_project(bad, bad)
            await api.create_experiment(bad, bad, cuid=bad, name="e", created_at_ms=1, color="#fff")
            await api.summaries(bad, bad)
            await api.heartbeat(bad)
            await api.put_profile(bad, bad, bad, "config", {})
            await api.post_series(bad, bad, [{}])
            await api.prepare_files(bad, [{}])
            await api.complete_files(bad, [])
            await api.set_state(bad, bad, bad, RunState.FINISHED, 1)
            escaped = b"..%2F..%2F..%2F..%2Fapi%2Fprojects%2Falice%2Fvictim%3Fx%3D"
            assert len(seen) == 13
            for raw in seen[1:]:  # after the login
                path, _, query = raw.partition(b"?")
                assert escaped in path and b"/../" not in path and query in (b"", b"all=true"), raw
            for dots in ("..", ".", ""):
                with pytest.raises(Rejected, match="path segment"):
                    await api.heartbeat(dots)
            assert len(seen) == 13  # refused before anything was sent

    asyncio.run(main())
