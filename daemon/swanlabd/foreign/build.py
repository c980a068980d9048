"""What every reader does with its tool's records: our records for one chunk at a time.

A reader parses its format and calls a `Builder`: `key` interns a metric name, `scalar` packs
points into ScalarRows (as our client cuts them), `media` names files to copy in, `add` appends
any other record. The builder is also the framing's damage reporter: a dropped stretch is named,
once the next intact record is read, by the tool's record numbers and the steps it lay between.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from swanlabd.foreign import framing
from swanlabd.foreign.base import Chunk
from swanlabd.format.keytypes import SYSTEM_PREFIX
from swanlabd_pb import records_pb2 as pb

ROW_VALUES = 16_384  # scalars per ScalarRows record, as our client cuts them
CUID_LENGTH = 21  # SwanLab experiment cuids are 21 lowercase alphanumerics
_CUID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def cuid(*parts: str) -> str:
    """A run id shaped like a SwanLab cuid, derived from `parts` (a tool's name, then what
    identifies its run): the same run gets the same id, so lands in the same experiment, on
    every sync."""
    n = int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(CUID_LENGTH):
        n, i = divmod(n, len(_CUID_ALPHABET))
        chars.append(_CUID_ALPHABET[i])
    return "".join(chars)


@dataclass
class MediaFile:
    """One file of a media value: `source` is the tool's file, or the bytes to write (a text)."""

    source: Path | bytes
    rel: str  # where it goes in the run folder: media/<type>/<file>
    caption: str = ""
    sha256: str = ""
    size: int = 0


@dataclass
class _Damage:
    """A dropped stretch, and what was read last before it."""

    offset: int
    nbytes: int
    reason: str
    num: int | None  # the tool's number of the last intact record before it
    step: int  # the last step before it
    records: str | None = None  # which records it held, once the next intact record is read


class Builder:
    """Our records for a stretch of the source, cut into chunks; key ids last the whole sync
    (each sync is one writer of the run, so its key ids start at 1)."""

    def __init__(self, last_num: int | None, last_step: int = -1) -> None:
        self.keys: dict[str, tuple[int, int]] = {}  # name -> (our key id, our KeyType)
        self.last_num = last_num  # the tool's number of the last record read
        self.last_step = last_step
        self.damage: list[_Damage] = []  # stretches read past, not reported yet
        self.damage_end = 0
        self._new()

    def _new(self) -> None:
        self.records: list[pb.Record] = []
        self.files: list[tuple[Path | bytes, str]] = []
        self.rows: pb.ScalarRows | None = None
        self.rows_system = False
        self.rows_time = 0
        self.finish: pb.Finish | None = None
        self.count = 0  # the tool's records read into this chunk
        self.points = 0
        self.losses: list[str] = []
        self.unknown: Counter[str] = Counter()

    @property
    def idle(self) -> bool:
        return not (self.count or self.losses or self.damage or self.unknown)

    def chunk(self, cursor: str) -> Chunk:
        """Everything built since the last chunk, with the cursor that follows it."""
        self.flush_rows()
        self.close_damage(None, None)
        chunk = Chunk(
            records=self.records,
            cursor=cursor,
            files=self.files,
            finish=self.finish,
            source_records=self.count,
            points=self.points,
            losses=self.losses,
        )
        chunk.unknown.update(self.unknown)
        self._new()
        return chunk

    # -- damage (framing.Reporter) ----------------------------------------------------------

    def damaged(self, offset: int, nbytes: int, reason: str) -> None:
        self.damage_end = max(self.damage_end, offset + nbytes)
        last = self.damage[-1] if self.damage else None
        if last is not None and last.records is None and last.offset + last.nbytes >= offset - framing.HEADER_SIZE:
            last.nbytes = offset + nbytes - last.offset  # one stretch, reported once: it may span several drops
        else:
            self.damage.append(_Damage(offset, nbytes, reason, self.last_num, self.last_step))

    def read(self, num: int | None, step: int | None) -> None:
        """An intact record numbered `num` (None: the tool does not number it) at `step` (None: a
        record of no step) was read: name the damage before it, and count it."""
        if self.damage:
            self.close_damage(num, step)
        if num is not None:
            self.last_num = num
        self.count += 1

    def close_damage(self, num: int | None, step: int | None) -> None:
        """Name what the damage before this intact record held: the tool's nums between, and the
        steps between once a record with a step is read (None, None: the end of what is read)."""
        for d in self.damage:
            if d.records is None:
                if num is not None and d.num is not None:
                    d.records = f"records {d.num + 1}-{num - 1}" if num - 1 > d.num else "no whole record"
                elif num is None and d.num is None:
                    d.records = "the records in it"  # the tool numbers none (TensorBoard), or none was read yet
                else:
                    d.records = "records after the last one read" if num is None else f"records before {num}"
        if step is None and num is not None:
            return  # a record of no step (a config, a console line): the steps lost end further on
        for d in self.damage:
            if step is not None:
                steps = f"steps {max(d.step, 0)}-{step}"
            else:
                steps = f"steps after {d.step}" if d.step >= 0 else "steps unknown"
            self.losses.append(f"{d.nbytes} bytes at offset {d.offset} ({d.reason}): {d.records} lost, {steps}")
        self.damage = []

    # -- records ------------------------------------------------------------------------------

    def add(self, record: pb.Record) -> None:
        """A record that is not a scalar point (console, config, files...), in source order."""
        self.flush_rows()
        self.records.append(record)

    def key(self, name: str, key_type: int, section: str = "") -> tuple[int, int]:
        """The key's (id, type), defined on first use (a type given later does not change it)."""
        known = self.keys.get(name)
        if known is not None:
            return known
        if key_type == pb.FLOAT and name.startswith(SYSTEM_PREFIX):
            key_type = pb.SYSTEM
        key = (len(self.keys) + 1, key_type)
        self.keys[name] = key
        kdef = pb.KeyDef(id=key[0], name=name, type=pb.KeyType.Name(key_type), section=section)
        self.add(pb.Record(keys=pb.KeyDefs(keys=[kdef])))
        return key

    def scalar(self, name: str, step: int, value: float, time_ms: int, point_ms: int = 0) -> None:
        """One point; `point_ms` is its own time (0: the record's)."""
        key_id, key_type = self.key(name, pb.FLOAT)
        system = key_type == pb.SYSTEM
        rows = self.rows
        if rows is None or system != self.rows_system or len(rows.values) >= ROW_VALUES:
            self.flush_rows()
            rows = self.rows = pb.ScalarRows()
            self.rows_system, self.rows_time = system, time_ms
        if rows.steps and rows.steps[-1] == step and key_id not in rows.key_ids[-rows.row_sizes[-1] :]:
            rows.row_sizes[-1] += 1
        else:
            rows.steps.append(step)
            rows.row_sizes.append(1)
            rows.time_deltas_ms.append(point_ms - self.rows_time if point_ms else 0)
        rows.key_ids.append(key_id)
        rows.values.append(value)
        self.points += 1
        self.last_step = max(self.last_step, step)

    def flush_rows(self) -> None:
        if self.rows is not None and self.rows.steps:
            record = pb.Record(time_ms=self.rows_time)
            (record.system if self.rows_system else record.scalars).CopyFrom(self.rows)
            self.records.append(record)
        self.rows = None

    def media(self, name: str, key_type: int, step: int, files: list[MediaFile], time_ms: int) -> None:
        """One media value (a list of files) of key `name` at `step`; the files are copied in."""
        key_id, _ = self.key(name, key_type)
        items = []
        for f in files:
            self.files.append((f.source, f.rel))
            items.append(
                pb.MediaRef(key_id=key_id, step=step, path=f.rel, caption=f.caption, sha256=f.sha256, size=f.size)
            )
        if items:
            self.add(pb.Record(time_ms=time_ms, media=pb.MediaRefs(items=items)))
        self.last_step = max(self.last_step, step)
