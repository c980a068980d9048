"""The test tree itself: helper modules are imported by their bare name (each test folder is on
sys.path), so two of them with one name would shadow each other depending on which tests run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_two_helper_modules_share_a_name() -> None:
    helpers = [
        p
        for p in TESTS.rglob("*.py")
        if not p.name.startswith("test_") and p.name not in ("conftest.py", "__init__.py") and "helpers" not in p.parts
    ]
    counts = Counter(p.name for p in helpers)
    assert [name for name, n in counts.items() if n > 1] == []
