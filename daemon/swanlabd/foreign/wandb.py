"""Runs W&B wrote offline (wandb 0.31.0): `wandb/offline-run-<time>-<id>/`.

    run-<id>.wandb       `:W&B` file: W&B's protobuf Records in LevelDB-style framing
    files/               saved files (wandb.save: often symlinks to the user's own), requirements.txt
    files/media/<type>/  the media files history rows name

Records are read with our copy of W&B's messages (proto/swanlabd_pb/wandb_internal.proto):
history rows become points at W&B's `_step` (media values become media where SwanLab has a type
for them, strings become texts), config records our Config, output lines console lines, the
exit record our Finish; docs/sync.md has the table and what is dropped.

W&B's run id is 8 characters of its own, not a SwanLab cuid, so the run id is derived from it:
21 lowercase alphanumerics of a SHA-256 of the W&B id and the run's start time, both read from
the file, so the same run lands in the same experiment on every sync, wherever its folder has
been moved, while a run resumed under the same W&B id in a new folder (a new start time) gets an
experiment of its own. The cursor is `{"offset", "num", "step", "config", "partial", "line"}`:
the end of the last record converted, its W&B number, the last step, the config so far (W&B
sends updates, we keep the whole), console text not yet ended by a newline, and the last line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from swanlabd.foreign import framing
from swanlabd.foreign.base import Chunk, Description, ForeignError
from swanlabd.foreign.build import Builder, MediaFile, cuid
from swanlabd.format.keytypes import MEDIA_FOLDERS
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import wandb_internal_pb2 as wb

KIND = "wandb"
# W&B records per chunk: bounds the daemon's memory and the work a killed sync redoes (a history
# record is one row of every key logged at a step).
CHUNK_RECORDS = 5_000
# W&B's own columns of each history row: the step and times, not metrics.
_ROW_FIELDS = frozenset({"_step", "_timestamp", "_runtime"})
# W&B media types -> our key types; the files are under the run's files/ folder.
_MEDIA: dict[str, int] = {
    "image-file": pb.IMAGE,
    "audio-file": pb.AUDIO,
    "video-file": pb.VIDEO,
    "html-file": pb.HTML,
    "object3D-file": pb.OBJECT3D,
    "molecule-file": pb.MOLECULE,
}
# Files W&B itself writes into files/ that are not the user's saves: read elsewhere, or its own.
_OWN_FILES = frozenset({"output.log", "config.yaml", "wandb-summary.json", "wandb-metadata.json", "diff.patch"})
# Record kinds that carry W&B's own bookkeeping, no data of the run: skipped, not counted.
_BOOKKEEPING = frozenset({"header", "footer", "final", "telemetry", "request", "noop_link_artifact"})


def find(path: Path) -> list[WandbSource]:
    """W&B's runs at `path`: a run folder, or a folder (`wandb/`) of them."""
    if _log_of(path) is not None:
        return [WandbSource(path)]
    # latest-run is W&B's symlink to one of the others: read each run once.
    folders = (p for p in sorted(path.glob("*run-*")) if p.is_dir() and not p.is_symlink())
    return [WandbSource(p) for p in folders if _log_of(p) is not None]


def _log_of(folder: Path) -> Path | None:
    files = sorted(folder.glob("run-*.wandb"))
    return files[0] if len(files) == 1 and files[0].is_file() else None


def _ms(t: wb.Time) -> int:
    return t.seconds * 1000 + t.nanos // 1_000_000


def run_id_for(wandb_id: str, start_seconds: int) -> str:
    """The swanlabd run id (a SwanLab-shaped cuid) of W&B run `wandb_id` started at that second."""
    return cuid(KIND, wandb_id, str(start_seconds))


class WandbSource:
    """One W&B offline run folder."""

    kind = KIND

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        file = _log_of(self.path)
        if file is None:
            raise ForeignError(self.path, "no run-<id>.wandb file in it")
        self.file = file

    def describe(self) -> Description:
        with open(self.file, "rb") as f:
            try:
                framing.check_header(f, framing.WANDB)
            except framing.FramingError as exc:
                raise ForeignError(self.file, str(exc)) from None
            for payload, _ in framing.read_payloads(f, framing.HEADER_SIZE, _Ignore()):
                rec = _parse(payload)
                kind = rec.WhichOneof("record_type") if rec is not None else None
                if rec is not None and kind == "run":
                    r = rec.run
                    run_id = run_id_for(r.run_id, r.start_time.seconds)
                    start = pb.RunStart(
                        run_id=run_id,
                        project=r.project,
                        experiment_name=r.display_name or r.run_id,
                        description=r.notes,
                        tags=list(r.tags),
                        group=r.run_group,
                        job_type=r.job_type,
                        start_time_ms=_ms(r.start_time),
                    )
                    return Description(run_id=run_id, start=start)
                if kind == "history":
                    break  # W&B writes its run record before any row
        raise ForeignError(self.file, "no run record (W&B writes it first): not synced yet")

    def read(self, cursor: str | None) -> Iterator[Chunk]:
        pos = json.loads(cursor) if cursor else {}
        offset: int = pos.get("offset", framing.HEADER_SIZE)
        converter = _Converter(self, pos)
        with open(self.file, "rb") as f:
            framing.check_header(f, framing.WANDB)
            for payload, end in framing.read_payloads(f, offset, converter):
                converter.add_payload(payload)
                offset = end
                if converter.count >= CHUNK_RECORDS:
                    yield converter.chunk(converter.cursor(offset))
            if not converter.idle:
                yield converter.chunk(converter.cursor(max(offset, converter.damage_end)))


class _Ignore:
    def damaged(self, offset: int, nbytes: int, reason: str) -> None:
        pass


def _parse(payload: bytes) -> wb.Record | None:
    try:
        return wb.Record.FromString(payload)
    except Exception:  # protobuf's DecodeError: a record the framing's CRC passed but we cannot parse
        return None


def _value(item: wb.HistoryItem) -> Any:
    kind = item.WhichOneof("value")
    if kind is None:
        return json.loads(item.value_json) if item.value_json else None
    if kind == "json":
        return json.loads(item.json)
    return getattr(item, kind)


class _Converter(Builder):
    """W&B records -> our records, one chunk at a time; also the framing's damage reporter."""

    def __init__(self, source: WandbSource, pos: dict[str, Any]) -> None:
        super().__init__(pos.get("num"), pos.get("step", -1))
        self.source = source
        self.config: dict[str, Any] = pos.get("config", {})
        self.partial: dict[str, str] = pos.get("partial", {})
        self.line: int = pos.get("line", 0)

    def cursor(self, offset: int) -> str:
        state = {"offset": offset, "num": self.last_num, "step": self.last_step}
        return json.dumps(state | {"config": self.config, "partial": self.partial, "line": self.line})

    def add_payload(self, payload: bytes) -> None:
        rec = _parse(payload)
        if rec is None:
            self.unknown["unparseable"] += 1
            return
        kind = rec.WhichOneof("record_type")
        history = kind == "history"
        row = _row(rec.history) if history else {}
        step = row.get("_step", rec.history.step.num) if history else None
        self.read(rec.num or None, int(step) if step is not None else None)
        if history:
            self._history(row, int(step or 0))
        elif kind == "output_raw":
            self._output(rec.output_raw.output_type, rec.output_raw.line, _ms(rec.output_raw.timestamp))
        elif kind == "output":  # whole lines, from wandb before 0.16
            self._output(rec.output.output_type, rec.output.line + "\n", _ms(rec.output.timestamp))
        elif kind == "config":
            self._config(rec.config)
        elif kind == "run":
            self._config(rec.run.config)  # the config given to wandb.init
        elif kind == "files":
            for item in rec.files.files:
                self._file(item)
        elif kind == "exit":
            for stream in list(self.partial):
                self._output(wb.OutputRawRecord.STDOUT if stream == "stdout" else wb.OutputRawRecord.STDERR, "\n", 0)
            code = rec.exit.exit_code
            self.finish = pb.Finish(
                state=pb.FINISHED if code == 0 else pb.CRASHED, error=f"exit code {code}" if code else ""
            )
        elif kind in _BOOKKEEPING:
            self.count -= 1
        else:
            self.count -= 1
            self.unknown[kind or "unknown kind"] += 1

    def _history(self, row: dict[str, Any], step: int) -> None:
        stamp = row.get("_timestamp")
        time_ms = int(stamp * 1000) if isinstance(stamp, int | float) else 0
        for name, value in row.items():
            if name not in _ROW_FIELDS:
                self._value(name, value, step, time_ms)

    def _value(self, name: str, value: Any, step: int, time_ms: int) -> None:
        if isinstance(value, int | float):  # bools too: 1.0 and 0.0, as W&B charts them
            try:
                number = float(value)
            except OverflowError:  # an integer beyond any float
                self.unknown["integers too large for a float"] += 1
                return
            self.scalar(name, step, number, time_ms, time_ms)
        elif isinstance(value, str):
            data = value.encode()
            digest = hashlib.sha256(data).hexdigest()
            text = MediaFile(data, f"media/text/{step}-{digest[:20]}.txt", sha256=digest, size=len(data))
            self.media(name, pb.TEXT, step, [text], time_ms)
        elif isinstance(value, dict) and "_type" in value:
            self._media(name, value, step, time_ms)
        elif isinstance(value, dict):
            for sub, v in value.items():  # a nested dict: W&B shows its leaves as "a.b"
                self._value(f"{name}.{sub}", v, step, time_ms)
        elif value is not None:
            self.unknown[f"{type(value).__name__} values"] += 1

    def _media(self, name: str, value: dict[str, Any], step: int, time_ms: int) -> None:
        kind = str(value["_type"])
        key_type = _MEDIA.get(kind)
        if kind == "images/separated":  # a list of images at one step
            key_type = pb.IMAGE
            captions = value.get("captions") or []
            paths = value.get("filenames") or []
            items = [{"path": p, "caption": captions[i] if i < len(captions) else ""} for i, p in enumerate(paths)]
        else:
            items = [value]
        if key_type is None:
            self.unknown[f"{kind} values (no SwanLab type)"] += 1
            return
        folder = MEDIA_FOLDERS[key_type]
        files = []
        for item in items:
            src = self.source.path / "files" / str(item.get("path", ""))
            if not src.is_file():
                self.unknown["media file missing"] += 1
                continue
            caption = item.get("caption")
            files.append(
                MediaFile(
                    src,
                    f"media/{folder}/{src.name}",
                    caption if isinstance(caption, str) else "",
                    str(item.get("sha256", "")),
                    int(item.get("size", 0)),
                )
            )
        self.media(name, key_type, step, files, time_ms)

    def _output(self, output_type: int, text: str, time_ms: int) -> None:
        stream = "stdout" if output_type == wb.OutputRawRecord.STDOUT else "stderr"
        *lines, rest = (self.partial.pop(stream, "") + text).split("\n")
        if rest:
            self.partial[stream] = rest
        console = []
        for line in lines:
            self.line += 1
            # What a terminal shows of a line rewritten with "\r" (a progress bar): its last state.
            shown = line.rstrip("\r").rsplit("\r", 1)[-1]
            out = pb.STDOUT if stream == "stdout" else pb.STDERR
            console.append(pb.ConsoleLine(line_no=self.line, text=shown, stream=out, time_ms=time_ms))
        if console:
            self.add(pb.Record(time_ms=time_ms, console=pb.ConsoleLines(lines=console)))

    def _config(self, config: wb.ConfigRecord) -> None:
        if not (config.update or config.remove):
            return
        for item in config.update:
            path = list(item.nested_key) or [item.key]
            _put(self.config, path, json.loads(item.value_json) if item.value_json else None)
        for item in config.remove:
            path = list(item.nested_key) or [item.key]
            _remove(self.config, path)
        # `_wandb` is W&B's own entry (its versions and settings), not the user's config.
        user = {k: v for k, v in self.config.items() if k != "_wandb"}
        self.add(pb.Record(config=pb.Config(json=json.dumps(user))))

    def _file(self, item: wb.FilesItem) -> None:
        rel = item.path
        if item.type == wb.FilesItem.MEDIA or rel.startswith("media/") or rel in _OWN_FILES:
            return  # media come with their history rows; the others are W&B's own
        local = self.source.path / "files" / rel
        if not local.is_file():
            self.unknown[f"file {rel} (missing)"] += 1
            return
        if rel == "requirements.txt":
            text = local.read_text(encoding="utf-8", errors="replace")
            self.add(pb.Record(requirements=pb.Requirements(pip=text)))
            return
        self.files.append((local, f"files/{rel}"))
        self.add(pb.Record(file=pb.SavedFile(path=f"files/{rel}", size=local.stat().st_size)))


def _row(history: wb.HistoryRecord) -> dict[str, Any]:
    """A history record as W&B logged it: {key: value}, media objects as dicts of their fields."""
    row: dict[str, Any] = {}
    for item in history.item:
        _put(row, list(item.nested_key) or [item.key], _value(item))
    return row


def _put(into: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        nested = into.get(part)
        if not isinstance(nested, dict):
            nested = into[part] = {}
        into = nested
    into[path[-1]] = value


def _remove(into: dict[str, Any], path: list[str]) -> None:
    for part in path[:-1]:
        nested = into.get(part)
        if not isinstance(nested, dict):
            return
        into = nested
    into.pop(path[-1], None)
