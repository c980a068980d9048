"""Fixtures of the backup-format tests; helpers live in logfixture.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from logfixture import Log, short_tmpdir


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def tmpdir_short() -> Iterator[Path]:
    path = short_tmpdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)
