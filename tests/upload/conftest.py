"""Fixtures for the uploader tests: the loopback test cloud and a daemon that uploads to it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from uploading import API_KEY, USER

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
def upload_daemon() -> Iterator[DaemonProcess]:
    """A daemon with uploading on; no SWANLAB_* of the developer's leaks into it."""
    d = DaemonProcess(env={"SWANLABD_UPLOAD": "true"})
    d.env = {k: v for k, v in d.env.items() if not k.startswith("SWANLAB_")}
    try:
        d.start()
        yield d
    finally:
        d.close()
