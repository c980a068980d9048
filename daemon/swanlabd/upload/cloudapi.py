"""The SwanLab cloud REST API, as the official SDK (swanlab 0.10.3) speaks it, on httpx (asyncio).

One `CloudAPI` is one login session (api host + key + the `sid` cookie); the uploader gives
each run its own session (the server invalidates a `sid` when a run finishes) and shares one
`httpx.AsyncClient` per api host for the connection pool. The protocol is written down in
docs/cloud-api.md; docs/upload.md says what the uploader does with each error.

Errors are translated at one boundary (`CloudAPI._send`), so callers only ever see this tree:

    CloudError                     anything that went wrong talking to the cloud
    +-- TransportError             no HTTP answer (refused, reset, timeout, broken protocol)
    |   +-- CloudTimeout           connect/read/write/pool timeout
    +-- HTTPStatusError            an HTTP answer >= 400; carries status, code, message, traceid
        +-- Unauthorized           401: the session expired or the key is wrong
        +-- RateLimited            429: carries retry_after (seconds, None if the server gave none)
        +-- Rejected               any other 4xx: the server refuses this request as it is
        +-- ServerError            5xx

`maybe_committed` says whether the server may have acted on a request although no success came
back (a reset after sending, a read timeout, a 5xx). The uploader then asks the server's
summaries before it sends that data again, so nothing is stored twice. A refused connection or
a connect timeout never reached the server. The API key travels only in the login request's
header; no error message, repr or log line contains it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import math
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from swanlabd.format.runstate import RunState
from swanlabd.local.cloudlogin import SDK_PROTOCOL_VERSION

__all__ = [
    "MAX_METRICS_PER_CALL",
    "MAX_SERIES_PER_CALL",
    "SDK_PROTOCOL_VERSION",
    "CloudAPI",
    "CloudError",
    "CloudTimeout",
    "Experiment",
    "HTTPStatusError",
    "LoginInfo",
    "Project",
    "RateLimited",
    "Rejected",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "iso_utc",
    "new_http_client",
]

MAX_METRICS_PER_CALL = 10_000
MAX_SERIES_PER_CALL = 3_000
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class CloudError(Exception):
    """Something went wrong talking to the cloud. `what` names the call (`POST /house/metrics`)."""

    maybe_committed: bool = False

    def __init__(self, what: str, message: str) -> None:
        super().__init__(f"{what}: {message}")
        self.what = what
        self.message = message


class TransportError(CloudError):
    """No HTTP answer: connection refused or reset, protocol error."""

    def __init__(self, what: str, message: str, *, maybe_committed: bool) -> None:
        super().__init__(what, message)
        self.maybe_committed = maybe_committed


class CloudTimeout(TransportError):
    """The connect, read, write or pool timeout expired."""


class HTTPStatusError(CloudError):
    """An HTTP answer with status >= 400, with the server's `{code, message}` and its traceid."""

    def __init__(self, what: str, status: int, code: str, message: str, traceid: str) -> None:
        super().__init__(what, f"HTTP {status} code={code} message={message} traceid={traceid}")
        self.status = status
        self.code = code
        self.server_message = message
        self.traceid = traceid


class Unauthorized(HTTPStatusError):
    """401: log in again (the session expired, or a finished run invalidated it)."""


class RateLimited(HTTPStatusError):
    """429: wait `retry_after` seconds (None: the server did not say) and send again."""

    def __init__(self, *args: Any, retry_after: float | None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


class Rejected(HTTPStatusError):
    """Any other 4xx: sending the same request again will not help."""


class ServerError(HTTPStatusError):
    """5xx: the server failed; it may or may not have stored the data."""

    maybe_committed = True


@dataclass(frozen=True)
class LoginInfo:
    username: str
    name: str
    expires_at: datetime | None


@dataclass(frozen=True)
class Project:
    cuid: str
    name: str
    username: str
    path: str
    experiments: int


@dataclass(frozen=True)
class Experiment:
    cuid: str
    name: str
    created: bool  # 201: new; 200: it existed (the run id is its cuid, so this is a resume)
    slug: str | None = None


def iso_utc(ms: int) -> str:
    """Epoch milliseconds -> `2026-11-24T03:07:59.123Z` (the format of create_time and createdAt)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def new_http_client(*, timeout: httpx.Timeout = DEFAULT_TIMEOUT, max_connections: int = 16) -> httpx.AsyncClient:
    """The pooled client the sessions of one api host share. No cookie jar: each session sends its own sid."""
    return httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        headers={"X-SwanLab-SDK-Version": SDK_PROTOCOL_VERSION, "User-Agent": "swanlabd"},
        follow_redirects=False,
    )


def _path(template: str, *segments: str) -> str:
    """`template` with each `{}` filled with one path segment, every reserved character escaped
    ('/' -> %2F, '?' -> %3F): `_path("/house/experiments/{}/heartbeat", cuid)`.

    Ids and names come from run folders that anyone may have written and from the server's
    answers; escaped, none can add a path or a query to a request. An empty, '.' or '..' segment
    would still move the request elsewhere (servers resolve dot segments, also escaped ones), so
    the call is refused as the server would refuse it (Rejected), before anything is sent.
    """
    for value in segments:
        if value in ("", ".", ".."):
            raise Rejected(template, 400, "invalid_path_segment", f"refusing the path segment {value!r}", "")
    return template.format(*(urllib.parse.quote(value, safe="") for value in segments))


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _error_for(what: str, response: httpx.Response) -> HTTPStatusError:
    status = response.status_code
    code, message = str(status), response.reason_phrase
    try:
        body = response.json()
        if isinstance(body, dict):
            code = str(body.get("code", code))
            message = str(body.get("message", message))
    except (json.JSONDecodeError, UnicodeDecodeError):
        if response.text.strip():
            message = response.text.strip()[:200]
    traceid = response.headers.get("traceid", "")
    if status == 401:
        return Unauthorized(what, status, code, message, traceid)
    if status == 429:
        return RateLimited(
            what, status, code, message, traceid, retry_after=_retry_after(response.headers.get("retry-after"))
        )
    if status >= 500:
        return ServerError(what, status, code, message, traceid)
    return Rejected(what, status, code, message, traceid)


class CloudAPI:
    """One login session against one api host. Use from one event loop; calls may run concurrently.

    A call made without a session logs in first; a 401 on any call (the session expired, or the
    server invalidated it) logs in again once and repeats the call: a 401 means the server did
    not act on it. A failed login raises like any call (Unauthorized for a wrong key).
    """

    def __init__(
        self, http: httpx.AsyncClient, api_host: str, api_key: str, *, gates: tuple[asyncio.Semaphore, ...] = ()
    ) -> None:
        self._http = http
        # Every request holds each of these, taken in order (the uploader's fairness: its run's
        # own cap, then its host's; asyncio.Semaphore hands out turns in FIFO order).
        self._gates = gates
        self.api_host = api_host
        self._base = api_host.rstrip("/") + "/api"
        self._api_key = api_key
        self._sid: str | None = None
        self._login_lock = asyncio.Lock()
        self.login_info: LoginInfo | None = None
        self.logins = 0

    def __repr__(self) -> str:
        return f"CloudAPI(api_host={self.api_host!r}, logged_in={self._sid is not None})"

    # -- the one boundary -------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        url: str | None = None,
    ) -> httpx.Response:
        what = f"{method} {path}"
        try:
            async with contextlib.AsyncExitStack() as held:
                for gate in self._gates:
                    await held.enter_async_context(gate)
                response = await self._http.request(
                    method, url or self._base + path, json=json_body, params=params, headers=headers, content=content
                )
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise CloudTimeout(what, f"{type(exc).__name__}", maybe_committed=False) from exc
        except httpx.TimeoutException as exc:
            raise CloudTimeout(what, f"{type(exc).__name__}", maybe_committed=True) from exc
        except (httpx.ConnectError, httpx.InvalidURL) as exc:
            raise TransportError(what, f"{type(exc).__name__}: {exc}", maybe_committed=False) from exc
        except (httpx.TransportError, httpx.DecodingError, httpx.TooManyRedirects) as exc:
            raise TransportError(what, f"{type(exc).__name__}: {exc}", maybe_committed=True) from exc
        if response.status_code >= 400:
            raise _error_for(what, response)
        return response

    async def _call(
        self, method: str, path: str, *, extra_headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        for attempt in (1, 2):
            sid = self._sid or await self.login()
            try:
                return await self._send(
                    method, path, headers={"Cookie": f"sid={sid}", **(extra_headers or {})}, **kwargs
                )
            except Unauthorized:
                if attempt == 2:
                    raise
                await self.login(expired=sid)
        raise AssertionError("unreachable")

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TransportError(what, "answer is not JSON", maybe_committed=True) from exc

    # -- auth -------------------------------------------------------------------------------

    async def login(self, *, expired: str | None = None) -> str:
        """Log in with the API key; returns the new sid. Concurrent callers share one login.

        `expired`: the sid a call found rejected; if another task already replaced it, reuse.
        """
        async with self._login_lock:
            if self._sid is not None and self._sid != expired:
                return self._sid
            response = await self._send("POST", "/login/api_key", headers={"authorization": self._api_key})
            body = self._json(response, "POST /login/api_key")
            try:
                sid = str(body["sid"])
                user = body.get("userInfo") or {}
                self.login_info = LoginInfo(
                    username=str(user["username"]),
                    name=str(user.get("name") or ""),
                    expires_at=_parse_time(body.get("expiredAt")),
                )
            except (KeyError, TypeError) as exc:
                raise TransportError(
                    "POST /login/api_key", f"unexpected answer: missing {exc}", maybe_committed=False
                ) from exc
            self._sid = sid
            self.logins += 1
            return sid

    @property
    def username(self) -> str:
        if self.login_info is None:
            raise RuntimeError("not logged in: call login() first")
        return self.login_info.username

    # -- project and experiment -------------------------------------------------------------

    async def get_project(self, workspace: str, name: str) -> Project | None:
        try:
            response = await self._call("GET", _path("/project/{}/{}", workspace, name))
        except Rejected as exc:
            if exc.status == 404:
                return None
            raise
        body = self._json(response, "GET /project")
        return Project(
            cuid=str(body["cuid"]),
            name=str(body.get("name") or name),
            username=str((body.get("group") or {}).get("username") or workspace),
            path=str(body.get("path") or f"/@{workspace}/{name}"),
            experiments=int((body.get("_count") or {}).get("experiments") or 0),
        )

    async def get_or_create_project(self, workspace: str, name: str, visibility: str = "PRIVATE") -> Project:
        """As the SDK: GET first (a write-only member may not create), create on 404, GET again."""
        project = await self.get_project(workspace, name)
        if project is not None:
            return project
        await self._call("POST", _path("/projects/{}", workspace), json_body={"name": name, "visibility": visibility})
        project = await self.get_project(workspace, name)
        if project is None:
            raise Rejected(f"GET /project/{workspace}/{name}", 404, "404", "project missing right after creation", "")
        return project

    async def create_experiment(
        self,
        workspace: str,
        project: str,
        *,
        cuid: str,
        name: str,
        created_at_ms: int,
        color: str,
        description: str = "",
        tags: list[str] | None = None,
        job_type: str = "",
        group: str = "",
    ) -> Experiment:
        """Create the experiment with the run id as cuid; 200 means it exists (idempotent resume)."""
        body: dict[str, Any] = {
            "name": name,
            "createdAt": iso_utc(created_at_ms),
            "colors": [color, color],
            "cuid": cuid,
        }
        if description:
            body["description"] = description
        if tags:
            body["labels"] = [{"name": t} for t in tags]
        if job_type:
            body["job"] = job_type
        if group:
            body["cluster"] = group
        response = await self._call("POST", _path("/project/{}/{}/experiment", workspace, project), json_body=body)
        data = self._json(response, "POST experiment")
        return Experiment(
            cuid=str(data.get("cuid") or cuid),
            name=str(data.get("name") or name),
            created=response.status_code == 201,
            slug=data.get("slug"),
        )

    async def summaries(
        self, project_cuid: str, experiment_cuid: str, created_at_ms: int | None = None
    ) -> dict[str, dict[str, int]]:
        """The server's last step per key: {"scalar": {key: step}, "media": {...}, "log": {key: step}}.

        `created_at_ms`: the experiment's creation time; the SDK sends it (in seconds) as the
        lower bound of the server's query.
        """
        params: dict[str, Any] = {"all": "true"}
        if created_at_ms:
            params["createdAt"] = created_at_ms // 1000
        response = await self._call(
            "GET", _path("/house/metrics/summaries/{}/{}", project_cuid, experiment_cuid), params=params
        )
        body = self._json(response, "GET summaries")
        out: dict[str, dict[str, int]] = {"scalar": {}, "media": {}, "log": {}}
        for kind in out:
            for item in (body or {}).get(kind) or []:
                key = str(item.get("key", ""))
                out[kind][key] = max(int(item["step"]), out[kind].get(key, -1))
        return out

    async def heartbeat(self, experiment_cuid: str) -> None:
        await self._call(
            "POST", _path("/house/experiments/{}/heartbeat", experiment_cuid), json_body={"flagId": "123456"}
        )  # the SDK sends this constant

    async def put_profile(
        self,
        workspace: str,
        project: str,
        experiment_cuid: str,
        kind: Literal["config", "metadata", "requirements", "conda"],
        value: Any,
    ) -> None:
        await self._call(
            "PUT", _path("/project/{}/{}/runs/{}/profile", workspace, project, experiment_cuid), json_body={kind: value}
        )

    async def post_series(self, workspace: str, project: str, series: list[dict[str, Any]]) -> None:
        for start in range(0, len(series), MAX_SERIES_PER_CALL):
            chunk = series[start : start + MAX_SERIES_PER_CALL]
            await self._call("POST", _path("/projects/{}/{}/series", workspace, project), json_body={"series": chunk})

    async def post_metrics(
        self, kind: Literal["scalar", "media", "log"], project_cuid: str, experiment_cuid: str, items: list[str]
    ) -> None:
        """POST /house/metrics with items already encoded as JSON objects (at most 10,000).

        The uploader encodes each scalar with one f-string, several times faster than building
        dicts for json.dumps; the envelope is put around them here.
        """
        if len(items) > MAX_METRICS_PER_CALL:
            raise ValueError(f"{len(items)} metrics in one call; the API takes at most {MAX_METRICS_PER_CALL}")
        head = json.dumps({"type": kind, "projectId": project_cuid, "experimentId": experiment_cuid})
        body = f'{head[:-1]},"metrics":[{",".join(items)}]}}'.encode()
        await self._call("POST", "/house/metrics", content=body, extra_headers={"Content-Type": "application/json"})

    async def presign(self, experiment_cuid: str, paths: list[str]) -> list[str]:
        response = await self._call(
            "POST", "/resources/presigned/put", json_body={"experimentId": experiment_cuid, "paths": paths}
        )
        urls = (self._json(response, "POST presigned") or {}).get("urls")
        if not isinstance(urls, list) or len(urls) != len(paths):
            raise Rejected(
                "POST /resources/presigned/put",
                200,
                "invalid_presigned_response",
                f"expected {len(paths)} urls",
                response.headers.get("traceid", ""),
            )
        return [str(u) for u in urls]

    async def prepare_files(self, experiment_cuid: str, files: list[dict[str, Any]]) -> list[str]:
        """Presigned URLs for saved files ({path, size, md5, mimeType} each), in order."""
        response = await self._call(
            "POST", _path("/experiment/{}/files/prepare", experiment_cuid), json_body={"files": files}
        )
        urls = (self._json(response, "POST files/prepare") or {}).get("urls")
        if not isinstance(urls, list) or len(urls) != len(files):
            raise Rejected(
                "POST files/prepare",
                200,
                "invalid_presigned_response",
                f"expected {len(files)} urls",
                response.headers.get("traceid", ""),
            )
        return [str(u) for u in urls]

    async def complete_files(self, experiment_cuid: str, files: list[dict[str, Any]]) -> None:
        """Report saved files as {path, state: UPLOADED|FAILED}."""
        await self._call("POST", _path("/experiment/{}/files/complete", experiment_cuid), json_body={"files": files})

    async def put_object(self, url: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """PUT the bytes to a presigned URL (object storage: no sid cookie)."""
        await self._send("PUT", "presigned object", url=url, content=data, headers={"Content-Type": content_type})

    async def set_state(
        self,
        workspace: str,
        project: str,
        experiment_cuid: str,
        state: RunState,
        finished_at_ms: int,
    ) -> None:
        body = {"state": state, "finishedAt": iso_utc(finished_at_ms), "from": "sdk"}
        await self._call(
            "PUT", _path("/project/{}/{}/runs/{}/state", workspace, project, experiment_cuid), json_body=body
        )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
