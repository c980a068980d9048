"""The test cloud's API and state: what it answers, what it stores, what it counts as an error."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
from cloudclient import API_KEY, USER, ApiClient, experiment_body

from swanlab_testcloud import CloudServer


def test_health_answers_ok_without_auth(api: ApiClient) -> None:
    response = api.http.get("")
    assert (response.status_code, response.text) == (200, "OK")


def test_login_returns_sid_expiry_and_user(api: ApiClient, cloud: CloudServer) -> None:
    body = api.login().json()
    assert body["userInfo"]["username"] == USER
    assert body["expiredAt"].endswith("Z") and len(body["sid"]) > 16
    assert cloud.errors() == []


def test_bad_api_key_is_401_and_an_error(cloud: CloudServer) -> None:
    client = ApiClient(cloud.url, api_key="wrong")
    response = client.login()
    client.close()
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}
    assert response.headers["traceid"]
    assert [e["path"] for e in cloud.errors()] == ["/api/login/api_key"]


def test_calls_without_sid_are_401_errors(api: ApiClient, cloud: CloudServer) -> None:
    assert api.call("GET", f"/project/{USER}/p").status_code == 401
    assert len(cloud.errors()) == 1


def test_project_get_create_get(api: ApiClient, cloud: CloudServer) -> None:
    api.login()
    assert api.call("GET", f"/project/{USER}/p").status_code == 404
    assert api.call("POST", f"/projects/{USER}", {"name": "p", "visibility": "PUBLIC"}).status_code == 201
    assert api.call("POST", f"/projects/{USER}", {"name": "p", "visibility": "PUBLIC"}).status_code == 200
    project = api.call("GET", f"/project/{USER}/p").json()
    assert project["name"] == "p" and project["version"] == 1 and project["path"] == f"/{USER}/p"
    assert project["group"] == {"username": USER} and project["_count"]["experiments"] == 0
    # A missing project is part of a correct conversation, not a protocol error.
    assert cloud.errors() == []


def test_experiment_creation_is_idempotent_by_cuid(api: ApiClient, cloud: CloudServer) -> None:
    api.setup_run(project="p", cuid="abc123")
    again = api.call("POST", f"/project/{USER}/p/experiment", experiment_body("abc123"))
    assert again.status_code == 200 and again.json()["cuid"] == "abc123" and again.json()["createdAt"]
    [experiment] = cloud.experiments(USER, "p")
    assert experiment["create_calls"] == 2
    assert api.call("GET", f"/project/{USER}/p").json()["_count"]["experiments"] == 1
    assert api.call("GET", f"/project/{USER}/p/runs/abc123").json()["state"] == "RUNNING"
    assert api.call("GET", f"/project/{USER}/p/runs/nope").status_code == 404


def test_profile_keeps_each_kind(api: ApiClient, cloud: CloudServer) -> None:
    api.setup_run(project="p", cuid="e1")
    config = {"lr": {"value": 0.1, "desc": "", "sort": 0}}
    assert api.call("PUT", f"/project/{USER}/p/runs/e1/profile", {"config": config}).status_code == 200
    assert api.call("PUT", f"/project/{USER}/p/runs/e1/profile", {"requirements": "numpy==2\n"}).status_code == 200
    assert api.call("PUT", f"/project/{USER}/p/runs/e1/profile", {"config": {}, "metadata": {}}).status_code == 400
    assert cloud.snapshot("e1")["profile"] == {"config": config, "requirements": "numpy==2\n"}
    assert len(cloud.errors()) == 1


def test_scalars_are_stored_and_repeats_counted(api: ApiClient, cloud: CloudServer) -> None:
    project_cuid, cuid = api.setup_run()
    assert api.columns("proj", ["loss", "acc"]).status_code == 201
    points = [("loss", 0, 1.5), ("loss", 1, "nan"), ("acc", 0, 3)]
    assert api.scalars(project_cuid, cuid, points).status_code == 201
    assert cloud.duplicate_count() == 0
    assert api.scalars(project_cuid, cuid, points[:2]).status_code == 201
    assert cloud.duplicate_count() == 2
    assert [(d["key"], d["step"], d["dup_count"]) for d in cloud.store.duplicates()] == [("loss", 0, 1), ("loss", 1, 1)]
    assert cloud.snapshot(cuid)["scalar"] == {"loss": {0: 1.5, 1: "nan"}, "acc": {0: 3}}
    assert cloud.errors() == []


def test_float_batches_keep_every_check_and_count_repeats_within_a_batch(api: ApiClient, cloud: CloudServer) -> None:
    # All-float batches take the server's column-wise fast path; it must accept and count exactly as per item.
    project_cuid, cuid = api.setup_run()
    api.columns("proj", ["x"])
    bad = [
        [{"key": "x", "index": True, "data": 1.0, "create_time": "2026-01-01T00:00:00Z"}],
        [{"key": "x", "index": 0, "data": 1.0, "create_time": "yesterday"}],
        [{"key": "x", "index": 0, "data": 1.0}],
        [{"key": "x", "index": 0, "data": None, "create_time": "2026-01-01T00:00:00Z"}],
        [{"key": 5, "index": 0, "data": 1.0, "create_time": "2026-01-01T00:00:00Z"}],
        [["x", 0, 1.0]],
    ]
    for metrics in bad:
        body = {"type": "scalar", "projectId": project_cuid, "experimentId": cuid, "metrics": metrics}
        assert api.call("POST", "/house/metrics", body).status_code == 400, metrics
    assert len(cloud.errors()) == len(bad) and cloud.store.point_count() == 0
    precise, huge = 0.1 + 0.2, 2**70
    assert (
        api.scalars(project_cuid, cuid, [("x", 0, precise), ("x", 1, 2.0), ("x", 0, 9.0), ("x", 0, 9.0)]).status_code
        == 201
    )
    assert api.scalars(project_cuid, cuid, [("x", 2, huge)]).status_code == 201
    assert cloud.duplicate_count() == 2
    assert [(d["step"], d["dup_count"]) for d in cloud.store.duplicates()] == [(0, 2)]
    assert cloud.snapshot(cuid)["scalar"] == {"x": {0: precise, 1: 2.0, 2: huge}}
    assert len(cloud.errors()) == len(bad)


def test_summaries_give_the_last_step_per_key(api: ApiClient) -> None:
    project_cuid, cuid = api.setup_run()
    api.columns("proj", ["a", "b"])
    api.scalars(project_cuid, cuid, [("a", 0, 1.0), ("a", 7, 1.0), ("b", 3, 1.0)])
    log = {"level": "INFO", "epoch": 4, "message": "hi", "create_time": "2026-01-01T00:00:00Z"}
    body = {"type": "log", "projectId": project_cuid, "experimentId": cuid, "metrics": [log]}
    api.call("POST", "/house/metrics", body)
    summary = api.call("GET", f"/house/metrics/summaries/{project_cuid}/{cuid}", params={"all": "True"}).json()
    assert sorted((s["key"], s["step"]) for s in summary["scalar"]) == [("a", 7), ("b", 3)]
    assert summary["log"] == [{"key": "log", "step": 4}] and summary["media"] == []


def test_protocol_mistakes_are_errors(api: ApiClient, cloud: CloudServer) -> None:
    project_cuid, cuid = api.setup_run()
    api.columns("proj", ["loss"])
    assert api.scalars(project_cuid, cuid, [("no_column", 0, 1.0)]).status_code == 400
    assert api.scalars(project_cuid, cuid, [("loss", 0, float("inf"))]).status_code == 400
    assert api.scalars(project_cuid, cuid, [("loss", -1, 1.0)]).status_code == 400
    assert api.scalars(project_cuid, cuid, [("loss", i, 1.0) for i in range(10_001)]).status_code == 413
    assert api.call("POST", "/house/nope", {}).status_code == 404
    assert api.http.get("/project/x/y", headers={"X-SwanLab-SDK-Version": ""}).status_code == 400
    assert len(cloud.errors()) == 6
    assert cloud.store.point_count() == 0


def test_media_needs_its_object_uploaded_first(api: ApiClient, cloud: CloudServer) -> None:
    project_cuid, cuid = api.setup_run()
    api.columns("proj", ["sample"], type_="TEXT")
    item = {
        "key": "sample",
        "index": 0,
        "data": ["media/text/a.txt"],
        "more": [{"caption": "c"}],
        "create_time": "2026-01-01T00:00:00Z",
    }
    body = {"type": "media", "projectId": project_cuid, "experimentId": cuid, "metrics": [item]}
    assert api.call("POST", "/house/metrics", body).status_code == 400
    [url] = api.call("POST", "/resources/presigned/put", {"experimentId": cuid, "paths": ["media/text/a.txt"]}).json()[
        "urls"
    ]
    assert url.startswith(cloud.url)
    assert httpx.put(url, content=b"hello", headers={"Content-Type": "text/plain"}).status_code == 200
    assert api.call("POST", "/house/metrics", body).status_code == 201
    snapshot = cloud.snapshot(cuid)
    assert snapshot["objects"] == {"media/text/a.txt": b"hello"}
    assert snapshot["media"]["sample"][0]["data"] == ["media/text/a.txt"]
    assert len(cloud.errors()) == 1


def test_media_is_refused_where_the_sdk_would_not_send_it(api: ApiClient, cloud: CloudServer) -> None:
    """Object paths, Content-Type, the column's folder and `more` as swanlab 0.10.3 sends them."""
    project_cuid, cuid = api.setup_run()
    api.columns("proj", ["pic"], type_="IMAGE")

    def presign(*paths: str) -> httpx.Response:
        return api.call("POST", "/resources/presigned/put", {"experimentId": cuid, "paths": list(paths)})

    for bad in ("media/a.png", "media/nope/a.png", "media/image/../a.png", "files/a.png", "media/image/x/a.png"):
        assert presign(bad).status_code == 400, bad
    [png, txt] = presign("media/image/a.png", "media/text/a.txt").json()["urls"]
    assert httpx.put(png, content=b"x", headers={"Content-Type": "application/octet-stream"}).status_code == 400
    assert httpx.put(png, content=b"x", headers={"Content-Type": "image/png"}).status_code == 200
    assert httpx.put(txt, content=b"x", headers={"Content-Type": "text/plain"}).status_code == 200

    def post(data: list[str], more: list[object]) -> int:
        item = {"key": "pic", "index": 0, "data": data, "more": more, "create_time": "2026-01-01T00:00:00Z"}
        body = {"type": "media", "projectId": project_cuid, "experimentId": cuid, "metrics": [item]}
        return api.call("POST", "/house/metrics", body).status_code

    assert post(["media/text/a.txt"], []) == 400  # an IMAGE column's objects live under media/image/
    assert post(["media/image/a.png"], [{}]) == 400  # no entry for a file without a caption
    assert post(["media/image/a.png"], [{"caption": "a"}, {"caption": "b"}]) == 400
    assert post(["media/image/a.png"], [{"caption": "a", "x": 1}]) == 400
    assert post(["media/image/a.png"], [{"caption": "a"}]) == 201
    assert len(cloud.errors()) == 10


def test_finish_sets_state_and_ends_the_session(api: ApiClient, cloud: CloudServer) -> None:
    project_cuid, cuid = api.setup_run()
    assert api.call("POST", f"/house/experiments/{cuid}/heartbeat", {"flagId": "1"}).status_code == 201
    state = {"state": "FINISHED", "finishedAt": "2026-01-01T00:00:01.000Z", "from": "sdk"}
    assert api.call("PUT", f"/project/{USER}/proj/runs/{cuid}/state", state).status_code == 200
    response = api.call("GET", f"/project/{USER}/proj")
    assert response.status_code == 401 and "finished" in response.json()["message"]
    api.login()
    assert api.call("GET", f"/project/{USER}/proj/runs/{cuid}").json()["state"] == "FINISHED"
    experiment = cloud.experiments()[0]
    assert (experiment["heartbeats"], experiment["state_calls"]) == (1, 1)
    # Data after the final state means the client set it too early.
    api.columns("proj", ["x"])
    assert api.scalars(project_cuid, cuid, [("x", 0, 1.0)]).status_code == 409
    assert len(cloud.errors()) == 1


def test_expired_sessions_get_401_until_login(api: ApiClient, cloud: CloudServer) -> None:
    api.setup_run()
    assert cloud.expire_sessions() == 1
    response = api.call("GET", f"/project/{USER}/proj")
    assert response.status_code == 401 and "expired" in response.json()["message"]
    api.login()
    assert api.call("GET", f"/project/{USER}/proj").status_code == 200
    assert cloud.errors() == []


def test_sessions_expire_after_their_ttl(tmp_path) -> None:
    with CloudServer(tmp_path / "c.db", {API_KEY: USER}, session_ttl_s=0.2) as cloud:
        client = ApiClient(cloud.url)
        client.login()
        time.sleep(0.3)
        assert client.call("GET", f"/project/{USER}/p").status_code == 401
        client.close()


def test_every_request_is_logged_with_the_sdk_version(api: ApiClient, cloud: CloudServer) -> None:
    api.setup_run()
    requests = cloud.requests()
    assert len(requests) == 4  # login, create project, get project, experiment
    assert {r["sdk_version"] for r in requests} == {"swanlabd-tests"}


def test_state_survives_a_restart_on_the_same_db(tmp_path) -> None:
    with CloudServer(tmp_path / "c.db", {API_KEY: USER}) as cloud:
        client = ApiClient(cloud.url)
        client.setup_run(cuid="keep1")
        client.close()
    with CloudServer(tmp_path / "c.db") as cloud:
        client = ApiClient(cloud.url)
        assert client.login().status_code == 200
        assert client.call("GET", f"/project/{USER}/proj/runs/keep1").status_code == 200
        client.close()


def test_command_line_prints_url_and_serves(tmp_path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "swanlab_testcloud", "--db", str(tmp_path / "c.db"), "--api-key", f"{API_KEY}={USER}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        client = ApiClient(url)
        assert client.login().json()["userInfo"]["username"] == USER
        client.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_unsupported_methods_are_recorded_as_errors(api: ApiClient, cloud: CloudServer) -> None:
    assert api.http.request("OPTIONS", "/login/api_key").status_code == 405
    assert api.http.head("/nope").status_code == 404
    assert [e["method"] for e in cloud.errors()] == ["OPTIONS", "HEAD"]


def test_chunked_object_upload_is_stored_whole(api: ApiClient, cloud: CloudServer) -> None:
    _, cuid = api.setup_run()
    [url] = api.call("POST", "/resources/presigned/put", {"experimentId": cuid, "paths": ["media/image/a.png"]}).json()[
        "urls"
    ]
    # A generator body goes out with Transfer-Encoding: chunked, as requests sends a stream.
    chunks = (part for part in [b"ab", b"", b"cdef"])
    assert httpx.put(url, content=chunks, headers={"Content-Type": "image/png"}).status_code == 200
    assert cloud.snapshot(cuid)["objects"] == {"media/image/a.png": b"abcdef"}
