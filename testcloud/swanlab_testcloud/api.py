"""The SwanLab cloud API subset (docs/cloud-api.md), answered from the Store.

Knows nothing of sockets: `CloudApi.handle(Request) -> Reply`. Every way a client can get the
protocol wrong raises `Rejected(..., error=True)`, which the HTTP layer records in the store's
error log; the referee asserts that log is empty. Answers that are part of a correct
conversation (404 for a missing project, 401 for an expired or finished session) are
`Rejected(..., error=False)`: logged as requests, not as errors.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

from swanlab_testcloud.store import Session, Store, new_cuid

MAX_METRICS_PER_CALL = 10_000
MAX_COLUMNS_PER_CALL = 3_000
COLUMN_TYPES = frozenset(
    {"FLOAT", "IMAGE", "AUDIO", "TEXT", "VIDEO", "ECHARTS", "OBJECT3D", "MOLECULE", "HTML", "SYSTEM"}
)
PROFILE_KINDS = {"config": dict, "metadata": dict, "requirements": str, "conda": str}
# Where the official SDK (0.10.3) puts a media column's objects: media/<folder>/<file>.
MEDIA_FOLDERS = {
    "IMAGE": "image",
    "AUDIO": "audio",
    "TEXT": "text",
    "VIDEO": "video",
    "ECHARTS": "echarts",
    "OBJECT3D": "object3d",
    "MOLECULE": "molecule",
    "HTML": "html",
}
# The Content-Type the official SDK pins per extension for an object PUT (its pkg/mime).
OBJECT_CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".txt": "text/plain",
    ".json": "application/json",
}
RUN_STATES = frozenset({"FINISHED", "CRASHED", "ABORTED"})
LOG_LEVELS = frozenset({"INFO", "ERROR"})
SDK_VERSION_HEADER = "X-SwanLab-SDK-Version"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    base_url: str


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Rejected(Exception):
    """A non-2xx answer. `error` marks a protocol mistake by the client (recorded for the referee)."""

    def __init__(self, status: int, code: str, message: str, *, error: bool = True) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.error = error


def _bad(message: str) -> Rejected:
    return Rejected(400, "BAD_REQUEST", message)


def _json(request: Request) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError as exc:
        raise _bad(f"body is not JSON: {exc}") from None


def _object(request: Request) -> dict[str, Any]:
    body = _json(request)
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


def _get(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise _bad(f"missing field {name!r}")
        return None
    # bool is an int subclass, but no field of this API is a boolean: True as a step is a bug.
    if isinstance(value, bool) or not isinstance(value, kind):
        raise _bad(f"field {name!r} must be {kind}, got {type(value).__name__}")
    return value


# RFC 3339 date-time (what protobuf's Timestamp.ToJsonString() and isoformat()+"Z" produce).
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


def _timestamp(body: Mapping[str, Any], name: str) -> str:
    value = _get(body, name, str)
    if not RFC3339.fullmatch(value):
        raise _bad(f"field {name!r} is not an RFC 3339 timestamp: {value!r}")
    return value


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Points = tuple[list[str], list[int], list[Any], list[str]]  # keys, steps, values, create times


def _columns(points: list[tuple[str, int, Any, str]]) -> Points:
    if not points:
        return [], [], [], []
    keys, steps, values, times = map(list, zip(*points, strict=True))
    return keys, steps, values, times


def _scalar_columns(items: list[Any]) -> Points | None:
    """The columns of a scalar batch whose every item is well formed with a finite float, else None.

    The hot path of a backlog upload (a million points): each check runs over a whole column at
    C speed (a create_time is matched once per distinct string). It accepts exactly what the
    per-item checks of `CloudApi._scalar` accept with a float value; for anything else (an int,
    "nan", a mistake) the caller runs those, which also name the first bad item.
    """
    try:
        keys = [item["key"] for item in items]
        steps = [item["index"] for item in items]
        values = [item["data"] for item in items]
        times = [item["create_time"] for item in items]
    except (TypeError, KeyError):  # an item that is not an object, or lacks a field
        return None
    if not items:
        return keys, steps, values, times
    # type() is exact: it rejects bool (an int subclass) and None (JSON null, a missing field).
    if set(map(type, keys)) != {str} or set(map(type, steps)) != {int} or set(map(type, times)) != {str}:
        return None
    if set(map(type, values)) != {float} or min(steps) < 0 or not all(map(math.isfinite, values)):
        return None
    if not all(map(RFC3339.fullmatch, set(times))):
        return None
    return keys, steps, values, times


Handler = Callable[..., Reply]


class CloudApi:
    """Routes and handlers. Thread-safe as long as the Store is (each handler is a few transactions)."""

    def __init__(self, store: Store, *, session_ttl_s: float) -> None:
        self.store = store
        self.session_ttl_s = session_ttl_s
        p = r"/api/project/(?P<u>[^/]+)/(?P<p>[^/]+)"
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = [
            (method, re.compile(pattern + "$"), handler, auth)
            for method, pattern, handler, auth in [
                ("GET", r"/api/?", self.health, False),
                ("POST", r"/api/login/api_key", self.login, False),
                ("GET", p, self.get_project, True),
                ("POST", r"/api/projects/(?P<u>[^/]+)", self.create_project, True),
                ("POST", p + r"/experiment", self.create_experiment, True),
                ("GET", p + r"/runs/(?P<e>[^/]+)", self.get_run, True),
                ("PUT", p + r"/runs/(?P<e>[^/]+)/profile", self.put_profile, True),
                ("PUT", p + r"/runs/(?P<e>[^/]+)/state", self.put_state, True),
                ("POST", r"/api/projects/(?P<u>[^/]+)/(?P<p>[^/]+)/series", self.put_columns, True),
                ("GET", r"/api/house/metrics/summaries/(?P<pc>[^/]+)/(?P<e>[^/]+)", self.summaries, True),
                ("POST", r"/api/house/experiments/(?P<e>[^/]+)/heartbeat", self.heartbeat, True),
                ("POST", r"/api/house/metrics", self.add_metrics, True),
                ("POST", r"/api/resources/presigned/put", self.presign, True),
                ("POST", r"/api/experiment/(?P<e>[^/]+)/files/prepare", self.prepare_files, True),
                ("POST", r"/api/experiment/(?P<e>[^/]+)/files/complete", self.complete_files, True),
                ("PUT", r"/objects/(?P<token>[^/]+)", self.put_object, False),
            ]
        ]

    def handle(self, request: Request) -> Reply:
        allowed: list[str] = []
        for method, pattern, handler, auth in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            if request.path.startswith("/api/") and not request.headers.get(SDK_VERSION_HEADER):
                raise _bad(f"missing header {SDK_VERSION_HEADER}")
            args = dict(match.groupdict())
            if auth:
                args["session"] = self._session(request)
            return handler(request, **args)
        if allowed:
            raise Rejected(405, "METHOD_NOT_ALLOWED", f"{request.method} {request.path}; allowed: {allowed}")
        raise Rejected(404, "NOT_FOUND", f"no such route: {request.method} {request.path}")

    # ---- auth ----

    def _session(self, request: Request) -> Session:
        cookie = SimpleCookie()
        try:
            cookie.load(request.headers.get("Cookie", ""))
        except CookieError:
            raise _bad("unparsable Cookie header") from None
        if "sid" not in cookie:
            raise Rejected(401, "UNAUTHORIZED", "no sid cookie")
        session, why = self.store.session(cookie["sid"].value)
        if session is None:
            # Expired, finished, or issued by an earlier database: a correct client logs in again.
            raise Rejected(401, "UNAUTHORIZED", f"session {why}", error=False)
        return session

    def health(self, request: Request) -> Reply:
        return Reply(200, "OK")

    def login(self, request: Request) -> Reply:
        user = self.store.user_by_key(request.headers.get("authorization", ""))
        if user is None:
            raise Rejected(401, "UNAUTHORIZED", "invalid api key")
        session = self.store.create_session(user["username"], self.session_ttl_s)
        # The SDK parses exactly this shape (strptime "%Y-%m-%dT%H:%M:%S.%fZ"); anything else fails its init.
        expires = datetime.fromtimestamp(session.expires_at, UTC)
        expired_at = expires.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return Reply(
            200,
            {
                "sid": session.sid,
                "expiredAt": expired_at,
                "userInfo": {"username": user["username"], "name": user["name"]},
            },
        )

    # ---- projects and experiments ----

    def _workspace(self, session: Session, username: str) -> None:
        if username != session.username:
            raise Rejected(403, "FORBIDDEN", f"user {session.username!r} cannot write workspace {username!r}")

    def _project(self, username: str, name: str) -> dict[str, Any]:
        project = self.store.project(username, name)
        if project is None:
            raise Rejected(404, "NOT_FOUND", f"project {username}/{name} does not exist")
        return project

    def _experiment(self, cuid: str, project: dict[str, Any] | None = None) -> dict[str, Any]:
        experiment = self.store.experiment(cuid)
        if experiment is None or (project is not None and experiment["project_cuid"] != project["cuid"]):
            raise Rejected(404, "NOT_FOUND", f"experiment {cuid} does not exist")
        return experiment

    def get_project(self, request: Request, *, u: str, p: str, session: Session) -> Reply:
        project = self.store.project(u, p)
        if project is None:
            raise Rejected(404, "NOT_FOUND", f"project {u}/{p} does not exist", error=False)
        return Reply(
            200,
            {
                "cuid": project["cuid"],
                "name": project["name"],
                "version": 1,
                "path": f"/{u}/{p}",
                "visibility": project["visibility"],
                "group": {"username": u},
                "_count": {"experiments": project["experiments"], "contributors": 1, "collaborators": 0, "clones": 0},
            },
        )

    def create_project(self, request: Request, *, u: str, session: Session) -> Reply:
        self._workspace(session, u)
        body = _object(request)
        name = _get(body, "name", str)
        visibility = _get(body, "visibility", str)
        if visibility not in ("PUBLIC", "PRIVATE"):
            raise _bad(f"visibility must be PUBLIC or PRIVATE, got {visibility!r}")
        created = self.store.create_project(u, name, visibility)
        return Reply(201 if created else 200, {"name": name})

    def create_experiment(self, request: Request, *, u: str, p: str, session: Session) -> Reply:
        self._workspace(session, u)
        project = self._project(u, p)
        body = _object(request)
        name = _get(body, "name", str)
        _timestamp(body, "createdAt")
        colors = _get(body, "colors", list)
        if len(colors) != 2 or not all(isinstance(c, str) for c in colors):
            raise _bad("colors must be two strings")
        for optional in ("description", "job", "cluster"):
            _get(body, optional, str, required=False)
        labels = _get(body, "labels", list, required=False) or []
        if not all(isinstance(label, dict) and isinstance(label.get("name"), str) for label in labels):
            raise _bad("labels must be [{name}]")
        cuid = _get(body, "cuid", str, required=False) or new_cuid()
        experiment, created = self.store.create_experiment(project["cuid"], cuid, name, body)
        if experiment["project_cuid"] != project["cuid"]:
            raise Rejected(409, "CONFLICT", f"experiment {cuid} belongs to another project")
        return Reply(
            201 if created else 200,
            {"cuid": cuid, "name": experiment["name"], "createdAt": experiment["created_at"]},
        )

    def get_run(self, request: Request, *, u: str, p: str, e: str, session: Session) -> Reply:
        project = self.store.project(u, p)
        experiment = self.store.experiment(e)
        if project is None or experiment is None or experiment["project_cuid"] != project["cuid"]:
            raise Rejected(404, "NOT_FOUND", f"run {e} does not exist", error=False)
        return Reply(
            200,
            {
                "cuid": e,
                "name": experiment["name"],
                "createdAt": experiment["created_at"],
                "state": experiment["state"],
                "finishedAt": experiment["finished_at"],
            },
        )

    def put_profile(self, request: Request, *, u: str, p: str, e: str, session: Session) -> Reply:
        experiment = self._experiment(e, self._project(u, p))
        body = _object(request)
        if len(body) != 1 or next(iter(body)) not in PROFILE_KINDS:
            raise _bad(f"profile body must have exactly one of {sorted(PROFILE_KINDS)}, got {sorted(body)}")
        kind = next(iter(body))
        content = _get(body, kind, PROFILE_KINDS[kind])
        if kind == "config":
            for key, item in content.items():
                if not isinstance(item, dict) or "value" not in item:
                    raise _bad(f"config item {key!r} must be {{value, desc, sort}}")
        self.store.put_profile(experiment["cuid"], kind, content)
        return Reply(200, {"ok": True})

    def put_state(self, request: Request, *, u: str, p: str, e: str, session: Session) -> Reply:
        experiment = self._experiment(e, self._project(u, p))
        body = _object(request)
        state = _get(body, "state", str)
        if state not in RUN_STATES:
            raise _bad(f"state must be one of {sorted(RUN_STATES)}, got {state!r}")
        finished_at = _timestamp(body, "finishedAt")
        self.store.set_state(experiment["cuid"], state, finished_at)
        # The cloud ends the session that finished a run: the next run logs in again.
        self.store.revoke_session(session.sid, "finished")
        return Reply(200, {"ok": True})

    def heartbeat(self, request: Request, *, e: str, session: Session) -> Reply:
        self._experiment(e)
        _get(_object(request), "flagId", str)
        self.store.heartbeat(e)
        return Reply(201, {"ok": True})

    # ---- columns and metrics ----

    def put_columns(self, request: Request, *, u: str, p: str, session: Session) -> Reply:
        project = self._project(u, p)
        series = _get(_object(request), "series", list)
        if len(series) > MAX_COLUMNS_PER_CALL:
            raise Rejected(413, "PAYLOAD_TOO_LARGE", f"{len(series)} columns > {MAX_COLUMNS_PER_CALL}")
        for column in series:
            if not isinstance(column, dict):
                raise _bad("series items must be objects")
            _get(column, "key", str)
            if _get(column, "type", str) not in COLUMN_TYPES:
                raise _bad(f"unknown column type {column['type']!r}")
        self.store.put_columns(project["cuid"], series)
        return Reply(201, {"ok": True})

    def add_metrics(self, request: Request, *, session: Session) -> Reply:
        body = _object(request)
        kind = _get(body, "type", str)
        project_cuid = _get(body, "projectId", str)
        experiment = self._experiment(_get(body, "experimentId", str))
        if experiment["project_cuid"] != project_cuid:
            raise _bad(f"experiment {experiment['cuid']} is not in project {project_cuid}")
        if experiment["state"] != "RUNNING":
            raise Rejected(409, "CONFLICT", f"experiment {experiment['cuid']} is {experiment['state']}")
        items = _get(body, "metrics", list)
        if len(items) > MAX_METRICS_PER_CALL:
            raise Rejected(413, "PAYLOAD_TOO_LARGE", f"{len(items)} metrics > {MAX_METRICS_PER_CALL}")
        if kind == "scalar":
            columns = _scalar_columns(items) or _columns([self._scalar(item) for item in items])
        elif kind == "media":
            objects = set(self.store.objects(experiment["cuid"]))
            columns = _columns([self._media(item, objects) for item in items])
            _check_media_folders(self.store.columns(project_cuid), columns[0], columns[2])
        elif kind == "log":
            columns = _columns([self._log(item) for item in items])
        else:
            raise _bad(f"unknown metric type {kind!r}")
        keys, steps, values, times = columns
        if kind != "log":
            missing = self.store.missing_columns(project_cuid, set(keys))
            if missing:
                raise _bad(f"metrics for keys without a column: {sorted(missing)}")
        self.store.add_metrics(experiment["cuid"], kind, keys, steps, values, times)
        return Reply(201, {"ok": True})

    @staticmethod
    def _step(item: Mapping[str, Any], name: str) -> int:
        step = _get(item, name, int)
        if step < 0:
            raise _bad(f"{name} must be >= 0, got {step}")
        return step

    def _scalar(self, item: Any) -> tuple[str, int, Any, str]:
        if not isinstance(item, dict):
            raise _bad("metric items must be objects")
        data = item.get("data")
        if data == "nan":
            value: Any = '"nan"'
        elif type(data) is float:
            if not math.isfinite(data):
                raise _bad("non-finite scalar data must be sent as 'nan'")
            value = data
        elif type(data) is int:
            # sqlite holds 64-bit integers; a larger one is kept as its JSON text.
            value = data if INT64_MIN <= data <= INT64_MAX else repr(data)
        else:
            raise _bad(f"scalar data must be a number or 'nan', got {data!r}")
        return _get(item, "key", str), self._step(item, "index"), value, _timestamp(item, "create_time")

    def _media(self, item: Any, objects: set[str]) -> tuple[str, int, Any, str]:
        if not isinstance(item, dict):
            raise _bad("metric items must be objects")
        paths = _get(item, "data", list)
        if not paths or not all(isinstance(path, str) for path in paths):
            raise _bad("media data must be a non-empty list of object paths")
        missing = [path for path in paths if path not in objects]
        if missing:
            raise _bad(f"media objects never uploaded: {missing}")
        more = _get(item, "more", list, required=False) or []
        # The SDK sends one {"caption": str} per captioned object, nothing for the others.
        if len(more) > len(paths) or not all(
            isinstance(m, dict) and set(m) == {"caption"} and isinstance(m["caption"], str) and m["caption"]
            for m in more
        ):
            raise _bad(f"media more must be at most one {{'caption': non-empty str}} per object, got {more!r}")
        value = json.dumps({"data": paths, "more": more})
        return _get(item, "key", str), self._step(item, "index"), value, _timestamp(item, "create_time")

    def _log(self, item: Any) -> tuple[str, int, Any, str]:
        if not isinstance(item, dict):
            raise _bad("metric items must be objects")
        level = _get(item, "level", str)
        if level not in LOG_LEVELS:
            raise _bad(f"log level must be one of {sorted(LOG_LEVELS)}, got {level!r}")
        value = json.dumps({"level": level, "message": _get(item, "message", str)})
        return "", self._step(item, "epoch"), value, _timestamp(item, "create_time")

    def summaries(self, request: Request, *, pc: str, e: str, session: Session) -> Reply:
        experiment = self._experiment(e)
        if experiment["project_cuid"] != pc:
            raise Rejected(404, "NOT_FOUND", f"experiment {e} is not in project {pc}")
        summary = self.store.summaries(e)
        # The cloud reports console progress as one entry: the last line number.
        logs = summary["log"]
        summary["log"] = [{"key": "log", "step": logs[0]["step"]}] if logs else []
        return Reply(200, summary)

    # ---- object uploads ----

    def _presigned_urls(self, request: Request, cuid: str, paths: list[str]) -> list[str]:
        return [f"{request.base_url}/objects/{token}" for token in self.store.presign(cuid, paths)]

    def presign(self, request: Request, *, session: Session) -> Reply:
        body = _object(request)
        experiment = self._experiment(_get(body, "experimentId", str))
        paths = _get(body, "paths", list)
        if not paths or not all(isinstance(path, str) and _media_path(path) for path in paths):
            raise _bad(f"paths must be a non-empty list of 'media/<type>/<file>', got {paths!r}")
        return Reply(200, {"urls": self._presigned_urls(request, experiment["cuid"], paths)})

    def prepare_files(self, request: Request, *, e: str, session: Session) -> Reply:
        self._experiment(e)
        files = _get(_object(request), "files", list)
        paths = []
        for item in files:
            if not isinstance(item, dict):
                raise _bad("files items must be objects")
            paths.append("files/" + _get(item, "path", str))
            _get(item, "size", int)
        return Reply(200, {"urls": self._presigned_urls(request, e, paths)})

    def complete_files(self, request: Request, *, e: str, session: Session) -> Reply:
        self._experiment(e)
        uploaded = self.store.objects(e)
        for item in _get(_object(request), "files", list):
            if not isinstance(item, dict):
                raise _bad("files items must be objects")
            path = _get(item, "path", str)
            if _get(item, "state", str) == "UPLOADED" and "files/" + path not in uploaded:
                raise Rejected(404, "NOT_FOUND", f"file {path} was never uploaded")
        return Reply(201, {"ok": True})

    def put_object(self, request: Request, *, token: str) -> Reply:
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        path = self.store.upload_path(token)
        if path is None:
            raise Rejected(403, "FORBIDDEN", "unknown or expired upload url")
        suffix = path[path.rfind(".") :].lower()
        expected = OBJECT_CONTENT_TYPES.get(suffix) if path.startswith("media/") else None
        if expected is not None and content_type != expected:
            raise _bad(f"{path}: Content-Type {content_type!r}, the SDK sends {expected!r}")
        self.store.put_object(token, content_type, request.body)
        return Reply(200, "")


def _media_path(path: str) -> bool:
    """`media/<known folder>/<file>`, nothing else (no `..`, no deeper folders)."""
    parts = path.split("/")
    return (
        len(parts) == 3
        and parts[0] == "media"
        and parts[1] in MEDIA_FOLDERS.values()
        and parts[2] not in ("", ".", "..")
    )


def _check_media_folders(columns: Mapping[str, Any], keys: list[str], values: list[Any]) -> None:
    """Each media metric's objects are in the folder of its column's type, as the SDK puts them."""
    for key, value in zip(keys, values, strict=True):
        column = columns.get(key)
        folder = MEDIA_FOLDERS.get(column["type"]) if column else None
        if column is None:
            continue  # reported as a metric without a column
        if folder is None:
            raise _bad(f"media metric for {key!r}, a {column['type']} column")
        wrong = [p for p in json.loads(value)["data"] if not p.startswith(f"media/{folder}/")]
        if wrong:
            raise _bad(f"media of the {column['type']} column {key!r} must be under media/{folder}/: {wrong}")
