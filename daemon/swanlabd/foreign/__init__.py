"""Readers of other tools' runs, for `swanlabctl sync` (docs/sync.md).

    sources.find(path) -> [Source]          which runs a folder holds, by their files
    Source.describe()  -> Description        the run's id, RunStart, whether it has ended
    Source.read(cursor) -> Iterator[Chunk]   our records for everything after `cursor`

One module per tool (`swanlab.py`, `wandb.py`, `tensorboard.py`), each with one `Source` class;
`sources.py` lists them, so a new format is one new module and one line there. A reader is pure:
it reads the user's files (never writes or locks them) and turns them into swanlabd `Record`s
plus a cursor, an opaque JSON string the reader alone understands. The daemon (swanlabd/service/foreignsync.py)
appends each chunk with its cursor in one write and lets the one upload path take it from
there. Errors: `ForeignError` (below) for a folder that cannot be read as its tool's run;
damage inside a file is never an error, it is reported in `Chunk.losses`.
"""

from __future__ import annotations

from swanlabd.foreign.base import Chunk, Description, ForeignError, MissingExtra, Source

__all__ = ["Chunk", "Description", "ForeignError", "MissingExtra", "Source"]
