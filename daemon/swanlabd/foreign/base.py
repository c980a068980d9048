"""The seam every reader implements, and the error tree of this package.

ForeignError            a folder cannot be read as its tool's run (a usage error of sync)
 └─ MissingExtra        the reader needs an optional dependency that is not installed
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from swanlabd_pb import records_pb2 as pb


class ForeignError(ValueError):
    """A folder that cannot be read as its tool's run; names the path and why."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path


class MissingExtra(ForeignError):
    """The reader's library is an optional extra (pyproject.toml) that is not installed."""

    def __init__(self, path: Path, extra: str, module: str) -> None:
        super().__init__(path, f"reading it needs {module}: pip install 'swanlabd[{extra}]'")
        self.extra = extra


@dataclass
class Description:
    """What a source says about its run before anything is converted."""

    run_id: str  # the experiment's cuid: stable for this source on every sync
    start: pb.RunStart  # project, names, start time (mode and resume are set by the daemon)


@dataclass
class Chunk:
    """Our records for a stretch of the source, and where the source stands after it.

    `files` are (source file, or the bytes to write, path relative to the run folder) to copy
    in before the records that name them are appended (media and saved files). `finish` is set once the source says
    its run ended; it is never in `records`. `losses` are lines naming damaged stretches (bytes,
    offset, source records and steps lost); `unknown` counts records of kinds not converted.
    """

    records: list[pb.Record]
    cursor: str
    files: list[tuple[Path | bytes, str]] = field(default_factory=list)
    finish: pb.Finish | None = None
    source_records: int = 0
    points: int = 0
    losses: list[str] = field(default_factory=list)
    unknown: Counter[str] = field(default_factory=Counter)

    @property
    def empty(self) -> bool:
        return not (self.records or self.finish or self.losses or self.unknown or self.source_records)


class Source(Protocol):
    """One run of another tool, found by `sources.find`."""

    kind: str  # "swanlab", "wandb", "tensorboard": what `ls` shows
    path: Path  # the run's folder (TensorBoard's: its event file), absolute

    def describe(self) -> Description:
        """The run's id and RunStart; ForeignError if the files say nothing usable yet."""
        ...

    def read(self, cursor: str | None) -> Iterator[Chunk]:
        """Chunks for everything after `cursor` (None: from the start), bounded in size; the last
        chunk's cursor is where the next sync starts. Yields nothing if nothing is new."""
        ...
