"""Runs the official SwanLab SDK (0.10.3) wrote offline: `swanlog/run-<time>-<id>/`.

    run-<id>.swanlab     `:SWL` file: the SDK's protobuf Records in LevelDB-style framing
    files/               config.yaml, swanlab-metadata.json, requirements.txt, conda.txt, saves
    media/<type>/<file>  the media the records name

The run keeps its own id as our run id, so it uploads into the experiment whose cuid the SDK
gave it: a run the SDK uploaded part of goes on in place (the uploader asks the server's last
step per key first and sends only what is above). Records are read with our copy of the SDK's
messages (proto/swanlabd_pb/swanlab_sdk.proto). The cursor is `{"offset", "num"}`: the end of
the last record converted and its `num`, so damage can be named by the records it held.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from swanlabd.foreign import framing
from swanlabd.foreign.base import Chunk, Description, ForeignError, MissingExtra
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import swanlab_sdk_pb2 as sdk

KIND = "swanlab"
# Source records per chunk: bounds the daemon's memory and the work a killed sync redoes.
CHUNK_RECORDS = 20_000
ROW_VALUES = 16_384  # scalars per ScalarRows record, as our client cuts them
_TYPES: dict[int, int] = {
    sdk.COLUMN_TYPE_SCALAR: pb.FLOAT,
    sdk.COLUMN_TYPE_IMAGE: pb.IMAGE,
    sdk.COLUMN_TYPE_AUDIO: pb.AUDIO,
    sdk.COLUMN_TYPE_TEXT: pb.TEXT,
    sdk.COLUMN_TYPE_VIDEO: pb.VIDEO,
    sdk.COLUMN_TYPE_ECHARTS: pb.ECHARTS,
    sdk.COLUMN_TYPE_OBJECT3D: pb.OBJECT3D,
    sdk.COLUMN_TYPE_MOLECULE: pb.MOLECULE,
    sdk.COLUMN_TYPE_HTML: pb.HTML,
}
_FOLDERS: dict[int, str] = {
    pb.IMAGE: "image",
    pb.AUDIO: "audio",
    pb.TEXT: "text",
    pb.VIDEO: "video",
    pb.ECHARTS: "echarts",
    pb.OBJECT3D: "object3d",
    pb.MOLECULE: "molecule",
    pb.HTML: "html",
}
_STATES = {
    sdk.RUN_STATE_FINISHED: pb.FINISHED,
    sdk.RUN_STATE_CRASHED: pb.CRASHED,
    sdk.RUN_STATE_ABORTED: pb.ABORTED,
}
_SYSTEM_PREFIX = "__swanlab__."


def find(path: Path) -> list[SwanlabSource]:
    """The SDK's runs at `path`: a run folder, or a folder (`swanlog/`) of them."""
    if _backup_of(path) is not None:
        return [SwanlabSource(path)]
    return [SwanlabSource(p) for p in sorted(path.glob("run-*")) if p.is_dir() and _backup_of(p) is not None]


def _backup_of(folder: Path) -> Path | None:
    files = sorted(folder.glob("run-*.swanlab"))
    return files[0] if len(files) == 1 and files[0].is_file() else None


def _ms(t: sdk.Time) -> int:
    return t.seconds * 1000 + t.nanos // 1_000_000


class SwanlabSource:
    """One SwanLab offline run folder."""

    kind = KIND

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        file = _backup_of(self.path)
        if file is None:
            raise ForeignError(self.path, "no run-<id>.swanlab file in it")
        self.file = file

    def describe(self) -> Description:
        with open(self.file, "rb") as f:
            try:
                framing.check_header(f, framing.SWANLAB)
            except framing.FramingError as exc:
                raise ForeignError(self.file, str(exc)) from None
            for payload, _ in framing.read_payloads(f, framing.HEADER_SIZE, _Ignore()):
                rec = sdk.Record.FromString(payload)
                if rec.WhichOneof("record_type") == "start":
                    s = rec.start
                    start = pb.RunStart(
                        run_id=s.id,
                        project=s.project,
                        workspace=s.workspace,
                        experiment_name=s.name,
                        description=s.description,
                        tags=list(s.tags),
                        group=s.group,
                        job_type=s.job_type,
                        colors=[s.color] if s.color else [],
                        visibility="PUBLIC" if s.public else "PRIVATE",
                        start_time_ms=_ms(s.started_at) or _ms(rec.timestamp),
                    )
                    return Description(run_id=s.id, start=start)
                break  # the SDK writes its start record first
        raise ForeignError(self.file, "no start record (the SDK writes it first): not synced yet")

    def read(self, cursor: str | None) -> Iterator[Chunk]:
        pos = json.loads(cursor) if cursor else {}
        offset: int = pos.get("offset", framing.HEADER_SIZE)
        converter = _Converter(self, pos.get("num"))
        with open(self.file, "rb") as f:
            framing.check_header(f, framing.SWANLAB)
            for payload, end in framing.read_payloads(f, offset, converter):
                converter.add(payload)
                offset = end
                if converter.count >= CHUNK_RECORDS:
                    yield converter.chunk(offset)
            if not converter.idle:
                yield converter.chunk(max(offset, converter.damage_end))


class _Ignore:
    def damaged(self, offset: int, nbytes: int, reason: str) -> None:
        pass


class _Converter:
    """SDK records -> our records, one chunk at a time; also the framing's damage reporter."""

    def __init__(self, source: SwanlabSource, last_num: int | None) -> None:
        self.source = source
        self.keys: dict[str, tuple[int, int]] = {}  # key -> (our key id, our KeyType); per sync: one writer
        self.last_num = last_num
        self.last_step = -1
        self.damage: list[tuple[int, int, str, int | None, int]] = []  # open: offset, nbytes, reason, num, step
        self.damage_end = 0
        self._new()

    def _new(self) -> None:
        self.records: list[pb.Record] = []
        self.files: list[tuple[Path, str]] = []
        self.rows: pb.ScalarRows | None = None
        self.rows_system = False
        self.rows_time = 0
        self.finish: pb.Finish | None = None
        self.count = 0
        self.points = 0
        self.losses: list[str] = []
        self.unknown: dict[str, int] = {}

    @property
    def idle(self) -> bool:
        return not (self.count or self.losses or self.damage or self.unknown)

    def chunk(self, offset: int) -> Chunk:
        self._flush_rows()
        self._close_damage(None, None)
        cursor = json.dumps({"offset": offset, "num": self.last_num})
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
        if self.damage and self.damage[-1][0] + self.damage[-1][1] >= offset - framing.HEADER_SIZE:
            first = self.damage[-1]
            self.damage[-1] = (first[0], offset + nbytes - first[0], first[2], first[3], first[4])
        else:
            self.damage.append((offset, nbytes, reason, self.last_num, self.last_step))

    def _close_damage(self, num: int | None, step: int | None) -> None:
        """Name what the damage before this intact record held: the SDK's nums and steps between."""
        for offset, nbytes, reason, before_num, before_step in self.damage:
            if num is not None and before_num is not None:
                records = f"records {before_num + 1}-{num - 1}" if num - 1 > before_num else "no whole record"
            else:
                records = "records after the last one read" if num is None else f"records before {num}"
            if step is not None:
                steps = f"steps {max(before_step, 0)}-{step}"
            else:
                steps = f"steps after {before_step}" if before_step >= 0 else "steps unknown"
            self.losses.append(f"{nbytes} bytes at offset {offset} ({reason}): {records} lost, {steps}")
        self.damage = []

    # -- records ------------------------------------------------------------------------------

    def add(self, payload: bytes) -> None:
        try:
            rec = sdk.Record.FromString(payload)
        except Exception:  # protobuf's DecodeError: a record the framing's CRC passed but we cannot parse
            self.unknown["unparseable"] = self.unknown.get("unparseable", 0) + 1
            return
        kind = rec.WhichOneof("record_type")
        step = rec.scalar.step if kind == "scalar" else rec.media.step if kind == "media" else None
        if self.damage:
            self._close_damage(rec.num if rec.num > 0 else None, step)
        if rec.num > 0:
            self.last_num = rec.num
        self.count += 1
        time_ms = _ms(rec.timestamp)
        if kind == "scalar":
            self._scalar(rec.scalar, time_ms)
            return
        self._flush_rows()
        if kind == "column":
            self._key(rec.column.column_key, _TYPES.get(rec.column.column_type, pb.FLOAT), rec.column.section_name)
        elif kind == "media":
            self._media(rec.media, time_ms)
        elif kind == "log":
            stream = pb.STDERR if rec.log.level == sdk.LOG_LEVEL_ERROR else pb.STDOUT
            line = pb.ConsoleLine(
                line_no=rec.log.epoch, text=rec.log.line, stream=stream, time_ms=_ms(rec.log.timestamp)
            )
            self.records.append(pb.Record(time_ms=time_ms, console=pb.ConsoleLines(lines=[line])))
        elif kind == "save":
            self._save(rec.save, time_ms)
        elif kind == "finish":
            state = _STATES.get(rec.finish.state, pb.FINISHED)
            self.finish = pb.Finish(state=state, error=rec.finish.error, finish_time_ms=_ms(rec.finish.finished_at))
        elif kind == "start":
            pass  # read by describe(); the run's RunStart
        else:
            self.count -= 1
            self.unknown[kind or "unknown field"] = self.unknown.get(kind or "unknown field", 0) + 1

    def _key(self, name: str, key_type: int, section: str = "") -> tuple[int, int]:
        known = self.keys.get(name)
        if known is not None:
            return known
        if key_type == pb.FLOAT and name.startswith(_SYSTEM_PREFIX):
            key_type = pb.SYSTEM
        key = (len(self.keys) + 1, key_type)
        self.keys[name] = key
        self._flush_rows()
        self.records.append(
            pb.Record(
                keys=pb.KeyDefs(keys=[pb.KeyDef(id=key[0], name=name, type=pb.KeyType.Name(key_type), section=section)])
            )
        )
        return key

    def _scalar(self, s: sdk.ScalarRecord, time_ms: int) -> None:
        key_id, key_type = self._key(s.key, pb.FLOAT)
        system = key_type == pb.SYSTEM
        rows = self.rows
        if rows is None or system != self.rows_system or len(rows.values) >= ROW_VALUES:
            self._flush_rows()
            rows = self.rows = pb.ScalarRows()
            self.rows_system, self.rows_time = system, time_ms
        if rows.steps and rows.steps[-1] == s.step and key_id not in rows.key_ids[-rows.row_sizes[-1] :]:
            rows.row_sizes[-1] += 1
        else:
            rows.steps.append(s.step)
            rows.row_sizes.append(1)
            rows.time_deltas_ms.append(_ms(s.timestamp) - self.rows_time if s.timestamp.seconds else 0)
        rows.key_ids.append(key_id)
        rows.values.append(s.value.number)
        self.points += 1
        self.last_step = max(self.last_step, s.step)

    def _flush_rows(self) -> None:
        if self.rows is not None and self.rows.steps:
            record = pb.Record(time_ms=self.rows_time)
            (record.system if self.rows_system else record.scalars).CopyFrom(self.rows)
            self.records.append(record)
        self.rows = None

    def _media(self, m: sdk.MediaRecord, time_ms: int) -> None:
        key_id, key_type = self._key(m.key, _TYPES.get(m.type, pb.IMAGE))
        folder = _FOLDERS.get(key_type, "image")
        items = []
        for item in m.value.items:
            rel = f"media/{folder}/{item.filename}"
            src = self.source.path / rel
            if not src.is_file():
                self.unknown["media file missing"] = self.unknown.get("media file missing", 0) + 1
                continue
            self.files.append((src, rel))
            items.append(
                pb.MediaRef(
                    key_id=key_id, step=m.step, path=rel, caption=item.caption, sha256=item.sha256, size=item.size
                )
            )
        if items:
            self.records.append(pb.Record(time_ms=time_ms, media=pb.MediaRefs(items=items)))
        self.last_step = max(self.last_step, m.step)

    def _save(self, s: sdk.SaveRecord, time_ms: int) -> None:
        files = self.source.path / "files"
        # source_path is absolute on the host that wrote the run; the file is in files/ beside it.
        local = files / Path(s.source_path).name
        try:
            text = local.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            what = f"save {s.name or 'file'} (file missing)"
            self.unknown[what] = self.unknown.get(what, 0) + 1
            return
        if s.type == sdk.SAVE_TYPE_CONFIG:
            self.records.append(pb.Record(time_ms=time_ms, config=pb.Config(json=json.dumps(_config(local, text)))))
        elif s.type == sdk.SAVE_TYPE_METADATA:
            self.records.append(pb.Record(time_ms=time_ms, metadata=pb.Metadata(json=text)))
        elif s.type == sdk.SAVE_TYPE_REQUIREMENTS:
            self.records.append(pb.Record(time_ms=time_ms, requirements=pb.Requirements(pip=text)))
        elif s.type == sdk.SAVE_TYPE_CONDA:
            self.records.append(pb.Record(time_ms=time_ms, requirements=pb.Requirements(conda=text)))
        else:
            rel = f"files/{local.name}"
            self.files.append((local, rel))
            self.records.append(pb.Record(time_ms=time_ms, file=pb.SavedFile(path=rel, size=len(text.encode()))))


def _config(path: Path, text: str) -> dict[str, Any]:
    """config.yaml as the SDK writes it ({key: {desc, sort, value}}) -> {key: value} in its order."""
    try:
        import yaml  # type: ignore[import-untyped]  # PyYAML ships no type information
    except ImportError:
        raise MissingExtra(path, "sync-swanlab", "PyYAML") from None
    raw = yaml.safe_load(text) or {}
    items = sorted(raw.items(), key=lambda kv: kv[1].get("sort", 0) if isinstance(kv[1], dict) else 0)
    return {k: v.get("value") if isinstance(v, dict) and "value" in v else v for k, v in items}
