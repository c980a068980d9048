"""Fixtures of the ingest tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A fresh folder under /tmp for an in-process daemon (inprocess_daemon.py): unix socket paths must stay short."""
    d = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)
