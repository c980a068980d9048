"""The integration tests share the cached-venv helpers of tests/cli (alias_venvs.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
