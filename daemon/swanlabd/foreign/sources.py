"""Which tool's runs a folder holds: one line per reader module (a new format is one more)."""

from __future__ import annotations

from pathlib import Path

from swanlabd.foreign import swanlab, tensorboard, wandb
from swanlabd.foreign.base import Source

# In this order: a W&B run folder may hold event files too (W&B's sync_tensorboard copies them in).
FINDERS = (swanlab.find, wandb.find, tensorboard.find)


def find(path: Path) -> list[Source]:
    """Every run of another tool at `path` (a run folder, or a folder of them); [] if none."""
    path = path.resolve()
    for finder in FINDERS:
        found: list[Source] = list(finder(path))
        if found:
            return found
    return []


def by_kind(kind: str, path: Path) -> Source:
    """The source a SourceCursor record names (a converted run synced again by its run id)."""
    for source in find(path):
        if source.kind == kind and source.path == path.resolve():
            return source
    raise ValueError(f"{path} holds no {kind} run any more")
