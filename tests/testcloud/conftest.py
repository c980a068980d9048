"""Fixtures for the test cloud's own tests: a running CloudServer and a small logged-in client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudclient import API_KEY, USER, ApiClient

from swanlab_testcloud import CloudServer


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    server = CloudServer(tmp_path / "cloud.db", {API_KEY: USER})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(cloud: CloudServer) -> Iterator[ApiClient]:
    client = ApiClient(cloud.url)
    try:
        yield client
    finally:
        client.close()
