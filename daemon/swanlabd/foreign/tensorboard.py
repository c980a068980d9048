"""TensorBoard event files: `events.out.tfevents.*`, in a folder or up to 3 folders below it.

    runs/exp1/events.out.tfevents.<time>.<host>...        one writer's events: one run
    runs/exp1/train/events.out.tfevents.<time>.<host>...  another writer (a subfolder per writer)

Each event file is one run, as `swanlab convert -t tensorboard` (swanlab 0.10.3) makes it one
experiment, named by its folder relative to the synced PATH and its file name; a tag is the key
as TensorBoard wrote it. The file is read with TensorBoard's own record reader (the optional
extra `tensorboard`, imported here only when a file is read) and its Event messages: scalars
(TF1 `simple_value` and TF2 tensors of the scalars plugin), images, audio and text become our
points and media; histograms and the other plugins' summaries are counted as unknown
(docs/sync.md has the table).

An event file has no end record: each sync that converts something ends the run FINISHED at its
last event's time, and a sync that finds more resumes it, as a resumed script does. The run id
is derived from the writer's folder name, the file name and the file's first record, so a file
lands in the same experiment on every sync, wherever its folder was moved. The cursor is
`{"offset", "step", "tags"}`: the end of the last record converted, the last step, and what each
tag's tensor values are (TensorBoard writes a tag's plugin only with its first value).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from swanlabd.foreign import framing
from swanlabd.foreign.base import Chunk, Description, ForeignError, MissingExtra
from swanlabd.foreign.build import Builder, MediaFile, cuid
from swanlabd_pb import records_pb2 as pb

KIND = "tensorboard"
PROJECT = "Tensorboard-Conversion"  # the official converter's, less its per-conversion timestamp
MARK = "tfevents"  # in the name of every event file, as TensorBoard itself finds them
DEPTH = 3  # folders below PATH that are searched, as `swanlab convert` searches
NAME_MAX = 255  # the longest experiment name StartRun takes (swanlabd/local/runfolder.py)
# Events per chunk, and source bytes (media are held in memory until their chunk is written):
# these bound the daemon's memory and the work a killed sync redoes.
CHUNK_RECORDS = 20_000
CHUNK_BYTES = 16 << 20
# A TFRecord starts with its length (8 bytes) and that length's CRC (4 bytes).
RECORD_HEADER = 12
# What a tensor value is, by the plugin named in its tag's first value (tensorboard/plugins/*/metadata.py).
_PLUGINS = {"scalars": "scalar", "images": "image", "audio": "audio", "text": "text", "histograms": "histogram"}
_IMAGE_FORMATS = ((b"\x89PNG", "png"), (b"\xff\xd8\xff", "jpg"), (b"GIF8", "gif"), (b"BM", "bmp"))
_HISTOGRAMS = "histogram values (no SwanLab type)"


def find(path: Path) -> list[TensorboardSource]:
    """The event files at `path`: the file itself, or those in it and up to DEPTH folders below."""
    if path.is_file():
        return [TensorboardSource(path, path.parent)] if MARK in path.name else []
    found = []
    for folder, dirs, names in os.walk(path):
        here = Path(folder)
        if len(here.relative_to(path).parts) >= DEPTH:
            dirs.clear()
        dirs.sort()
        for name in sorted(names):
            file = here / name
            # An empty file is a writer that has flushed nothing yet: nothing to sync.
            if MARK in name and file.is_file() and file.stat().st_size > 0:
                found.append(TensorboardSource(file, path))
    return found


class TensorboardSource:
    """One TensorBoard event file (one writer's run)."""

    kind = KIND

    def __init__(self, file: Path, root: Path) -> None:
        self.path = file.absolute()
        rel = file.relative_to(root)
        # As the official converter names it (`<folder>/<file>`); a file right in PATH by PATH's
        # name. Too long a name keeps its end: the file's name and the folders nearest it.
        name = str(rel) if len(rel.parts) > 1 else f"{root.name}/{file.name}"
        self.name = name[-NAME_MAX:]

    def describe(self) -> Description:
        tb = _TensorBoard.load(self.path)
        with open(self.path, "rb") as f:
            first = next(_records(tb, f, 0, _Ignore()), None)
        if first is None:
            raise ForeignError(self.path, "no whole record yet (a writer starts with one): not synced yet")
        data, _ = first
        event = tb.event(data)
        start_ms = int(event.wall_time * 1000) if event is not None else 0
        run_id = cuid(KIND, self.path.parent.name, self.path.name, hashlib.sha256(data).hexdigest())
        start = pb.RunStart(run_id=run_id, project=PROJECT, experiment_name=self.name, start_time_ms=start_ms)
        return Description(run_id=run_id, start=start)

    def read(self, cursor: str | None) -> Iterator[Chunk]:
        tb = _TensorBoard.load(self.path)
        pos = json.loads(cursor) if cursor else {}
        offset: int = pos.get("offset", 0)
        converter = _Converter(tb, pos)
        if cursor is None:
            # The official converter's config: where the events came from.
            converter.add(pb.Record(config=pb.Config(json=json.dumps({"tfevent_path": str(self.path)}))))
        yielded = False
        chunk_start, records = offset, 0
        with open(self.path, "rb") as f:
            for data, end in _records(tb, f, offset, converter):
                converter.add_event(data)
                offset, records = end, records + 1
                if records >= CHUNK_RECORDS or end - chunk_start >= CHUNK_BYTES:
                    yield converter.chunk(converter.cursor(end))
                    yielded, chunk_start, records = True, end, 0
        # No record says a writer is done: every sync that converted something ends the run.
        if yielded or cursor is None or not converter.idle:
            converter.finish = pb.Finish(state=pb.FINISHED, finish_time_ms=converter.last_ms)
            yield converter.chunk(converter.cursor(max(offset, converter.damage_end)))


class _TensorBoard:
    """The parts of the `tensorboard` package this reader uses, imported when a file is read."""

    def __init__(self, event_pb2: Any, summary_pb2: Any, errors: Any, records: Any, tensor_util: Any) -> None:
        self.event_pb2, self.summary_pb2, self.errors = event_pb2, summary_pb2, errors
        self.records, self.tensor_util = records, tensor_util

    @classmethod
    def load(cls, path: Path) -> _TensorBoard:
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
            from tensorboard.util import tensor_util
        except ImportError:
            raise MissingExtra(path, KIND, "tensorboard") from None
        return cls(event_pb2, summary_pb2, errors, pywrap_tensorflow, tensor_util)

    def event(self, data: bytes) -> Any:
        try:
            return self.event_pb2.Event.FromString(data)
        except Exception:  # protobuf's DecodeError: a record whose CRC passed but that is no Event
            return None

    def reader(self, file: BinaryIO, offset: int) -> tuple[Any, _Window]:
        """TensorBoard's record reader (the one its event file loader uses without TensorFlow),
        reading `file` from `offset`.

        The reader takes a file name and reads through its `file_handle` only; handing it our
        read-only file, positioned at the cursor, gives it the start offset it does not support
        ("start offset not supported by compat reader") and shows us a read cut short by the end
        of the file, which its DataLossError does not tell apart from damage.
        """
        file.seek(offset)
        window = _Window(file)
        reader = self.records.PyRecordReader_New(os.fsencode(file.name), 0, None, None)
        reader.file_handle = window
        return reader, window


class _Window:
    """The file as the record reader sees it; notes whether a read came up short."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.short = False

    def read(self, n: int) -> bytes:
        data = self.file.read(n)
        if len(data) < n:
            self.short = True
        return data


class _Ignore:
    def damaged(self, offset: int, nbytes: int, reason: str) -> None:
        pass


def _records(tb: _TensorBoard, file: BinaryIO, offset: int, reporter: framing.Reporter) -> Iterator[tuple[bytes, int]]:
    """Yield (record, end offset) from `offset`, each checked by TensorBoard's reader (both CRCs).

    TensorBoard's own loader stops for good at the first damaged record; here a damaged stretch
    is reported and reading goes on after it. A record cut off by the end of the file is not
    damage: the writer may still be writing it, and the next sync reads it from the same offset.
    """
    reader, window = tb.reader(file, offset)
    while True:
        try:
            reader.GetNext()
        except tb.errors.OutOfRangeError:
            return  # the end of the file, at a record boundary
        except tb.errors.DataLossError:
            if window.short:
                return
            consumed = file.tell() - offset
            if consumed > RECORD_HEADER:
                # The length passed its own CRC and the data did not: the record ends where the length says.
                reporter.damaged(offset, consumed, "checksum mismatch")
                offset += consumed
            else:
                # The length itself is damaged: the next record starts where TensorBoard's reader next reads one.
                resume = _next_record(tb, file, offset + 1)
                reporter.damaged(offset, resume - offset, "bad record length")
                offset = resume
            reader, window = tb.reader(file, offset)
            continue
        offset = file.tell()
        yield reader.record(), offset


def _next_record(tb: _TensorBoard, file: BinaryIO, offset: int) -> int:
    """The first offset from `offset` where a whole record reads, or where one runs into the end
    of the file (it is read, or found damaged, once it is whole)."""
    while True:
        reader, window = tb.reader(file, offset)
        try:
            reader.GetNext()
            return offset
        except tb.errors.OutOfRangeError:
            return offset
        except tb.errors.DataLossError:
            if window.short:
                return offset
        offset += 1


class _Converter(Builder):
    """Events -> our records, one chunk at a time; also the damage reporter of `_records`."""

    def __init__(self, tb: _TensorBoard, pos: dict[str, Any]) -> None:
        super().__init__(None, pos.get("step", -1))
        self.tb = tb
        self.tags: dict[str, str] = pos.get("tags", {})  # tag -> what its tensor values are
        self.last_ms = 0

    def cursor(self, offset: int) -> str:
        return json.dumps({"offset": offset, "step": self.last_step, "tags": self.tags})

    def add_event(self, data: bytes) -> None:
        event = self.tb.event(data)
        if event is None:
            self.unknown["unparseable"] += 1
            return
        time_ms = int(event.wall_time * 1000)
        self.last_ms = max(self.last_ms, time_ms)
        what = event.WhichOneof("what")
        if what == "summary":
            # TensorBoard numbers no records: damage is named by the steps around it.
            self.read(None, event.step)
            for value in event.summary.value:
                self._value(value, event.step, time_ms)
        elif what not in (None, "file_version"):  # file_version: the writer's header, no data
            self.unknown[f"{what} events"] += 1

    def _value(self, value: Any, step: int, time_ms: int) -> None:
        kind = value.WhichOneof("value")
        tag = value.tag
        if kind == "simple_value":  # TF1 scalars (and tensorboardX's, torch's by default)
            self.scalar(tag, step, value.simple_value, time_ms, time_ms)
        elif kind == "image":
            self._images(tag, step, [value.image.encoded_image_string], time_ms)
        elif kind == "audio":
            self._audio(tag, step, [(value.audio.encoded_audio_string, "")], time_ms)
        elif kind == "histo":
            self.unknown[_HISTOGRAMS] += 1
        elif kind == "tensor":
            self._tensor(value, step, time_ms)
        else:
            self.unknown[f"{kind or 'empty'} values"] += 1

    def _tensor(self, value: Any, step: int, time_ms: int) -> None:
        """A TF2 summary: a tensor, read as its tag's plugin says (named in the tag's first value only)."""
        tag, tensor = value.tag, value.tensor
        what = self.tags.get(tag)
        if what is None:
            meta = value.metadata
            plugin = meta.plugin_data.plugin_name
            what = _PLUGINS.get(plugin) or ""
            if not what:
                scalar = meta.data_class == self.tb.summary_pb2.DATA_CLASS_SCALAR
                what = "scalar" if scalar else f"{plugin or 'unnamed'} summaries"
            self.tags[tag] = what
        if what == "scalar":
            array = self.tb.tensor_util.make_ndarray(tensor)
            if array.size != 1 or array.dtype.kind not in "fiub":
                self.unknown["scalar summaries that are no single number"] += 1
                return
            self.scalar(tag, step, float(array.item()), time_ms, time_ms)
        elif what == "image":  # [width, height, image...]
            self._images(tag, step, list(tensor.string_val[2:]), time_ms)
        elif what == "audio":  # [clips, (encoded clip, label)]
            dims = [d.size for d in tensor.tensor_shape.dim]
            stride = dims[1] if len(dims) == 2 and dims[1] > 0 else 1
            strings = list(tensor.string_val)
            labels = strings[1::stride] if stride > 1 else []
            clips = [(clip, labels[i] if i < len(labels) else "") for i, clip in enumerate(strings[::stride])]
            self._audio(tag, step, clips, time_ms)
        elif what == "text":
            strings = self.tb.tensor_util.make_ndarray(tensor).flatten()
            text = "\n".join(s.decode("utf-8", "replace") if isinstance(s, bytes) else str(s) for s in strings)
            self._text(tag, step, text, time_ms)
        elif what == "histogram":
            self.unknown[_HISTOGRAMS] += 1
        else:
            self.unknown[what] += 1

    def _images(self, tag: str, step: int, images: list[bytes], time_ms: int) -> None:
        files = []
        for data in images:
            ext = next((ext for magic, ext in _IMAGE_FORMATS if data.startswith(magic)), None)
            if ext is None:
                self.unknown["images of an unknown format"] += 1
                continue
            files.append(_media_file(data, "image", step, ext))
        self.media(tag, pb.IMAGE, step, files, time_ms)

    def _audio(self, tag: str, step: int, clips: list[tuple[bytes, bytes | str]], time_ms: int) -> None:
        files = []
        for data, label in clips:
            file = _media_file(data, "audio", step, "wav")  # TensorBoard's only audio encoding
            file.caption = label.decode("utf-8", "replace") if isinstance(label, bytes) else label
            files.append(file)
        self.media(tag, pb.AUDIO, step, files, time_ms)

    def _text(self, tag: str, step: int, text: str, time_ms: int) -> None:
        self.media(tag, pb.TEXT, step, [_media_file(text.encode(), "text", step, "txt")], time_ms)


def _media_file(data: bytes, folder: str, step: int, ext: str) -> MediaFile:
    digest = hashlib.sha256(data).hexdigest()
    return MediaFile(data, f"media/{folder}/{step}-{digest[:20]}.{ext}", sha256=digest, size=len(data))
