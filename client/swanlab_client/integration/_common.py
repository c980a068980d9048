"""What the integrations share: the active run, if any, and the init() arguments they pass on."""

from __future__ import annotations

from typing import Any

from swanlab_client import _run


def active_run() -> _run.Run | None:
    """The active run, or None: the integrations log only while a run is active, as the official ones."""
    return _run.get_run() if _run.has_run() else None


def given(**kwargs: Any) -> dict[str, Any]:
    """The init() arguments that were given (None leaves the argument to init()'s own default)."""
    return {key: value for key, value in kwargs.items() if value is not None}
