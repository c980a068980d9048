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
from swanlabd.foreign.build import Builder, MediaFile
from swanlabd.format.keytypes import MEDIA_FOLDERS
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import swanlab_sdk_pb2 as sdk

KIND = "swanlab"
# Source records per chunk: bounds the daemon's memory and the work a killed sync redoes.
CHUNK_RECORDS = 20_000
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
_STATES = {
    sdk.RUN_STATE_FINISHED: pb.FINISHED,
    sdk.RUN_STATE_CRASHED: pb.CRASHED,
    sdk.RUN_STATE_ABORTED: pb.ABORTED,
}


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
                converter.add_payload(payload)
                offset = end
                if converter.count >= CHUNK_RECORDS:
                    yield converter.chunk(converter.cursor(offset))
            if not converter.idle:
                yield converter.chunk(converter.cursor(max(offset, converter.damage_end)))


class _Ignore:
    def damaged(self, offset: int, nbytes: int, reason: str) -> None:
        pass


class _Converter(Builder):
    """SDK records -> our records, one chunk at a time; also the framing's damage reporter."""

    def __init__(self, source: SwanlabSource, last_num: int | None) -> None:
        super().__init__(last_num)
        self.source = source

    def cursor(self, offset: int) -> str:
        return json.dumps({"offset": offset, "num": self.last_num})

    def add_payload(self, payload: bytes) -> None:
        try:
            rec = sdk.Record.FromString(payload)
        except Exception:  # protobuf's DecodeError: a record the framing's CRC passed but we cannot parse
            self.unknown["unparseable"] += 1
            return
        kind = rec.WhichOneof("record_type")
        # Damage is named by the scalar steps around it: the SDK writes a media record after it
        # encoded the file, so media steps lag behind the scalars' in file order.
        self.read(rec.num if rec.num > 0 else None, rec.scalar.step if kind == "scalar" else None)
        time_ms = _ms(rec.timestamp)
        if kind == "scalar":
            s = rec.scalar
            self.scalar(s.key, s.step, s.value.number, time_ms, _ms(s.timestamp) if s.timestamp.seconds else 0)
        elif kind == "column":
            self.key(rec.column.column_key, _TYPES.get(rec.column.column_type, pb.FLOAT), rec.column.section_name)
        elif kind == "media":
            self._media(rec.media, time_ms)
        elif kind == "log":
            stream = pb.STDERR if rec.log.level == sdk.LOG_LEVEL_ERROR else pb.STDOUT
            line = pb.ConsoleLine(
                line_no=rec.log.epoch, text=rec.log.line, stream=stream, time_ms=_ms(rec.log.timestamp)
            )
            self.add(pb.Record(time_ms=time_ms, console=pb.ConsoleLines(lines=[line])))
        elif kind == "save":
            self._save(rec.save, time_ms)
        elif kind == "finish":
            state = _STATES.get(rec.finish.state, pb.FINISHED)
            self.finish = pb.Finish(state=state, error=rec.finish.error, finish_time_ms=_ms(rec.finish.finished_at))
        elif kind == "start":
            pass  # read by describe(); the run's RunStart
        else:
            self.count -= 1
            self.unknown[kind or "unknown field"] += 1

    def _media(self, m: sdk.MediaRecord, time_ms: int) -> None:
        _, key_type = self.key(m.key, _TYPES.get(m.type, pb.IMAGE))
        folder = MEDIA_FOLDERS.get(key_type, "image")
        files = []
        for item in m.value.items:
            rel = f"media/{folder}/{item.filename}"
            src = self.source.path / rel
            if not src.is_file():
                self.unknown["media file missing"] += 1
                continue
            files.append(MediaFile(src, rel, item.caption, item.sha256, item.size))
        self.media(m.key, key_type, m.step, files, time_ms)

    def _save(self, s: sdk.SaveRecord, time_ms: int) -> None:
        files = self.source.path / "files"
        # source_path is absolute on the host that wrote the run; the file is in files/ beside it.
        local = files / Path(s.source_path).name
        try:
            text = local.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.unknown[f"save {s.name or 'file'} (file missing)"] += 1
            return
        if s.type == sdk.SAVE_TYPE_CONFIG:
            self.add(pb.Record(time_ms=time_ms, config=pb.Config(json=json.dumps(_config(local, text)))))
        elif s.type == sdk.SAVE_TYPE_METADATA:
            self.add(pb.Record(time_ms=time_ms, metadata=pb.Metadata(json=text)))
        elif s.type == sdk.SAVE_TYPE_REQUIREMENTS:
            self.add(pb.Record(time_ms=time_ms, requirements=pb.Requirements(pip=text)))
        elif s.type == sdk.SAVE_TYPE_CONDA:
            self.add(pb.Record(time_ms=time_ms, requirements=pb.Requirements(conda=text)))
        else:
            rel = f"files/{local.name}"
            self.files.append((local, rel))
            self.add(pb.Record(time_ms=time_ms, file=pb.SavedFile(path=rel, size=len(text.encode()))))


def _config(path: Path, text: str) -> dict[str, Any]:
    """config.yaml as the SDK writes it ({key: {desc, sort, value}}) -> {key: value} in its order."""
    try:
        import yaml  # type: ignore[import-untyped]  # PyYAML ships no type information
    except ImportError:
        raise MissingExtra(path, "sync-swanlab", "PyYAML") from None
    raw = yaml.safe_load(text) or {}
    items = sorted(raw.items(), key=lambda kv: kv[1].get("sort", 0) if isinstance(kv[1], dict) else 0)
    return {k: v.get("value") if isinstance(v, dict) and "value" in v else v for k, v in items}
