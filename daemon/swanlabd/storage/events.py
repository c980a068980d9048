"""What storage tells the layer above it about runs: the seam between storage and upload.

`RunStore` calls these on the daemon's event loop right after the change is in the state DB;
the uploader implements them, so it never reads the run store or polls the state DB to learn
that a file grew or that a run ended. Implementations must return at once (they run inside
the append path).
"""

from __future__ import annotations

from typing import Protocol


class RunEvents(Protocol):
    def appended(self, run_id: str) -> None:
        """Records were appended to the run's backup file (it grew)."""

    def ended(self, run_id: str) -> None:
        """The run left RUNNING (finished, crashed, aborted): its file will not grow again."""


class NoEvents:
    """Nobody listens (uploading off, or tools that open the run store alone)."""

    def appended(self, run_id: str) -> None:
        pass

    def ended(self, run_id: str) -> None:
        pass
