"""The daemon's private state DB (plyvel/LevelDB at `<data root>/state/`).

Key layout (each prefix is its own sub-DB, so owners never step on each other's keys):

    run/<run_id>    -> JSON `RunInfo`: folder, mode, state, pids, writers, counts, last error
    cred/<run_id>   -> JSON `Cloud`: api host and key. Kept only here, never in a run folder.
    fwd/...         -> the uploader's own keys (upload cursors, cloud ids): `State.sub(b"fwd/")`

Calls are synchronous and take microseconds (LevelDB memtable); the daemon calls them from its
event loop. Writes are not fsynced one by one: LevelDB's own log recovers them after a daemon
crash, and the backup file, not this DB, is the durable record of a run. A write that finds the
disk full raises `DiskFull` (storage/errors.py) and changes nothing; the same write works once
space is freed. (LevelDB refuses every later write only after a failed sync, which we never ask
for, or a failed background compaction: then only reopening the DB, a daemon restart, helps.)

A damaged entry (not JSON, not an object, a field missing or of the wrong type, an unknown state
or mode) is that one run's problem, never the daemon's: `runs()` skips it (logged once),
`damaged_runs()` lists it with the reason for ls, and `get_run` raises `DamagedRunEntry`, so a
request naming the run fails with that reason. A damaged `cred/` or `fwd/on/` entry reads as
absent, with a warning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

import plyvel

from swanlabd.format import backup
from swanlabd.format.runstate import Mode, RunState
from swanlabd.local import redaction
from swanlabd.storage.errors import DamagedRunEntry, DiskFull
from swanlabd_pb import records_pb2 as pb

log = logging.getLogger(__name__)

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
    # [offset, bytes, last seq before it] of a torn tail cut off an adopted folder's file (else
    # empty): records its writer never finished, lost before this daemon saw them; the uploader
    # reports them.
    cut_tail: list[int] = dataclasses.field(default_factory=list)
    source: str = ""  # the tool `swanlabctl sync` converted the run from ("swanlab", ...); "" for ours
    # Where the write holding the last SourceCursor began in the backup: the next sync reads the
    # file from here, not from 0 (the cursor itself is only in the backup, the source of truth).
    source_at: int = 0
    # Writer id (as a string: a JSON object's keys) -> the path of its journal file, named by its
    # StartRun (docs/journal.md): where the crash watch reads a dead writer's unacked rows, even
    # after a daemon restart. An entry is removed when its file is.
    journals: dict[str, str] = dataclasses.field(default_factory=dict)
    # Writer id (as a string) -> [pid, its start time] of each other process whose init() joined
    # the run while a live process wrote it (resume="allow", as torchrun ranks do): a peer. The
    # run ends at the finish of the last of them and its primary writer (docs/daemon.md, "Peers").
    peers: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        # Names read back from JSON, or given by a caller, become the enums (ValueError if unknown).
        self.state, self.mode = RunState(self.state), Mode(self.mode)
        if not all(isinstance(k, str) and k.isdigit() and isinstance(v, str) for k, v in self.journals.items()):
            raise ValueError(f"journals is {self.journals!r}, not writer ids to paths")
        if not all(
            isinstance(k, str) and k.isdigit() and isinstance(v, list) and len(v) == 2 and _numbers(v)
            for k, v in self.peers.items()
        ):
            raise ValueError(f"peers is {self.peers!r}, not writer ids to [pid, start time]")
        if self.cut_tail and (len(self.cut_tail) != 3 or not all(type(n) is int for n in self.cut_tail)):
            raise ValueError(f"cut_tail is {self.cut_tail!r}, not [offset, bytes, last seq]")

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
        """The entry `to_json` wrote; ValueError saying what is wrong with anything else.

        Fields it does not know (from a newer daemon) are ignored.
        """
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise ValueError(f"no {f.name!r}")
                continue
            value, expected = data[f.name], _JSON_TYPES[f.name]
            # bool is an int to isinstance, and no field that is not a bool takes one.
            if isinstance(value, bool) != (expected[0] is bool) or not isinstance(value, expected):
                raise ValueError(f"{f.name!r} is {value!r}, not a {expected[-1].__name__}")
            values[f.name] = value
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"unknown state or mode, or a bad field ({exc})") from None


# The types of RunInfo's fields in its JSON: enums by name; a whole number is a fine float.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    name: {
        Mode: (str,),
        RunState: (str,),
        float: (int, float),
        list[int]: (list,),
        dict[str, str]: (dict,),
        dict[str, list[float]]: (dict,),
    }.get(hint, (hint,))
    for name, hint in get_type_hints(RunInfo).items()
}


class State:
    """The open state DB. One per daemon (LevelDB's own LOCK refuses a second opener)."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.db = plyvel.DB(str(path), create_if_missing=True)
        self.runs_db = self.db.prefixed_db(RUN_PREFIX)
        self.creds_db = self.db.prefixed_db(CRED_PREFIX)
        self._warned: set[str] = set()  # damaged run entries logged already

    def sub(self, prefix: bytes) -> plyvel.PrefixedDB:
        """A prefixed view for another component's keys (the uploader uses `b"fwd/"`)."""
        if prefix.startswith(RUN_PREFIX) or prefix.startswith(CRED_PREFIX):
            raise ValueError(f"prefix {prefix!r} overlaps the run registry")
        return self.db.prefixed_db(prefix)

    def get_run(self, run_id: str) -> RunInfo | None:
        """The run's entry, None if there is none; DamagedRunEntry if it cannot be read."""
        raw = self.runs_db.get(run_id.encode())
        return self._read(run_id, raw) if raw is not None else None

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
        """Every run whose entry can be read; a damaged one is skipped (see `damaged_runs`)."""
        for key, raw in self.runs_db.iterator():
            run_id = key.decode(errors="replace")
            try:
                info = self._read(run_id, raw)
            except DamagedRunEntry as exc:
                if run_id not in self._warned:
                    self._warned.add(run_id)
                    log.warning("%s", exc)
                continue
            yield info

    def damaged_runs(self) -> list[RunInfo]:
        """Stand-ins for the entries `runs` skips, for ls: the run id, its folder if that much can
        be read, state and mode unknown, and in `last_error` what is wrong and that it is skipped."""
        stand_ins = []
        for key, raw in self.runs_db.iterator():
            run_id = key.decode(errors="replace")
            try:
                self._read(run_id, raw)
            except DamagedRunEntry as exc:
                stand_ins.append(
                    RunInfo(
                        run_id=run_id,
                        run_dir=exc.run_dir,
                        state=RunState.UNKNOWN,
                        mode=Mode.UNSPECIFIED,
                        last_error=str(exc),
                    )
                )
        return stand_ins

    @staticmethod
    def _read(run_id: str, raw: bytes) -> RunInfo:
        try:
            info = RunInfo.from_json(raw)
        except ValueError as exc:
            raise DamagedRunEntry(run_id, str(exc), _run_dir_in(raw)) from None
        if info.run_id != run_id:
            raise DamagedRunEntry(run_id, f"it names run {info.run_id!r}", info.run_dir)
        return info

    def put_cloud(self, run_id: str, cloud: dict[str, str]) -> None:
        # Every API key that enters or leaves this store is redacted from the daemon's log.
        redaction.register_secret(cloud.get("api_key", ""))
        with self._writing():
            self.creds_db.put(run_id.encode(), json.dumps(cloud).encode())

    def get_cloud(self, run_id: str) -> dict[str, str] | None:
        raw = self.creds_db.get(run_id.encode())
        if raw is None:
            return None
        cloud = _json_object(raw)
        if cloud is None:
            # As if none were kept: the run asks for a key, and the next `sync` stores a good one.
            log.warning("run %s: its credentials in the state DB are damaged; ignored", run_id)
            return None
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

    # -- the uploader's keys: fwd/on/<run_id> (uploading on), fwd/up/<run_id> (upload state) --

    def get_upload_on(self, run_id: str) -> dict[str, str] | None:
        """The run's upload overrides (`project`, `workspace`) while uploading is on for it; else None."""
        raw = self.sub(b"fwd/on/").get(run_id.encode())
        if raw is None:
            return None
        overrides = _json_object(raw)
        if overrides is None:
            log.warning("run %s: its upload overrides in the state DB are damaged; uploading without", run_id)
            return {}
        return overrides

    def put_upload_on(self, run_id: str, overrides: dict[str, str]) -> None:
        """Uploading on for the run, until `delete_upload_on` (it survives restarts)."""
        with self._writing():
            self.sub(b"fwd/on/").put(run_id.encode(), json.dumps(overrides).encode())

    def delete_upload_on(self, run_id: str) -> None:
        with self._writing():
            self.sub(b"fwd/on/").delete(run_id.encode())

    def get_upload_state(self, run_id: str) -> bytes | None:
        """The uploader's upload state of the run: JSON, upload/uploadstate.py's to read."""
        raw: bytes | None = self.sub(b"fwd/up/").get(run_id.encode())
        return raw

    def put_upload_state(self, run_id: str, raw: bytes) -> None:
        with self._writing():
            self.sub(b"fwd/up/").put(run_id.encode(), raw)


def _numbers(values: list[Any]) -> bool:
    """True if every item is an int or float (bool is not: JSON's true is no pid)."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _json_object(raw: bytes) -> dict[str, str] | None:
    """A JSON object of strings (credentials, overrides); None if `raw` is anything else."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return value


def _run_dir_in(raw: bytes) -> str:
    """The folder a damaged run entry names, if that much of it can be read; else ""."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return ""
    run_dir = value.get("run_dir") if isinstance(value, dict) else None
    return run_dir if isinstance(run_dir, str) else ""
