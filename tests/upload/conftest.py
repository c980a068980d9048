"""Fixtures for the forwarder tests: the loopback test cloud and a daemon that forwards to it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from forwarding import API_KEY, USER

from helpers.daemon import DaemonProcess
from swanlab_testcloud import CloudServer


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
    d = DaemonProcess(env={"SWANLABD_UPLOAD": "true"})
    d.env = {k: v for k, v in d.env.items() if not k.startswith("SWANLAB_")}
    try:
        d.start()
        yield d
    finally:
        d.close()
