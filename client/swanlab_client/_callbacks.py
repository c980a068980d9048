"""Callbacks: `Callback`, `merge_callbacks()` and the deprecated `register_callbacks()`.

The hooks run where the official SDK runs them: `on_run_initialized(run_dir, path, settings)` at
the end of init(), `on_scalar_flush(records)` and `on_log_flush(records)` once the records are
stored (the official SDK: once its core took them; here: once swanlabd acked them, in the
sender thread), `on_run_finished(state, error)` at the end of finish(). The records have the
fields of the official SDK's protobuf records (`ScalarRecord.key/step/timestamp/value.number`,
`LogRecord.line/level/timestamp/epoch`), with `timestamp` a datetime. `on_media_flush` is the
media section's; `on_run_fork` is never called, as in the official SDK. A hook that raises is
logged and does not stop the run. Any object with a `name` and the hooks it needs is taken, so
the official SDK's own callbacks (e.g. its CSV writer) work too.
"""

from __future__ import annotations

import datetime
import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ScalarValue:
    number: float


@dataclass(frozen=True)
class ScalarRecord:
    """One stored scalar, as on_scalar_flush() gets it."""

    key: str
    step: int
    timestamp: datetime.datetime
    value: ScalarValue


@dataclass(frozen=True)
class LogRecord:
    """One stored console line, as on_log_flush() gets it (level INFO for stdout, ERROR for stderr)."""

    line: str
    level: str
    timestamp: datetime.datetime
    epoch: int


_global: dict[str, Callback] = {}


def merge(into: dict[str, Callback], callbacks: Iterable[Callback] | Callback | None) -> None:
    if callbacks is None:
        return
    # Duck-typed: one callback has a `name`, a list of them has not.
    many: Iterable[Any] = [callbacks] if hasattr(callbacks, "name") else callbacks
    for callback in many:
        name = getattr(callback, "name", None)
        if not isinstance(name, str):
            raise TypeError(f"a callback is a Callback with a str `name`, not {type(callback).__name__}")
        into[name] = callback


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


def wants(callbacks: Iterable[Callback], hook: str) -> bool:
    """True if a callback does something in `hook` (not only Callback's empty default)."""
    return any(getattr(type(c), hook, None) not in (None, getattr(Callback, hook)) for c in callbacks)


def call(callbacks: Iterable[Callback], hook: str, *args: Any, **kwargs: Any) -> None:
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is None:
            continue  # a duck-typed callback without this hook
        try:
            method(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a user's hook must not break the run
            _logger.warning("swanlab_client: callback %r failed in %s", callback.name, hook, exc_info=True)
