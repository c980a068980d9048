"""Callbacks: `Callback`, `merge_callbacks()` and the deprecated `register_callbacks()`.

The hooks run where the official SDK runs them: `on_run_initialized(run_dir, path, settings)` at
the end of init(), `on_run_finished(state, error)` at the end of finish(). A hook that raises
is logged and does not stop the run. `on_scalar_flush`, `on_media_flush`, `on_log_flush` and
`on_run_fork` are never called here (see docs/client.md: the records they take are the official
SDK's own protobuf types, which this client does not build).
"""

from __future__ import annotations

import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_logger = logging.getLogger("swanlab_client")


class Callback(ABC):
    """Base class of run callbacks; subclasses name themselves (`name`, unique) and override hooks."""

    def on_run_initialized(self, run_dir: Path, path: str, settings: Any, *args: Any, **kwargs: Any) -> None:  # noqa: B027 - an optional hook, as in the official SDK
        """Called at the end of init(): the run folder, and `/<project>/<run id>` (online: with the workspace first)."""

    def on_scalar_flush(self, scalar_records: list[Any], *args: Any, **kwargs: Any) -> None:  # noqa: B027 - an optional hook, as in the official SDK
        """Not called by this client (see the module docstring)."""

    def on_media_flush(self, media_records: list[Any], *args: Any, **kwargs: Any) -> None:  # noqa: B027 - an optional hook, as in the official SDK
        """Not called by this client (see the module docstring)."""

    def on_log_flush(self, log_records: list[Any], *args: Any, **kwargs: Any) -> None:  # noqa: B027 - an optional hook, as in the official SDK
        """Not called by this client (see the module docstring)."""

    def on_run_fork(self) -> None:  # noqa: B027 - an optional hook, as in the official SDK
        """Not called by this client, nor by the official SDK 0.10.3."""

    def on_run_finished(self, state: str, error: str | None = None, *args: Any, **kwargs: Any) -> None:  # noqa: B027 - an optional hook, as in the official SDK
        """Called at the end of finish(): state is "success", "crashed" or "aborted"."""

    @property
    @abstractmethod
    def name(self) -> str:
        """A unique name: a callback with the name of one already merged replaces it."""


_global: dict[str, Callback] = {}


def merge(into: dict[str, Callback], callbacks: Iterable[Callback] | Callback | None) -> None:
    if callbacks is None:
        return
    for callback in [callbacks] if isinstance(callbacks, Callback) else callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be swanlab_client.Callback instances, not {type(callback).__name__}")
        into[callback.name] = callback


def merge_callbacks(callbacks: Iterable[Callback] | Callback) -> None:
    """Add callbacks for every later init() of this process (a name already there is replaced)."""
    merge(_global, callbacks)


def register_callbacks(*args: Any, **kwargs: Any) -> None:
    """Deprecated alias of merge_callbacks(), as in the official SDK."""
    warnings.warn(
        "`swanlab.register_callbacks()` is deprecated and will be removed in v0.11, "
        "use `swanlab.merge_callbacks()` instead",
        FutureWarning,
        stacklevel=2,
    )
    merge_callbacks(*args, **kwargs)


def for_run(extra: Iterable[Callback] | Callback | None) -> list[Callback]:
    """The callbacks of a new run: the merged ones, then init(callbacks=...)."""
    table = dict(_global)
    merge(table, extra)
    return list(table.values())


def call(callbacks: Iterable[Callback], hook: str, *args: Any, **kwargs: Any) -> None:
    for callback in callbacks:
        try:
            getattr(callback, hook)(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a user's hook must not break the run
            _logger.warning("swanlab_client: callback %r failed in %s", callback.name, hook, exc_info=True)
