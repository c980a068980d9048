"""Health as probes see it: the gRPC health service and `swanlabctl status` exit codes."""

from __future__ import annotations

import json
import os
import signal
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from helpers.daemon import DaemonProcess
from swanlabd.ingest.server import HEALTH_SERVICE


@pytest.mark.parametrize("service", ["", HEALTH_SERVICE])
def test_health_check_serving(daemon: DaemonProcess, service: str) -> None:
    stub = health_pb2_grpc.HealthStub(daemon.channel())
    reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_health_check_unknown_service_is_not_found(daemon: DaemonProcess) -> None:
    stub = health_pb2_grpc.HealthStub(daemon.channel())
    with pytest.raises(grpc.RpcError) as info:
        stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_status_exit_codes_follow_the_daemon(daemon_paths: DaemonProcess) -> None:
    d = daemon_paths
    down = d.ctl("status", "--json")
    assert down.returncode == 1, down.stderr
    assert json.loads(down.stdout) == {"running": False, "socket": str(d.socket)}

    d.start()
    up = d.ctl("status", "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["pid"] == d.pid
    assert d.ctl("status").returncode == 0

    d.kill(signal.SIGKILL)  # leaves a stale socket file behind
    assert d.socket.exists()
    stale = d.ctl("status")
    assert stale.returncode == 1 and "not running" in stale.stdout


def test_status_reports_a_hung_daemon_as_down(daemon: DaemonProcess) -> None:
    # A stopped (hung) process still has its socket listening; the probe must not hang with it.
    pid = daemon.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        hung = daemon.ctl("status", timeout=60)
        assert hung.returncode == 1, hung.stdout + hung.stderr
        assert time.monotonic() - started < 30  # bounded by the RPC timeout, not by the daemon
    finally:
        os.kill(pid, signal.SIGCONT)
    assert daemon.ctl("status").returncode == 0
