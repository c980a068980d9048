"""The daemon's private state DB (plyvel/LevelDB at `<data root>/state/`).

Key layout (each prefix is its own sub-DB, so owners never step on each other's keys):

    run/<run_id>    -> JSON `RunInfo`: folder, mode, state, pids, writers, counts, last error
    cred/<run_id>   -> JSON `Cloud`: api host and key. Kept only here, never in a run folder.
    fwd/...         -> the forwarder's own keys (upload cursors, cloud ids): `State.sub(b"fwd/")`

Calls are synchronous and take microseconds (LevelDB memtable); the daemon calls them from its
event loop. Writes are not fsynced one by one: LevelDB's own log recovers them after a daemon
crash, and the backup file, not this DB, is the durable record of a run. A write that finds the
disk full raises `DiskFull` (storage/errors.py) and changes nothing; the same write works once
space is freed. (LevelDB refuses every later write only after a failed sync, which we never ask
for, or a failed background compaction: then only reopening the DB, a daemon restart, helps.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plyvel

from swanlabd.format import backup
from swanlabd.format.runstate import Mode, RunState
from swanlabd.local import redaction
from swanlabd.storage.errors import DiskFull
from swanlabd_pb import records_pb2 as pb

RUN_PREFIX = b"run/"
CRED_PREFIX = b"cred/"


@dataclass
class RunInfo:
    """What the daemon remembers about a run between restarts.

    `state` and `mode` are the run's enums (format/runstate.py), stored as their names. `pid` and
    `pid_started` identify the primary writer's process (pid plus its start time, so a reused pid
    is not mistaken for the client). `next_writer` is the id the next attaching process gets.
    """

    run_id: str
    run_dir: str
    project: str = ""
    experiment_name: str = ""
    mode: Mode = Mode.OFFLINE
    state: RunState = RunState.RUNNING
    created_ms: int = 0
    finished_ms: int = 0
    pid: int = 0
    pid_started: float = 0.0
    primary_writer: int = 1
    next_writer: int = 2
    records: int = 0
    backup_bytes: int = 0
    last_error: str = ""
    adopted: bool = False

    def __post_init__(self) -> None:
        # Names read back from JSON, or given by a caller, become the enums (ValueError if unknown).
        self.state, self.mode = RunState(self.state), Mode(self.mode)

    @classmethod
    def from_start(cls, run_id: str, run_dir: str, start: pb.RunStart, **fields: Any) -> RunInfo:
        """A run's entry, named and described by its RunStart record."""
        return cls(
            run_id=run_id,
            run_dir=run_dir,
            project=start.project,
            experiment_name=start.experiment_name,
            mode=Mode.of(start.mode),
            created_ms=start.start_time_ms,
            **fields,
        )

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> RunInfo:
        data = json.loads(raw)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class State:
    """The open state DB. One per daemon (LevelDB's own LOCK refuses a second opener)."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.db = plyvel.DB(str(path), create_if_missing=True)
        self.runs_db = self.db.prefixed_db(RUN_PREFIX)
        self.creds_db = self.db.prefixed_db(CRED_PREFIX)

    def sub(self, prefix: bytes) -> plyvel.PrefixedDB:
        """A prefixed view for another component's keys (the forwarder uses `b"fwd/"`)."""
        if prefix.startswith(RUN_PREFIX) or prefix.startswith(CRED_PREFIX):
            raise ValueError(f"prefix {prefix!r} overlaps the run registry")
        return self.db.prefixed_db(prefix)

    def get_run(self, run_id: str) -> RunInfo | None:
        raw = self.runs_db.get(run_id.encode())
        return RunInfo.from_json(raw) if raw is not None else None

    def put_run(self, info: RunInfo) -> None:
        with self._writing():
            self.runs_db.put(info.run_id.encode(), info.to_json())

    def update_run(self, run_id: str, **changes: Any) -> RunInfo:
        info = self.get_run(run_id)
        if info is None:
            raise KeyError(run_id)
        info = dataclasses.replace(info, **changes)
        self.put_run(info)
        return info

    def runs(self) -> Iterator[RunInfo]:
        for _, raw in self.runs_db.iterator():
            yield RunInfo.from_json(raw)

    def put_cloud(self, run_id: str, cloud: dict[str, str]) -> None:
        # Every API key that enters or leaves this store is redacted from the daemon's log.
        redaction.register_secret(cloud.get("api_key", ""))
        with self._writing():
            self.creds_db.put(run_id.encode(), json.dumps(cloud).encode())

    def get_cloud(self, run_id: str) -> dict[str, str] | None:
        raw = self.creds_db.get(run_id.encode())
        if raw is None:
            return None
        cloud: dict[str, str] = json.loads(raw)
        redaction.register_secret(cloud.get("api_key", ""))
        return cloud

    def close(self) -> None:
        if not self.db.closed:
            self.db.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A write: LevelDB's error for a full disk (only its message says so) becomes DiskFull."""
        try:
            yield
        except plyvel.IOError as exc:
            text = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            if not any(os.strerror(e) in text for e in backup.DISK_FULL_ERRNOS):
                raise
            raise DiskFull(self.path, text, "the state DB took nothing; write it again once space is freed") from exc

    # -- the forwarder's keys: fwd/on/<run_id> (forwarding on), fwd/up/<run_id> (upload state) --

    def get_forwarding(self, run_id: str) -> dict[str, str] | None:
        """The run's upload overrides (`project`, `workspace`) while forwarding is on for it; else None."""
        raw = self.sub(b"fwd/on/").get(run_id.encode())
        if raw is None:
            return None
        overrides: dict[str, str] = json.loads(raw)
        return overrides

    def put_forwarding(self, run_id: str, overrides: dict[str, str]) -> None:
        """Forwarding on for the run, until `delete_forwarding` (it survives restarts)."""
        with self._writing():
            self.sub(b"fwd/on/").put(run_id.encode(), json.dumps(overrides).encode())

    def delete_forwarding(self, run_id: str) -> None:
        with self._writing():
            self.sub(b"fwd/on/").delete(run_id.encode())

    def get_upload_state(self, run_id: str) -> bytes | None:
        """The forwarder's upload state of the run: JSON, upload/uploadstate.py's to read."""
        raw: bytes | None = self.sub(b"fwd/up/").get(run_id.encode())
        return raw

    def put_upload_state(self, run_id: str, raw: bytes) -> None:
        with self._writing():
            self.sub(b"fwd/up/").put(run_id.encode(), raw)
