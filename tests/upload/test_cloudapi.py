"""cloudapi: every httpx failure and HTTP status maps to one error class at one boundary, 401
logs in again once, and no error text carries the API key. Uses httpx.MockTransport (no sockets)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from swanlabd.upload import cloudapi
from swanlabd.upload.cloudapi import (
    CloudAPI,
    CloudTimeout,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
    Unauthorized,
)

KEY = "secret-key-never-shown"
HOST = "http://cloud.test"


def api(handler) -> CloudAPI:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), headers={"X-SwanLab-SDK-Version": "0.10.3"})
    return CloudAPI(http, HOST, KEY)


def login_ok(request: httpx.Request) -> httpx.Response | None:
    if request.url.path == "/api/login/api_key":
        assert request.headers["authorization"] == KEY
        return httpx.Response(
            200,
            json={
                "sid": f"sid{request.extensions.get('n', 1)}",
                "expiredAt": "2030-01-01T00:00:00.000Z",
                "userInfo": {"username": "alice", "name": "Alice"},
            },
        )
    return None


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize(
    ("exc", "cls", "committed"),
    [
        (httpx.ConnectError("refused"), TransportError, False),
        (httpx.ConnectTimeout("connect"), CloudTimeout, False),
        (httpx.InvalidURL("no host"), TransportError, False),
        (httpx.PoolTimeout("pool"), CloudTimeout, False),
        (httpx.ReadTimeout("read"), CloudTimeout, True),
        (httpx.WriteTimeout("write"), CloudTimeout, True),
        (httpx.RemoteProtocolError("server disconnected without a response"), TransportError, True),
        (httpx.ReadError("reset by peer"), TransportError, True),
        (httpx.WriteError("broken pipe"), TransportError, True),
        (httpx.LocalProtocolError("bad"), TransportError, True),
        (httpx.ProxyError("proxy"), TransportError, True),
        (httpx.UnsupportedProtocol("ftp"), TransportError, True),
        (httpx.DecodingError("gzip"), TransportError, True),
    ],
)
def test_transport_errors_map_to_one_class_each(exc, cls, committed):
    def handler(request):
        if (reply := login_ok(request)) is not None:
            return reply
        raise exc

    with pytest.raises(cls) as info:
        run(api(handler).heartbeat("e1"))
    assert type(info.value) is cls and info.value.maybe_committed is committed
    assert KEY not in str(info.value)


def test_every_httpx_transport_error_is_mapped():
    """If httpx grows a new TransportError subclass, it still lands in our tree (via its base)."""

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    for error_class in subclasses(httpx.TransportError):

        def handler(request, error_class=error_class):
            if (reply := login_ok(request)) is not None:
                return reply
            raise error_class("boom")

        with pytest.raises(cloudapi.CloudError):
            run(api(handler).heartbeat("e1"))


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, Rejected),
        (403, Rejected),
        (404, Rejected),
        (409, Rejected),
        (413, Rejected),
        (422, Rejected),
        (429, RateLimited),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
    ],
)
def test_statuses_map_with_the_servers_code_message_and_traceid(status, cls):
    def handler(request):
        if (reply := login_ok(request)) is not None:
            return reply
        return httpx.Response(
            status, json={"code": "E_X", "message": "nope"}, headers={"traceid": "t-1", "Retry-After": "7"}
        )

    with pytest.raises(cls) as info:
        run(api(handler).post_metrics("scalar", "p", "e", ['{"key": "a", "index": 1, "data": 1.0}']))
    err = info.value
    assert (err.status, err.code, err.server_message, err.traceid) == (status, "E_X", "nope", "t-1")
    assert err.maybe_committed is (status >= 500)
    if cls is RateLimited:
        assert err.retry_after == 7.0
    assert KEY not in str(err)


def test_retry_after_as_http_date_and_absent():
    assert cloudapi._retry_after(None) is None
    assert cloudapi._retry_after("soon") is None
    assert cloudapi._retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: now


def test_a_401_logs_in_again_once_and_repeats_the_call():
    seen = []

    def handler(request):
        if request.url.path == "/api/login/api_key":
            seen.append("login")
            return httpx.Response(200, json={"sid": f"s{len(seen)}", "userInfo": {"username": "alice"}})
        seen.append(request.headers["cookie"])
        return (
            httpx.Response(401, json={"code": "UNAUTHORIZED", "message": "session expired"})
            if len(seen) == 2
            else httpx.Response(201, json={})
        )

    run(api(handler).heartbeat("e1"))
    assert seen == ["login", "sid=s1", "login", "sid=s3"]


def test_a_wrong_key_raises_unauthorized_from_login():
    def handler(request):
        return httpx.Response(401, json={"code": "UNAUTHORIZED", "message": "bad key"})

    with pytest.raises(Unauthorized) as info:
        run(api(handler).heartbeat("e1"))
    assert "login" in info.value.what and KEY not in str(info.value) and KEY not in repr(info.value.__dict__)


def test_metrics_body_and_limits():
    bodies = []

    def handler(request):
        if (reply := login_ok(request)) is not None:
            return reply
        bodies.append(json.loads(request.content))
        return httpx.Response(201, json={})

    client = api(handler)
    run(
        client.post_metrics(
            "scalar",
            "p1",
            "e1",
            ['{"key":"a","index":1,"data":"nan","create_time":"t"}', '{"key":"b","index":2,"data":0.5}'],
        )
    )
    assert bodies == [
        {
            "type": "scalar",
            "projectId": "p1",
            "experimentId": "e1",
            "metrics": [
                {"key": "a", "index": 1, "data": "nan", "create_time": "t"},
                {"key": "b", "index": 2, "data": 0.5},
            ],
        }
    ]
    with pytest.raises(ValueError):
        run(client.post_metrics("scalar", "p", "e", ["{}"] * (cloudapi.MAX_METRICS_PER_CALL + 1)))


def test_experiment_created_vs_existing_and_iso_time():
    status = [201, 200]

    def handler(request):
        if (reply := login_ok(request)) is not None:
            return reply
        body = json.loads(request.content)
        assert body["cuid"] == "run12345" and body["createdAt"] == "2026-01-02T03:04:05.678Z"
        return httpx.Response(status.pop(0), json={"cuid": "run12345", "name": body["name"]})

    client = api(handler)
    first = run(
        client.create_experiment("alice", "p", cuid="run12345", name="n", created_at_ms=1767323045678, color="#000")
    )
    again = run(
        client.create_experiment("alice", "p", cuid="run12345", name="n", created_at_ms=1767323045678, color="#000")
    )
    assert (first.created, again.created) == (True, False)
