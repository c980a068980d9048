"""A small, plain HTTP client making the official SDK's calls, for poking the test cloud in tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

API_KEY = "test-api-key-0123456789"
USER = "alice"
SDK_VERSION = "swanlabd-tests"


class ApiClient:
    """The calls the official SDK makes, spelled out plainly, for poking the server in tests."""

    def __init__(self, base_url: str, api_key: str = API_KEY) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.http = httpx.Client(base_url=base_url + "/api", headers={"X-SwanLab-SDK-Version": SDK_VERSION}, timeout=10)
        self.sid: str | None = None

    def close(self) -> None:
        self.http.close()

    def login(self) -> httpx.Response:
        response = self.http.post("/login/api_key", headers={"authorization": self.api_key})
        if response.status_code == 200:
            self.sid = response.json()["sid"]
        return response

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {"Cookie": f"sid={self.sid}"} if self.sid else {}
        if body is None:
            return self.http.request(method, path, headers=headers, **kwargs)
        # json.dumps, not httpx's json=: tests must be able to send what a buggy client would (inf).
        headers["Content-Type"] = "application/json"
        return self.http.request(method, path, content=json.dumps(body), headers=headers, **kwargs)

    def setup_run(self, project: str = "proj", cuid: str = "run00001") -> tuple[str, str]:
        """Login, project, experiment: returns (project cuid, experiment cuid)."""
        assert self.login().status_code == 200
        self.call("POST", f"/projects/{USER}", {"name": project, "visibility": "PRIVATE"})
        project_cuid = self.call("GET", f"/project/{USER}/{project}").json()["cuid"]
        response = self.call("POST", f"/project/{USER}/{project}/experiment", experiment_body(cuid))
        assert response.status_code in (200, 201), response.text
        return project_cuid, cuid

    def scalars(self, project_cuid: str, cuid: str, points: list[tuple[str, int, Any]]) -> httpx.Response:
        metrics = [{"key": k, "index": s, "data": v, "create_time": "2026-01-01T00:00:00.000Z"} for k, s, v in points]
        body = {"type": "scalar", "projectId": project_cuid, "experimentId": cuid, "metrics": metrics}
        return self.call("POST", "/house/metrics", body)

    def columns(self, project: str, keys: list[str], type_: str = "FLOAT") -> httpx.Response:
        series = [{"key": key, "type": type_} for key in keys]
        return self.call("POST", f"/projects/{USER}/{project}/series", {"series": series})


def experiment_body(cuid: str, name: str = "exp") -> dict[str, Any]:
    return {"name": name, "createdAt": "2026-01-01T00:00:00.000Z", "colors": ["#111111", "#111111"], "cuid": cuid}
