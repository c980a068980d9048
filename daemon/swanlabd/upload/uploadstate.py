"""What the uploader remembers about one run's upload: cloud ids, cursors, keys, rejections.

It is kept twice, with the same content (docs/upload.md, "Cursors"):

- in the daemon's state DB (`State.put_upload_state`, key `fwd/up/<run_id>`), written after every
  batch the server accepted: cheap, and private to this host;
- in the run folder as `upload-state.json`, written at most once a second and when a lane goes
  idle: a folder copied to another host (`swanlabctl sync PATH`) then uploads into the same
  experiment and resumes where the first host stopped.

Neither copy holds a secret: no API key, no session id. A cursor is a byte offset into the
backup file (the resume point `backup.read_records` yields). Each lane's cursor means "every
record of my kinds before this offset is on the server, or was rejected and recorded in
`rejected`" (damaged bytes are recorded there too, by `LossRecorder`). Items after a cursor that
the server may already hold (a batch cut mid-record, a response lost after the server
committed) are recognised by `last_steps`, the highest step per key the server has, which is
also what the server's summaries report. `sent_seqs` tells those apart from points the server
skips because it holds their key's step from elsewhere (a resumed run's earlier writer, steps
that went backwards): a skipped point after a lane's `sent_seqs` was never sent, and is recorded
as a rejection, not dropped in silence.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from swanlabd.format import backup
from swanlabd.storage.state import State

__all__ = [
    "UPLOAD_STATE_FILENAME",
    "FORMAT_VERSION",
    "LaneCursor",
    "LossRecorder",
    "Rejection",
    "UploadState",
    "load",
    "read_file",
    "read_stored",
    "write_file",
]

log = logging.getLogger(__name__)

UPLOAD_STATE_FILENAME = "upload-state.json"
FORMAT_VERSION = 1
# A run's list of rejections keeps the first ones, the latest (in the last slot: what status
# and ls show) and a count: a server that refuses every batch of a long run must not grow the
# state without bound.
MAX_REJECTIONS = 100


@dataclass
class LaneCursor:
    """Where one lane stands: records of its kinds before `offset` are done.

    `seq` is the seq of the last record before `offset` (progress in records); `epoch` is the
    console lane's line counter at `offset` (the SDK numbers console lines 1, 2, 3...). `item`:
    how many items of the record at `offset` are done, when a batch ended inside a record (a
    ScalarRows record can hold more than one batch).
    """

    offset: int = 0
    seq: int = 0
    epoch: int = 0
    item: int = 0


@dataclass
class Rejection:
    """A request the server refused with a 4xx (or data that could not be sent), and why."""

    lane: str
    what: str
    status: int
    code: str
    message: str
    traceid: str = ""
    seqs: tuple[int, int] | None = None
    items: int = 0
    at_ms: int = 0

    def summary(self) -> str:
        if self.lane == BACKUP_LANE:
            # Never sent: the backup file lost it (damage, or the torn tail of a run that ended).
            return f"not uploaded, lost in the backup file: {self.message}"
        where = f" records {self.seqs[0]}-{self.seqs[1]}" if self.seqs else ""
        if not self.status:  # found here, not refused by the server: damaged bytes, skipped points
            return f"{self.lane}: {self.items} item(s){where} not uploaded: {self.code}: {self.message}"
        return (
            f"{self.lane}: {self.items} item(s){where} rejected by the server: "
            f"HTTP {self.status} {self.code}: {self.message}"
        )


@dataclass
class UploadState:
    """One run's upload state (see the module docstring)."""

    run_id: str
    api_host: str = ""
    web_host: str = ""
    workspace: str = ""
    project: str = ""
    project_cuid: str = ""
    experiment_cuid: str = ""
    experiment_name: str = ""
    experiment_created_ms: int = 0
    cursors: dict[str, LaneCursor] = field(default_factory=dict)
    # (writer, key id) -> [name, KeyType value, section(, x axis, hidden)]; KeyDefs are interned per writer.
    keys: dict[str, list[Any]] = field(default_factory=dict)
    # kind ("scalar", "media", "log") -> key -> highest step the server holds
    last_steps: dict[str, dict[str, int]] = field(default_factory=dict)
    # kind -> key -> highest step the experiment held when the run was resumed: points at or
    # below it are not sent (as the official SDK does). None: to take at the next setup.
    floor_steps: dict[str, dict[str, int]] | None = None
    # lane -> the highest record seq of a batch that lane sent (maybe before its cursor moved on)
    sent_seqs: dict[str, int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    rejected_total: int = 0
    finish_state: int = 0  # the run's Finish record (pb.RunState value) once a lane read it; 0 before
    finish_ms: int = 0
    finish_seq: int = 0  # that Finish record's seq: a later one is a resumed part's end
    finish_sent: str = ""  # the final state the server accepted ("FINISHED", ...), "" before
    complete: bool = False  # the whole file (as large as uploaded_bytes) and its final state are up
    uploaded_bytes: int = 0  # lowest lane cursor when last saved: the progress shown in status

    def cursor(self, lane: str) -> LaneCursor:
        return self.cursors.setdefault(lane, LaneCursor())

    def add_rejection(self, rejection: Rejection) -> None:
        self.rejected_total += 1
        if len(self.rejected) < MAX_REJECTIONS:
            self.rejected.append(rejection)
        else:
            self.rejected[-1] = rejection

    @property
    def last_rejection(self) -> str:
        """The latest rejection's summary ("" if none)."""
        return self.rejected[-1].summary() if self.rejected else ""

    def cloud_url(self) -> str:
        if not (self.web_host and self.workspace and self.project and self.experiment_cuid):
            return ""
        return f"{self.web_host}/@{self.workspace}/{self.project}/runs/{self.experiment_cuid}/chart"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["format_version"] = FORMAT_VERSION
        return data

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def from_dict(cls, data: Any) -> UploadState:
        """What `to_dict` wrote; ValueError ("upload state: ...") naming what is wrong with anything else.

        Checked field by field, so that a file of the wrong shape (a copied folder's, a hand
        edit's) is refused here, never met later by the uploader. Unknown fields are ignored.
        """
        data = _object(data, "it")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise ValueError(f"upload state: no {f.name!r}")
                continue
            value = data[f.name]
            reader = _FIELD_READERS.get(f.name)
            values[f.name] = reader(value) if reader else _typed(value, _SCALAR_TYPES[f.name], f.name)
        return cls(**values)

    @classmethod
    def from_json(cls, raw: bytes) -> UploadState:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"upload state: not JSON ({exc})") from None
        return cls.from_dict(data)


# -- reading an upload state back: every field checked (UploadState.from_dict) ---------------


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _typed(value: Any, expected: type, what: str) -> Any:
    # bool is an int to isinstance, and no int field takes one.
    if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
        raise ValueError(f"upload state: {what} is {_shown(value)}, not {_TYPE_NAMES[expected]}")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    checked: dict[str, Any] = _typed(value, dict, what)
    return checked


def _cursors(value: Any) -> dict[str, LaneCursor]:
    cursors = {}
    for lane, cursor in _object(value, "cursors").items():
        fields = _object(cursor, f"cursor {lane}")
        known = {f.name for f in dataclasses.fields(LaneCursor)}
        cursors[lane] = LaneCursor(**{k: _typed(v, int, f"cursor {lane}.{k}") for k, v in fields.items() if k in known})
    return cursors


def _keys(value: Any) -> dict[str, list[Any]]:
    keys = _object(value, "keys")
    for wk, kdef in keys.items():
        writer, _, kid = wk.partition(":")
        if not (writer.isdigit() and kid.isdigit()):
            raise ValueError(f"upload state: key {wk!r} is not 'writer:key id'")
        if not (
            isinstance(kdef, list)
            and len(kdef) in (3, 5)
            and isinstance(kdef[0], str)
            and type(kdef[1]) is int
            and isinstance(kdef[2], str)
            and (len(kdef) == 3 or (isinstance(kdef[3], str) and type(kdef[4]) is bool))
        ):
            raise ValueError(f"upload state: key {wk} is {_shown(kdef)}, not [name, type, section(, x axis, hidden)]")
    return keys


def _last_steps(value: Any, what: str = "last_steps") -> dict[str, dict[str, int]]:
    return {
        kind: {key: _typed(step, int, f"{what} of {key}") for key, step in _object(steps, kind).items()}
        for kind, steps in _object(value, what).items()
    }


def _floor_steps(value: Any) -> dict[str, dict[str, int]] | None:
    return None if value is None else _last_steps(value, "floor_steps")


def _sent_seqs(value: Any) -> dict[str, int]:
    return {lane: _typed(seq, int, f"sent seq of {lane}") for lane, seq in _object(value, "sent_seqs").items()}


def _columns(value: Any) -> list[str]:
    return [_typed(column, str, "a column") for column in _typed(value, list, "columns")]


def _rejected(value: Any) -> list[Rejection]:
    rejected = []
    for item in _typed(value, list, "rejected"):
        fields = _object(item, "a rejection")
        try:
            rejection = Rejection(**{k: v for k, v in fields.items() if k in _REJECTION_FIELDS})
        except TypeError as exc:
            raise ValueError(f"upload state: a rejection: {exc}") from None
        seqs: Any = rejection.seqs
        if seqs is not None and not (isinstance(seqs, list) and len(seqs) == 2 and all(type(n) is int for n in seqs)):
            raise ValueError(f"upload state: a rejection's seqs are {_shown(seqs)}, not [first, last]")
        rejection.seqs = (seqs[0], seqs[1]) if seqs else None
        for name, expected in _REJECTION_TYPES.items():
            _typed(getattr(rejection, name), expected, f"a rejection's {name}")
        rejected.append(rejection)
    return rejected


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "an object", list: "a list"}
_FIELD_READERS = {
    "cursors": _cursors,
    "keys": _keys,
    "last_steps": _last_steps,
    "floor_steps": _floor_steps,
    "sent_seqs": _sent_seqs,
    "columns": _columns,
    "rejected": _rejected,
}
_SCALAR_TYPES: dict[str, type] = {
    name: hint for name, hint in get_type_hints(UploadState).items() if name not in _FIELD_READERS
}
_REJECTION_FIELDS = {f.name for f in dataclasses.fields(Rejection)}
_REJECTION_TYPES: dict[str, type] = {name: hint for name, hint in get_type_hints(Rejection).items() if name != "seqs"}


def read_file(run_dir: Path) -> UploadState | None:
    """The run folder's upload-state.json, or None if it is missing or unreadable (logged: it is ignored)."""
    path = run_dir / UPLOAD_STATE_FILENAME
    try:
        return UploadState.from_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("%s ignored: %s", path, exc)
        return None


def write_file(run_dir: Path, state: UploadState) -> None:
    """Replace the run folder's upload-state.json atomically (write a temp file, 0600 as mkstemp makes it, rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".upload-state.", dir=run_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(state.to_json())
        os.replace(tmp, run_dir / UPLOAD_STATE_FILENAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_stored(state: State, run_id: str) -> UploadState | None:
    """The state DB's copy, or None if there is none or it is unreadable."""
    raw = state.get_upload_state(run_id)
    if raw is None:
        return None
    try:
        return UploadState.from_json(raw)
    except ValueError:
        return None


def load(state: State, run_id: str, run_dir: Path) -> UploadState:
    """The state DB's copy; else the folder's upload-state.json (a folder copied here); else a new one."""
    raw = state.get_upload_state(run_id)
    if raw is not None:
        try:
            return UploadState.from_json(raw)
        except ValueError as exc:
            log.warning("run %s: its upload state in the state DB ignored (%s); reading the folder's", run_id, exc)
    from_file = read_file(run_dir)
    if from_file is not None and from_file.run_id == run_id:
        return from_file
    return UploadState(run_id=run_id)


BACKUP_LANE = "backup"
"""The `lane` of a rejection for what the backup file lost: never sent, not refused by the server."""


class LossRecorder:
    """`backup.read_records`' reporter: damaged bytes become a rejection in `state`, once per offset.

    `seen` is shared by every read of one upload, so lanes that read the same damage report it once.
    """

    def __init__(self, state: UploadState, seen: set[int]) -> None:
        self.state = state
        self.seen = seen

    def lost(
        self,
        nbytes: int,
        reason: str,
        offset: int,
        seqs: tuple[int, int] | None,
        pieces: tuple[backup.PieceLoss, ...] = (),
    ) -> None:
        if offset in self.seen:
            return
        self.seen.add(offset)
        message = backup.describe_loss(nbytes, reason, offset, seqs, pieces)
        self.state.add_rejection(
            Rejection(BACKUP_LANE, "read", 0, "damaged", message, "", seqs, 0, int(time.time() * 1000))
        )

    def torn(self, offset: int, nbytes: int, last_seq: int) -> None:
        """The file of a run that has ended stops inside a record: nothing will complete it."""
        if offset in self.seen:
            return
        self.seen.add(offset)
        message = (
            f"{nbytes} bytes at offset {offset} (torn tail: the run ended but its file stops inside a record); "
            f"the records after seq {last_seq} are lost (how many is unknown)"
        )
        if any(r.message == message for r in self.state.rejected):  # said before a restart
            return
        self.state.add_rejection(
            Rejection(BACKUP_LANE, "read", 0, "torn tail", message, "", None, 0, int(time.time() * 1000))
        )
