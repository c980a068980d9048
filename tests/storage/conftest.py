"""Fixtures of the storage tests, which drive the run store without gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swanlabd.storage.state import State


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    """The daemon's state DB in the test's folder, closed after it."""
    s = State(tmp_path / "state")
    yield s
    s.close()
