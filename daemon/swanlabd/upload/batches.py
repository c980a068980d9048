"""The five batch builders: a lane's records in, its next batch out (docs/upload.md, "The unit that flows").

Pure code: no I/O, no event loop, no uploader. Each builder takes the records a lane reads from
its cursor, as `(record, start offset, end offset)` in file order, and returns a `Batch`: the
items to send and the cursor to save once the server has them. The caller's records must have
taught the `KeyTable` each KeyDefs record before the records that use its keys (the uploader's
reader does), and the builder stops reading at its size limit, so a lane reads no further than
one batch.

    scalar_batch   ScalarRows (`scalars`, `system`) of one scalar lane's keys -> JSON text points
    console_batch  ConsoleLines -> JSON text log lines, numbered 1, 2, 3... in the run
    media_batch    MediaRefs -> the files to upload, then `media_metrics` for the metric call
    files_batch    the next SavedFile record (a batch of one: `full` when there was one)
    profile_batch  the next Config, Metadata or Requirements record, as profile parts (the same)

A scalar point goes up unless its step of its key went up before (`sent` in, `Batch.sent`
out), or is at or below where a resumed run began (`floor`): steps may go back, as the official
SDK lets them. A record the lane may have sent already (a batch resent after a lost answer)
sends only steps above the highest the server holds (`last` in, `Batch.steps` out).
"""

from __future__ import annotations

import bisect
import json
import math
import mimetypes
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from typing import Any, Literal, NamedTuple

from swanlabd.format import scalarcodec
from swanlabd.format.keytypes import SYSTEM_PREFIX
from swanlabd.upload import cloudapi
from swanlabd.upload.stepset import StepSet
from swanlabd.upload.uploadstate import LaneCursor
from swanlabd_pb import records_pb2 as pb

__all__ = [
    "LANES",
    "MEDIA_BATCH",
    "SCALAR",
    "SCALAR_LANES",
    "Batch",
    "KeyTable",
    "MediaItem",
    "ProfileKind",
    "Records",
    "columns",
    "console_batch",
    "error_line",
    "files_batch",
    "media_batch",
    "media_metrics",
    "media_type",
    "profile_batch",
    "scalar_batch",
]

# Scalar keys are spread over SCALAR_LANES lanes by a hash of the key, so a backlog goes up as
# several requests in flight while each key's points still reach the server in step order
# (which is what makes the server's "last step per key" summaries an exact resume point).
SCALAR_LANES = 4
SCALAR = tuple(f"scalar{i}" for i in range(SCALAR_LANES))
LANES = ("profile", *SCALAR, "console", "media", "files")
MEDIA_BATCH = 64
PROFILE_KINDS = {"config", "metadata", "requirements"}

ProfileKind = Literal["config", "metadata", "requirements", "conda"]
# (record, offset where it starts, offset just after it), in file order from a lane's cursor.
Records = Iterable[tuple[pb.Record, int, int]]
KeyDef = tuple[str, int, str]  # name, KeyType value, section


@dataclass
class Batch:
    """What a lane read from its cursor: items to send and where the cursor goes once they are in.

    `items` are encoded as the server takes them (JSON text), except a media batch's, which are
    the object paths until `media_metrics` encodes them, and a files or profile batch's, the
    record's kind; their count is what a rejection reports.
    """

    cursor: LaneCursor
    items: list[str] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)  # key -> highest step in this batch
    sent: dict[str, StepSet] = field(default_factory=dict)  # key -> the steps this batch sends (scalars)
    keys: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (KeyType, section) used
    seqs: tuple[int, int] | None = None
    full: bool = False  # stopped at the size limit: more may follow right away
    # key -> [points, lowest step, highest step] never sent: the server holds the key's step
    # from elsewhere (see `skip`)
    skipped: dict[str, list[int]] = field(default_factory=dict)
    skipped_seqs: tuple[int, int] | None = None  # the records those points were in

    def skip(self, name: str, step: int, seq: int, sent_seq: int) -> None:
        """A point at a step the server holds: counted unless its record may have gone up already
        (seq <= `sent_seq`: a batch resent after a lost answer), which makes it no loss."""
        if seq <= sent_seq:
            return
        self.skipped_seqs = (self.skipped_seqs[0] if self.skipped_seqs else seq, seq)
        counted = self.skipped.get(name)
        if counted is None:
            self.skipped[name] = [1, step, step]
        else:
            counted[0] += 1
            counted[1], counted[2] = min(counted[1], step), max(counted[2], step)

    def skipped_summary(self) -> tuple[int, str]:
        """(points skipped, what they were: "loss (steps 5-9), acc (step 3)")."""
        parts = [
            f"{name} (step {lo})" if lo == hi else f"{name} (steps {lo}-{hi})"
            for name, (_, lo, hi) in sorted(self.skipped.items())
        ]
        return sum(n for n, _, _ in self.skipped.values()), ", ".join(parts)


class KeyTable:
    """Each writer's interned keys (from KeyDefs records) and each key's scalar lane."""

    def __init__(self) -> None:
        self._defs: dict[int, dict[int, KeyDef]] = {}  # writer -> key id -> (name, KeyType, section)
        self._parts: dict[int, dict[int, int]] = {}  # writer -> key id -> scalar lane index
        # key name -> (x axis, hidden), for the keys define_metric() gave either: `columns` sends them
        self.shapes: dict[str, tuple[str, bool]] = {}

    @classmethod
    def from_stored(cls, stored: Mapping[str, Sequence[Any]]) -> KeyTable:
        """The table an upload state keeps (`"writer:key id" -> [name, KeyType, section(, x axis, hidden)]`)."""
        table = cls()
        for wk, (name, ktype, section, *shape) in stored.items():
            writer, kid = wk.split(":")
            table.add(int(writer), int(kid), name, int(ktype), section, *shape)
        return table

    def add(
        self, writer: int, kid: int, name: str, ktype: int, section: str, x_axis: str = "", hidden: bool = False
    ) -> None:
        self._defs.setdefault(writer, {})[kid] = (name, ktype, section)
        self._parts.setdefault(writer, {})[kid] = zlib.crc32(name.encode()) % SCALAR_LANES
        if x_axis or hidden:
            self.shapes[name] = (x_axis, hidden)

    def learn(self, rec: pb.Record) -> list[pb.KeyDef]:
        """Add a KeyDefs record's keys the table did not have; return those."""
        known = self._defs.get(rec.writer, {})
        new = [k for k in rec.keys.keys if k.id not in known]
        for k in new:
            self.add(rec.writer, k.id, k.name, k.type, k.section, k.x_axis, k.hidden)
        return new

    def defs(self, writer: int) -> dict[int, KeyDef]:
        return self._defs.get(writer, {})

    def parts(self, writer: int) -> dict[int, int]:
        return self._parts.get(writer, {})


# -- scalar lanes: user scalars and system metrics -------------------------------------------


@dataclass
class _Layout:
    """Which items of a ScalarRows record belong to one scalar lane, and in which rows."""

    key_ids: list[int]
    sizes: list[int]
    known: int  # how many keys the writer had defined: a new KeyDefs can make more items the lane's
    mine: list[int]  # item indexes of the lane's keys
    rows: list[int]  # the row of each
    kids: list[int]  # the key id of each
    no_repeats: bool  # no key of the lane twice in one row
    period: int  # k when every row holds the same k keys of the lane in the same order, else 0

    @classmethod
    def of(cls, key_ids: list[int], sizes: list[int], parts: dict[int, int], part: int) -> _Layout:
        mine = list(compress(range(len(key_ids)), map(part.__eq__, map(parts.get, key_ids))))
        item_rows = list(chain.from_iterable(map(repeat, range(len(sizes)), sizes)))
        rows = list(map(item_rows.__getitem__, mine))
        kids = list(map(key_ids.__getitem__, mine))
        no_repeats = len(set(zip(kids, rows, strict=True))) == len(mine)
        k = len(kids) // len(sizes) if sizes else 0
        period = k if k and no_repeats and kids == kids[:k] * len(sizes) else 0
        return cls(key_ids, sizes, len(parts), mine, rows, kids, no_repeats, period)


def scalar_batch(
    records: Records,
    keys: KeyTable,
    part: int,
    cursor: LaneCursor,
    last: Mapping[str, int],
    limit: int,
    sent_seq: int = 0,
    sent: Mapping[str, StepSet] | None = None,
    floor: Mapping[str, int] | None = None,
    doubt_end: int = 0,
) -> Batch:
    """Up to `limit` new points of scalar lane `part`'s keys, as JSON text, from `cursor`.

    `last`: the highest step per key the server holds; `sent`: the steps per key the lane sent
    in this upload; `floor`: per key, the highest step the experiment held when the run was
    resumed. A point is not sent if its step was sent, or is at or below the floor, or, in a
    record at or before `sent_seq` (the lane may have sent it) or starting before `doubt_end`
    (in the file before this upload began: an earlier one may have sent it), at or below the
    highest step held or sent; then it is counted in `Batch.skipped`, unless the lane may have
    sent it.
    The hot loop of a backlog drain. Each scalar lane sees every record, and reading a protobuf
    column costs per element, so a record's layout (which items are this lane's, in which rows)
    is worked out once and reused while the records repeat it, as a training loop's do. A record
    whose points are all new (steps rising, no key twice in a row, all above the keys' highest
    steps) is encoded column by column; any other goes point by point. Time strings are memoised
    per millisecond.
    """
    batch = Batch(cursor=LaneCursor(cursor.offset, cursor.seq))
    items, steps, used, mine_sent = batch.items, batch.steps, batch.keys, batch.sent
    sent, floor = sent or {}, floor or {}
    # writer -> key id -> name, and -> name as JSON; steps holds each seen key's last step so far
    names: dict[int, dict[int, str]] = {}
    jsons: dict[int, dict[int, str]] = {}
    layouts: dict[int, _Layout] = {}
    times: dict[int, str] = {}
    skip = cursor.item
    for rec, start, end in records:
        kind = rec.WhichOneof("kind")
        if kind == "scalars" or kind == "system":
            rows = scalarcodec.decode(rec.system if kind == "system" else rec.scalars)
            writer = rec.writer
            layout = layouts.get(writer)
            key_ids, sizes = rows.key_ids[:], rows.row_sizes[:]
            parts = keys.parts(writer)
            if layout is None or layout.key_ids != key_ids or layout.sizes != sizes or layout.known != len(parts):
                layout = layouts[writer] = _Layout.of(key_ids, sizes, parts, part)
            mine, mine_rows, mine_kids = layout.mine, layout.rows, layout.kids
            if skip:
                first = bisect.bisect_left(mine, skip)
                mine, mine_rows, mine_kids = mine[first:], mine_rows[first:], mine_kids[first:]
            if mine:
                row_steps = rows.steps[:]
                mine_steps = list(map(row_steps.__getitem__, mine_rows))
                table = keys.defs(writer)
                wnames = names.setdefault(writer, {})
                wjsons = jsons.setdefault(writer, {})
                kids = set(mine_kids)
                for kid in kids - wnames.keys():
                    name = wnames[kid] = table[kid][0]
                    wjsons[kid] = _json_str(name)
                    steps.setdefault(name, max(last.get(name, -1), floor.get(name, -1)))
                deltas = rows.time_deltas_ms[:]
                mine_ms = [rec.time_ms + deltas[r] for r in mine_rows] if deltas else None
                if (
                    layout.no_repeats
                    and all(map(int.__lt__, row_steps, row_steps[1:]))
                    and mine_steps[0] > max(steps[wnames[kid]] for kid in kids)
                ):
                    room = limit - len(items)
                    cut = mine[room] if room < len(mine) else None  # the first item that does not fit
                    mine, mine_kids, mine_steps = mine[:room], mine_kids[:room], mine_steps[:room]
                    if mine:
                        _encode(
                            batch,
                            rec,
                            kind,
                            table,
                            wnames,
                            wjsons,
                            times,
                            mine,
                            mine_kids,
                            mine_steps,
                            mine_ms[:room] if mine_ms else None,
                            rows.values,
                        )
                        _note_rising(mine_sent, wnames, mine_kids, mine_steps, layout.period)
                    if cut is not None:
                        batch.full = True
                        batch.cursor = LaneCursor(start, batch.cursor.seq, 0, cut)
                        return batch
                else:
                    values = rows.values
                    for n, i in enumerate(mine):
                        kid = mine_kids[n]
                        name = wnames[kid]
                        step = mine_steps[n]
                        if step <= steps[name] and (
                            rec.seq <= sent_seq
                            or start < doubt_end
                            or step <= floor.get(name, -1)
                            or step in sent.get(name, ())
                            or step in mine_sent.get(name, ())
                        ):
                            batch.skip(name, step, rec.seq, sent_seq)
                            continue
                        if name not in used:
                            kdef = table[kid]
                            used[name] = (kdef[1] or (pb.SYSTEM if kind == "system" else pb.FLOAT), kdef[2])
                        if len(items) >= limit:
                            batch.full = True
                            batch.cursor = LaneCursor(start, batch.cursor.seq, 0, i)
                            return batch
                        value = values[i]
                        data = repr(value) if value - value == 0.0 else '"nan"'  # inf - inf and nan are nan
                        ts = _iso(times, mine_ms[n] if mine_ms else rec.time_ms)
                        items.append(f'{{"key":{wjsons[kid]},"index":{step},"data":{data},"create_time":"{ts}"}}')
                        if step > steps[name]:
                            steps[name] = step
                        stepset = mine_sent.get(name)
                        if stepset is None:
                            stepset = mine_sent[name] = StepSet()
                        stepset.add(step)
                        batch.seqs = (batch.seqs[0] if batch.seqs else rec.seq, rec.seq)
        skip = 0
        batch.cursor = LaneCursor(end, rec.seq)
        if len(items) >= limit:
            batch.full = True
            return batch
    return batch


def _encode(
    batch: Batch,
    rec: pb.Record,
    kind: str,
    table: dict[int, KeyDef],
    wnames: dict[int, str],
    wjsons: dict[int, str],
    times: dict[int, str],
    mine: list[int],
    mine_kids: list[int],
    mine_steps: list[int],
    mine_ms: list[int] | None,
    values: Sequence[float],
) -> None:
    """Append the items `mine` of one record, all of them new points, column by column."""
    used, steps = batch.keys, batch.steps
    for kid in set(mine_kids):
        name = wnames[kid]
        if name not in used:
            kdef = table[kid]
            used[name] = (kdef[1] or (pb.SYSTEM if kind == "system" else pb.FLOAT), kdef[2])
    mine_values = list(map(values.__getitem__, mine))
    if all(map(math.isfinite, mine_values)):
        data = list(map(repr, mine_values))
    else:
        data = [repr(v) if v - v == 0.0 else '"nan"' for v in mine_values]  # inf - inf and nan are nan
    if mine_ms is None:
        stamps: Iterable[str] = repeat(_iso(times, rec.time_ms), len(mine))
    else:
        for t_ms in set(mine_ms) - times.keys():
            times[t_ms] = cloudapi.iso_utc(t_ms)
        stamps = map(times.__getitem__, mine_ms)
    batch.items.extend(
        f'{{"key":{k},"index":{i},"data":{d},"create_time":"{t}"}}'
        for k, i, d, t in zip(map(wjsons.__getitem__, mine_kids), mine_steps, data, stamps, strict=True)
    )
    for kid, step in dict(zip(mine_kids, mine_steps, strict=True)).items():
        steps[wnames[kid]] = step
    batch.seqs = (batch.seqs[0] if batch.seqs else rec.seq, rec.seq)


def _note_rising(
    mine_sent: dict[str, StepSet], wnames: dict[int, str], kids: list[int], steps: list[int], period: int
) -> None:
    """Note the steps of a column-encoded record as sent: each key's are rising."""
    per_key: dict[int, list[int]] = {}
    if period:
        # Every row holds the lane's keys in one order: a key's steps are every period-th (from
        # wherever a cursor or the batch's size limit cut the record).
        per_key = {kids[j]: steps[j::period] for j in range(min(period, len(kids)))}
    else:
        for kid, step in zip(kids, steps, strict=True):
            per_key.setdefault(kid, []).append(step)
    for kid, key_steps in per_key.items():
        name = wnames[kid]
        stepset = mine_sent.get(name)
        if stepset is None:
            stepset = mine_sent[name] = StepSet()
        stepset.add_rising(key_steps)


def _json_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _iso(times: dict[int, str], t_ms: int) -> str:
    ts = times.get(t_ms)
    if ts is None:
        ts = times[t_ms] = cloudapi.iso_utc(t_ms)
    return ts


def columns(
    batch: Batch, sent: Iterable[str], shapes: Mapping[str, tuple[str, bool]] | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """The keys of `batch` not in `sent` (the columns the server has), and their series definitions.

    `shapes` (KeyTable.shapes) adds what define_metric() gave a key, as the official SDK sends it:
    `xAxis`, and `hidden: true`, and leaves out the default section of such a key.
    """
    known = set(sent)
    new = [key for key in batch.keys if key not in known]
    series = []
    for key in new:
        ktype, section = batch.keys[key]
        if key.startswith(SYSTEM_PREFIX) or ktype == pb.SYSTEM:
            column: dict[str, Any] = {"key": key, "type": "SYSTEM"}
        else:
            column = {"key": key, "type": pb.KeyType.Name(ktype) if ktype else "FLOAT"}
            shape = (shapes or {}).get(key)
            parts = key.split("/")
            # A key define_metric() shaped has only the section it was given, as in the official
            # SDK (its resolver); the prefix is the default of keys logged without a rule.
            if shape is None:
                section = section or ("/".join(parts[:1]) if len(parts) >= 2 else "")
            if section:
                column["sectionName"] = section
            x_axis, hidden = shape or ("", False)
            if x_axis:
                column["xAxis"] = x_axis
            if hidden:
                column["hidden"] = True
        series.append(column)
    return new, series


# -- console lane ----------------------------------------------------------------------------


def console_batch(records: Records, cursor: LaneCursor, last: int, limit: int) -> Batch:
    """Up to `limit` console lines numbered above `last` (the server's last line), as JSON text.

    A Finish record of a run that crashed or was aborted is a line too: its error, level ERROR,
    as the official SDK ends such a run's log; a resumed run's lines follow it.
    """
    batch = Batch(cursor=LaneCursor(cursor.offset, cursor.seq, cursor.epoch))
    epoch = cursor.epoch
    for rec, start, end in records:
        kind = rec.WhichOneof("kind")
        if kind == "finish" and rec.finish.state in FAILED_STATES:
            epoch += 1
            if epoch > last:
                if len(batch.items) >= limit:
                    batch.full = True
                    batch.cursor = LaneCursor(start, batch.cursor.seq, epoch - 1)
                    return batch
                message = rec.finish.error or UNKNOWN_ERROR
                batch.items.append(error_line(epoch, message, rec.finish.finish_time_ms or rec.time_ms))
                batch.steps[""] = epoch
                batch.seqs = (batch.seqs[0] if batch.seqs else rec.seq, rec.seq)
        elif kind == "console":
            record_epoch = epoch
            for line in rec.console.lines:
                epoch += 1
                if epoch <= last:
                    continue
                if len(batch.items) >= limit:
                    batch.full = True
                    batch.cursor = LaneCursor(start, batch.cursor.seq, record_epoch)
                    return batch
                item = {
                    # The official SDK uploads every printed line, stdout or stderr, as INFO.
                    "level": "INFO",
                    "epoch": epoch,
                    "message": line.text,
                    "create_time": cloudapi.iso_utc(line.time_ms or rec.time_ms),
                }
                batch.items.append(json.dumps(item, ensure_ascii=False))
                batch.steps[""] = epoch
                batch.seqs = (batch.seqs[0] if batch.seqs else rec.seq, rec.seq)
        batch.cursor = LaneCursor(end, rec.seq, epoch)
        if len(batch.items) >= limit:
            batch.full = True
            return batch
    return batch


# Finish states whose error the console log ends with, and what it says when there is none
# (the official SDK's words: its cloud log shows them).
FAILED_STATES = frozenset({pb.CRASHED, pb.ABORTED})
UNKNOWN_ERROR = "run failed with unknown error while finish_record.error is not set"


def error_line(epoch: int, message: str, time_ms: int) -> str:
    """The console item that ends a failed run's log: its error, level ERROR (as the official SDK)."""
    item = {"level": "ERROR", "epoch": epoch, "message": message, "create_time": cloudapi.iso_utc(time_ms)}
    return json.dumps(item, ensure_ascii=False)


# -- media lane ------------------------------------------------------------------------------


class MediaItem(NamedTuple):
    """One media file of a batch: its key, step, path in the run folder, caption and time."""

    name: str
    step: int
    path: str
    caption: str
    time_ms: int


def media_batch(
    records: Records, keys: KeyTable, cursor: LaneCursor, last: Mapping[str, int], limit: int, sent_seq: int = 0
) -> tuple[Batch, list[MediaItem]]:
    """Up to `limit` new media files (more when the last key's step has several), from `cursor`.

    Media at steps the server holds are skipped and counted as `scalar_batch`'s points are."""
    batch = Batch(cursor=LaneCursor(**vars(cursor)))
    media: list[MediaItem] = []
    for rec, start, end in records:
        kind = rec.WhichOneof("kind")
        if kind == "media":
            table = keys.defs(rec.writer)
            for item in rec.media.items:
                kdef = table.get(item.key_id)
                if kdef is None:
                    continue
                name = kdef[0]
                prev = batch.steps.get(name, last.get(name, -1))
                # Several media of one key share a step (a list of images): same-step items
                # inside the batch go together; the server holds older steps already.
                if item.step < prev or (item.step == prev and name not in batch.steps):
                    batch.skip(name, item.step, rec.seq, sent_seq)
                    continue
                if len(media) >= limit and name not in batch.steps:
                    batch.full = True
                    batch.cursor = LaneCursor(start, batch.cursor.seq)
                    return batch, media
                media.append(MediaItem(name, item.step, item.path, item.caption, rec.time_ms))
                batch.items.append(item.path)
                batch.steps[name] = item.step
                batch.keys.setdefault(name, (kdef[1] or pb.IMAGE, kdef[2]))
                batch.seqs = (batch.seqs[0] if batch.seqs else rec.seq, rec.seq)
        batch.cursor = LaneCursor(end, rec.seq)
        if len(media) >= limit:
            batch.full = True
            return batch, media
    return batch, media


# The Content-Type of a media object's PUT: the official SDK pins these (its pkg/mime) so they do
# not depend on the host's mime tables; other extensions go by Python's table, as its do.
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".txt": "text/plain",
    ".json": "application/json",
}


def media_type(path: str) -> str:
    """The Content-Type the official SDK sends for a media file of this name."""
    suffix = path[path.rfind(".") :].lower() if "." in path else ""
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def media_metrics(media: Iterable[MediaItem]) -> list[str]:
    """The media metric items (JSON text) once the files are up: one per key and step."""
    metrics: dict[tuple[str, int], dict[str, Any]] = {}
    for m in media:
        entry = metrics.setdefault(
            (m.name, m.step),
            {"key": m.name, "index": m.step, "data": [], "more": [], "create_time": cloudapi.iso_utc(m.time_ms)},
        )
        entry["data"].append(m.path)
        # As the official SDK sends it: a caption entry per captioned file only, so `more` may be
        # shorter than `data` (swanlab 0.10.3, core_python/transport/sender/media.py).
        if m.caption:
            entry["more"].append({"caption": m.caption})
    return [json.dumps(m) for m in metrics.values()]


# -- files and profile lanes: one record at a time -------------------------------------------


def files_batch(records: Records, cursor: LaneCursor) -> tuple[Batch, pb.SavedFile | None]:
    """The next SavedFile record (`swanlab.save()`), if any; the cursor goes just past it."""
    batch, found = _next_of(records, cursor, {"file"})
    return batch, found.file if found is not None else None


def profile_batch(records: Records, cursor: LaneCursor) -> tuple[Batch, list[tuple[ProfileKind, Any]]]:
    """The next Config, Metadata or Requirements record as profile parts (one PUT each), if any."""
    batch, found = _next_of(records, cursor, PROFILE_KINDS)
    return batch, _profile_parts(found) if found is not None else []


def _next_of(records: Records, cursor: LaneCursor, kinds: set[str]) -> tuple[Batch, pb.Record | None]:
    batch = Batch(cursor=LaneCursor(**vars(cursor)))
    for rec, _start, end in records:
        batch.cursor = LaneCursor(end, rec.seq)
        kind = rec.WhichOneof("kind")
        if kind is not None and kind in kinds:
            # One record is the whole batch: the next may follow at once.
            batch.seqs, batch.items, batch.full = (rec.seq, rec.seq), [kind], True
            return batch, rec
    return batch, None


def _profile_parts(rec: pb.Record) -> list[tuple[ProfileKind, Any]]:
    kind = rec.WhichOneof("kind")
    if kind == "config":
        return [("config", _sdk_config(_finite(_loads(rec.config.json))))]
    if kind == "metadata":
        return [("metadata", _finite(_loads(rec.metadata.json)))]
    parts: list[tuple[ProfileKind, Any]] = []
    if rec.requirements.pip:
        parts.append(("requirements", rec.requirements.pip))
    if rec.requirements.conda:
        parts.append(("conda", rec.requirements.conda))
    return parts


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _finite(value: Any) -> Any:
    """`value` with every NaN as "NaN" and every infinity as "Inf", at any depth: what the
    official SDK (swanlab 0.10.3, config/parse.py) sends, the sign of -inf lost as there. JSON has
    no token for them, so they could not go up otherwise (docs/cloud-api.md)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Inf"
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _sdk_config(config: dict[str, Any]) -> dict[str, Any]:
    """The profile's config is `{key: {value, desc, sort}}`; wrap a plain dict that way."""
    if config and all(isinstance(v, dict) and "value" in v for v in config.values()):
        return config
    return {k: {"value": v, "desc": "", "sort": i} for i, (k, v) in enumerate(config.items())}
