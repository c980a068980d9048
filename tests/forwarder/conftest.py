"""Fixtures for the forwarder tests: the loopback test cloud and a daemon that forwards to it."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.daemon import DaemonProcess

from swanlabd.testcloud import CloudServer

API_KEY = "fwd-test-key-0123456789"
USER = "alice"


@pytest.fixture
def cloud() -> Iterator[CloudServer]:
    """A test cloud with one user (API_KEY -> alice), in this process, on a free port."""
    root = Path(tempfile.mkdtemp(prefix="sdc-", dir="/tmp"))
    server = CloudServer(root / "cloud.db", {API_KEY: USER}).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fwd_daemon() -> Iterator[DaemonProcess]:
    """A daemon with forwarding on; no SWANLAB_* of the developer's leaks into it."""
    d = DaemonProcess(env={"SWANLABD_FORWARD": "true"})
    d.env = {k: v for k, v in d.env.items() if not k.startswith("SWANLAB_")}
    try:
        d.start()
        yield d
    finally:
        d.close()


def caller_env(d: DaemonProcess, cloud: CloudServer, home: Path | None = None) -> dict[str, str]:
    """The environment of a user running `swanlabctl sync` against `cloud`."""
    env = {**d.env, "SWANLAB_API_HOST": cloud.url, "SWANLAB_WEB_HOST": cloud.url, "SWANLAB_API_KEY": API_KEY}
    if home is not None:
        env["HOME"] = str(home)
    return env


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(interval)


def points(cloud: CloudServer, run_id: str, key: str) -> dict[int, Any]:
    experiment = cloud.store.experiment(run_id)
    if experiment is None:
        return {}
    return cloud.store.metrics(run_id, "scalar").get(key, {})


def finished(cloud: CloudServer, run_id: str) -> str | None:
    experiment = cloud.store.experiment(run_id)
    return experiment["state"] if experiment and experiment["state"] != "RUNNING" else None
