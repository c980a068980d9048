"""What the integrations share: the active run, the init() arguments they pass on, and for the
sync_* bridges the arguments of a patched call and the tracker functions as they were."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from swanlab_client import _run

_ORIGINALS: dict[object, dict[str, Any]] = {}


def active_run() -> _run.Run | None:
    """The active run, or None: the integrations log only while a run is active, as the official ones."""
    return _run.get_run() if _run.has_run() else None


def init_arguments(
    *,
    project: str | None = None,
    workspace: str | None = None,
    experiment_name: str | None = None,
    description: str | None = None,
    log_dir: str | None = None,
    logdir: str | None = None,
    mode: str | None = None,
    tags: list[str] | None = None,
    tag: str = "",
    **more: Any,
) -> dict[str, Any]:
    """The init() arguments an integration was given, as the official integrations pass them on.

    None leaves an argument to init()'s own default; `logdir` is the other spelling of `log_dir`;
    `tag`, the integration's own, joins the tags.
    """
    if tag:
        tags = list(tags or [])
        if tag not in tags:
            tags.append(tag)
    args = {
        "project": project,
        "workspace": workspace,
        "experiment_name": experiment_name,
        "description": description,
        "log_dir": log_dir if log_dir is not None else logdir,
        "mode": mode,
        "tags": tags,
        **more,
    }
    return {key: value for key, value in args.items() if value is not None}


def call_args(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], names: Iterable[str]
) -> tuple[Any, ...]:
    """The values `names` had in the call fn(*args, **kwargs), None for one not passed (defaults
    are not applied), read by fn's own signature as the official bridges read them."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):  # a call fn itself will refuse, or no signature: keywords only
        bound = dict(kwargs)
    return tuple(bound.get(name) for name in names)


def originals(owner: object, names: Iterable[str]) -> dict[str, Any]:
    """owner's attributes `names` as they were before the first sync_* call patched them.

    A second sync_* call patches these again rather than its own patches: the official bridges
    wrap their patches of the first call, and so log every value once per call.
    """
    kept = _ORIGINALS.setdefault(owner, {})
    for name in names:
        if name not in kept:
            kept[name] = getattr(owner, name)
    return kept
