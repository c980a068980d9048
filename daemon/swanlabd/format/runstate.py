"""A run's state and its mode: one enum each, on every side of the daemon.

The records carry them as protobuf enums (`pb.RunState`, `pb.Mode` in records.proto); the state
DB, upload-state files, status and ls carry their names. These enums are those names
(`RunState.RUNNING == "RUNNING"`, `Mode.CLOUD == "MODE_CLOUD"`), so the JSON already on disk
reads back unchanged, and convert to and from the protobuf values in one place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import cast

from swanlabd_pb import records_pb2 as pb


class RunState(StrEnum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    CRASHED = "CRASHED"
    ABORTED = "ABORTED"
    # What ls shows for a run whose state DB entry cannot be read (storage/state.py); never stored.
    UNKNOWN = "RUN_STATE_UNSPECIFIED"

    @classmethod
    def of(cls, value: int) -> RunState:
        """The state of a `pb.RunState` value; an unset one (a Finish without a state) is FINISHED."""
        return cls(pb.RunState.Name(cast(pb.RunState, value or pb.FINISHED)))

    @property
    def pb(self) -> pb.RunState:
        return cast(pb.RunState, pb.RunState.Value(self.value))

    @property
    def final(self) -> bool:
        """The run has ended: its file takes no more records."""
        return self is not RunState.RUNNING


class Mode(StrEnum):
    CLOUD = "MODE_CLOUD"
    OFFLINE = "MODE_OFFLINE"
    DISABLED = "MODE_DISABLED"
    # A RunStart that named no mode (a folder written by hand or by another tool): never
    # uploaded unless someone syncs it.
    UNSPECIFIED = "MODE_UNSPECIFIED"

    @classmethod
    def of(cls, value: int) -> Mode:
        return cls(pb.Mode.Name(cast(pb.Mode, value)))

    @property
    def pb(self) -> pb.Mode:
        return cast(pb.Mode, pb.Mode.Value(self.value))

    @property
    def label(self) -> str:
        """What users call it: `cloud`, `offline`, `disabled` (the SDK's `mode=` values)."""
        return self.value.removeprefix("MODE_").lower()
