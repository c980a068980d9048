"""Each fault switch does what it says, only where and as often as it is scoped."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from cloudclient import USER, ApiClient

from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer, FaultKind


def test_status_fault_fires_count_times_then_stops(api: ApiClient, cloud: CloudServer) -> None:
    api.login()
    fault = cloud.add_fault(FaultKind.STATUS, "/api/project/", status=502, count=2)
    codes = [api.call("GET", f"/project/{USER}/p").status_code for _ in range(3)]
    assert codes == [502, 502, 404]
    assert fault.fired == 2
    # An injected answer is not the client's mistake.
    assert cloud.errors() == []


def test_fault_is_scoped_by_path_prefix_and_method(api: ApiClient, cloud: CloudServer) -> None:
    cloud.add_fault(FaultKind.STATUS, "/api/house/metrics", method="POST")
    assert api.login().status_code == 200
    assert api.call("GET", "/house/metrics").status_code == 405
    assert api.call("POST", "/house/metrics", {}).status_code == 503


def test_fault_with_a_duration_expires(api: ApiClient, cloud: CloudServer) -> None:
    cloud.add_fault("status", duration_s=0.3)
    assert api.login().status_code == 503
    time.sleep(0.4)
    assert api.login().status_code == 200


def test_rate_limit_sends_retry_after(api: ApiClient, cloud: CloudServer) -> None:
    cloud.add_fault(FaultKind.RATE_LIMIT, retry_after_s=7, count=1)
    response = api.login()
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert api.login().status_code == 200


def test_slow_fault_delays_the_answer(api: ApiClient, cloud: CloudServer) -> None:
    cloud.add_fault(FaultKind.SLOW, delay_s=0.5, count=1)
    started = time.monotonic()
    assert api.login().status_code == 200
    assert time.monotonic() - started >= 0.5


def test_reset_cuts_the_connection_without_handling(api: ApiClient, cloud: CloudServer) -> None:
    api.login()
    cloud.add_fault(FaultKind.RESET, "/api/projects/", count=1)
    with pytest.raises(httpx.TransportError):
        api.call("POST", f"/projects/{USER}", {"name": "p", "visibility": "PRIVATE"})
    assert cloud.project(USER, "p") is None
    assert api.call("POST", f"/projects/{USER}", {"name": "p", "visibility": "PRIVATE"}).status_code == 201


def test_drop_commits_then_never_answers(api: ApiClient, cloud: CloudServer) -> None:
    api.login()
    cloud.add_fault(FaultKind.DROP, "/api/projects/", count=1)
    with pytest.raises(httpx.TransportError):
        api.call("POST", f"/projects/{USER}", {"name": "p", "visibility": "PRIVATE"})
    assert cloud.project(USER, "p") is not None
    # The client's retry finds the work done.
    assert api.call("POST", f"/projects/{USER}", {"name": "p", "visibility": "PRIVATE"}).status_code == 200
    assert [r["outcome"] for r in cloud.requests()][-2:] == ["fault:drop", "ok"]


def test_dropped_metrics_retried_count_as_duplicates(api: ApiClient, cloud: CloudServer) -> None:
    project_cuid, cuid = api.setup_run()
    api.columns("proj", ["loss"])
    cloud.add_fault(FaultKind.DROP, "/api/house/metrics", count=1)
    with pytest.raises(httpx.TransportError):
        api.scalars(project_cuid, cuid, [("loss", 0, 1.0)])
    api.scalars(project_cuid, cuid, [("loss", 0, 1.0)])
    assert cloud.duplicate_count() == 1


def test_down_refuses_connections_and_comes_back_on_the_same_port(api: ApiClient, cloud: CloudServer) -> None:
    assert api.login().status_code == 200  # leaves a keep-alive connection open
    url = cloud.url
    cloud.go_down()
    assert not cloud.is_up
    with pytest.raises(httpx.TransportError):
        api.login()
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    cloud.come_up()
    assert cloud.url == url
    assert api.login().status_code == 200


def test_down_for_a_duration_comes_back_by_itself(api: ApiClient, cloud: CloudServer) -> None:
    cloud.go_down(duration_s=0.3)
    with pytest.raises(httpx.ConnectError):
        api.login()
    wait_for(lambda: cloud.is_up, 10, "the cloud back up by itself")
    assert api.login().status_code == 200


def test_clear_faults_switches_everything_off(api: ApiClient, cloud: CloudServer) -> None:
    cloud.add_fault(FaultKind.STATUS)
    fault = cloud.add_fault(FaultKind.RATE_LIMIT)
    cloud.remove_fault(fault)
    assert api.login().status_code == 503
    cloud.clear_faults()
    assert api.login().status_code == 200
