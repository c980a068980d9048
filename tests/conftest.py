"""Fixtures shared by every test folder. `helpers` (tests/helpers/) is importable from tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.daemon import DaemonProcess


@pytest.fixture
def daemon() -> Iterator[DaemonProcess]:
    """A running daemon on its own socket and data root; killed and removed after the test."""
    d = DaemonProcess()
    try:
        d.start()
        yield d
    finally:
        d.close()


@pytest.fixture
def daemon_paths() -> Iterator[DaemonProcess]:
    """A daemon's paths and env, not started: for tests where a client auto-starts it.

    Teardown still kills any daemon that came up on these paths (via <home>/swanlabd.pid).
    """
    d = DaemonProcess()
    try:
        yield d
    finally:
        d.close()
