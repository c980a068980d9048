"""`swanlabctl sync` of TensorBoard event files (docs/sync.md).

Each source is written by TensorBoard writers: tensorboardX's SummaryWriter (the writer of
torch.utils.tensorboard: TF1 scalars, images, audio and histograms, text as a TF2 tensor) in
`exp1/train/`, and TensorBoard's own EventFileWriter with TF2 tensor summaries (a tag's plugin in
its first value only, as tf.summary writes them) in `exp1/val/`. The referee is TensorBoard's own
loader (EventFileLoader, with its read-time compat layers) reading the same file: every point it
sees reaches the test cloud exactly once, and the user's folder is left byte for byte as it was,
unlocked."""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sync_checks import assert_unlocked, sync_json, sync_killed_then_again, tree_digest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader, RawEventFileLoader
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util
from tensorboardX import SummaryWriter
from uploading import USER, ctl_sync, finished, metric_calls

from helpers.waiting import wait_for
from swanlabd.foreign.base import MissingExtra
from swanlabd.foreign.tensorboard import PROJECT, TensorboardSource

MEDIA_EVERY = 10


class Writers:
    """exp1/train (tensorboardX) and exp1/val (TensorBoard's EventFileWriter, TF2 summaries)."""

    def __init__(self, logdir: Path, steps: int) -> None:
        self.steps = steps
        self.train = SummaryWriter(str(logdir / "exp1" / "train"))
        self.val = EventFileWriter(str(logdir / "exp1" / "val"))
        self.tagged: set[str] = set()

    def write(self, steps: range) -> None:
        for i in steps:
            self.train.add_scalar("loss", 1.0 / (i + 1), i)
            self.train.add_scalar("acc", i / self.steps, i)
            values = [self._tf2("loss", scalar_metadata.create_summary_metadata("", ""), np.float32(2.0 / (i + 1)))]
            if i % MEDIA_EVERY == 0:
                pixels = np.full((8, 8, 3), i % 255, dtype=np.uint8)
                self.train.add_image("sample", pixels, i, dataformats="HWC")
                self.train.add_text("note", f"text at {i}", i)
                self.train.add_histogram("weights", np.arange(10) * i, i)
                self.train.add_audio("sound", np.sin(np.arange(800) * (i + 1) / 100), i, sample_rate=8000)
                png = io.BytesIO()
                Image.fromarray(pixels).save(png, format="PNG")
                meta = image_metadata.create_summary_metadata("", "")
                values.append(self._tf2("sample", meta, [b"8", b"8", png.getvalue()]))
                buckets = np.array([[0.0, 1.0, float(i)], [1.0, 2.0, 1.0]])
                values.append(self._tf2("weights", histogram_metadata.create_summary_metadata("", ""), buckets))
            event = event_pb2.Event(wall_time=1.8e9 + i, step=i, summary=summary_pb2.Summary(value=values))
            self.val.add_event(event)

    def _tf2(self, tag: str, metadata: summary_pb2.SummaryMetadata, data: Any) -> summary_pb2.Summary.Value:
        value = summary_pb2.Summary.Value(tag=tag, tensor=tensor_util.make_tensor_proto(data))
        if tag not in self.tagged:  # as tf.summary writes it: the plugin with a tag's first value only
            self.tagged.add(tag)
            value.metadata.CopyFrom(metadata)
        return value

    def flush(self) -> None:
        self.train.flush()
        self.val.flush()

    def close(self) -> None:
        self.train.close()
        self.val.close()


def write_runs(logdir: Path, steps: int) -> list[Path]:
    """Both writers' `steps` steps, closed; returns the event files, train's first."""
    writers = Writers(logdir, steps)
    writers.write(range(steps))
    writers.close()
    return event_files(logdir)


def event_files(logdir: Path) -> list[Path]:
    return [next((logdir / "exp1" / name).glob("events.out.tfevents.*")) for name in ("train", "val")]


def run_id_of(file: Path) -> str:
    return TensorboardSource(file, file.parent).describe().run_id


def tensorboard_view(file: Path) -> dict[str, Any]:
    """What TensorBoard's own loader reads: {"scalar": {tag: {step: value}}, "image": {tag: {step: n}},
    "text": {tag: {step: text}}, "audio": {tag: [steps]}, "histogram": count}."""
    view: dict[str, Any] = {"scalar": {}, "image": {}, "text": {}, "audio": {}, "histogram": 0}
    plugins: dict[str, str] = {}
    for event in EventFileLoader(str(file)).Load():
        for value in event.summary.value:
            plugin = plugins.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
            if plugin == "scalars":
                view["scalar"].setdefault(value.tag, {})[event.step] = tensor_util.make_ndarray(value.tensor).item()
            elif plugin == "images":
                view["image"].setdefault(value.tag, {})[event.step] = len(value.tensor.string_val) - 2
            elif plugin == "text":
                text = tensor_util.make_ndarray(value.tensor).item().decode()
                view["text"].setdefault(value.tag, {})[event.step] = text
            elif plugin == "audio":
                view["audio"].setdefault(value.tag, []).append(event.step)
            elif plugin == "histograms":
                view["histogram"] += 1
    return view


def scalar_steps(file: Path) -> int:
    """The fewest steps TensorBoard's loader reads of any scalar tag of the file."""
    return min((len(steps) for steps in tensorboard_view(file)["scalar"].values()), default=0)


def assert_matches_tensorboard(cloud, file: Path, view: dict[str, Any] | None = None) -> None:
    """Every scalar, image, text and audio step TensorBoard's loader reads is on the server, once."""
    run_id = run_id_of(file)
    view = view or tensorboard_view(file)
    scalars = cloud.store.metrics(run_id, "scalar")
    assert set(scalars) == set(view["scalar"])
    for tag, steps in view["scalar"].items():
        got = scalars[tag]
        assert sorted(got) == sorted(steps), tag
        for step, value in steps.items():
            assert math.isclose(got[step], value, rel_tol=1e-12), (tag, step)
    media = cloud.store.metrics(run_id, "media")
    for kind in ("image", "text", "audio"):
        for tag, steps in view[kind].items():
            assert sorted(media.get(tag, {})) == sorted(steps), (kind, tag)
    texts = {data.decode() for path, data in cloud.store.objects(run_id).items() if path.endswith(".txt")}
    assert texts == {text for steps in view["text"].values() for text in steps.values()}
    assert cloud.duplicate_count() == 0, cloud.store.duplicates()[:5]


def test_event_files_synced_point_by_point_then_again_send_nothing(upload_daemon, cloud, tmp_path):
    logdir = tmp_path / "runs"
    train, val = files = write_runs(logdir, 300)
    before = tree_digest(logdir)
    result, out = sync_json(upload_daemon, cloud, str(logdir))
    assert result.returncode == 0, result.stdout + result.stderr
    runs = {run["run_id"]: run for run in out["runs"]}
    assert sorted(runs) == sorted(run_id_of(f) for f in files)
    for file in files:
        run = runs[run_id_of(file)]
        assert run["done"] and not run["error"]
        conversion = run["conversion"]
        assert conversion["source_kind"] == "tensorboard" and conversion["source_path"] == str(file.resolve())
        assert conversion["losses"] == []
        # Histograms have no place in a SwanLab experiment: counted, not lost silently.
        assert conversion["unknown"] == {"histogram values (no SwanLab type)": 30}
        assert finished(cloud, run_id_of(file)) == "FINISHED"
        assert_matches_tensorboard(cloud, file)
    assert runs[run_id_of(train)]["conversion"]["points"] == 600  # scalars: loss and acc
    assert runs[run_id_of(val)]["conversion"]["points"] == 300
    # One experiment per event file, named as `swanlab convert -t tensorboard` names it; tags kept.
    experiments = {e["cuid"]: e for e in cloud.experiments()}
    assert sorted(experiments) == sorted(runs)
    for file in files:
        assert experiments[run_id_of(file)]["name"] == str(file.relative_to(logdir))
    assert cloud.project(USER, PROJECT) is not None
    assert set(cloud.store.metrics(run_id_of(train), "scalar")) == {"loss", "acc"}
    assert cloud.store.profile(run_id_of(train))["config"]  # where the events came from
    assert len(cloud.store.objects(run_id_of(train))) >= 90  # 30 images, texts and sounds
    assert tree_digest(logdir) == before
    assert_unlocked(logdir)
    ls = json.loads(upload_daemon.ctl("ls", "--json").stdout)
    assert [r.get("source_kind") for r in ls["runs"]] == ["tensorboard", "tensorboard"]
    assert "offline (tensorboard)" in upload_daemon.ctl("ls").stdout

    calls, requests = metric_calls(cloud), len(cloud.requests())
    again, out = sync_json(upload_daemon, cloud, str(logdir))
    assert again.returncode == 0, again.stdout + again.stderr
    assert [run["conversion"]["records"] for run in out["runs"]] == [0, 0]
    assert metric_calls(cloud) == calls and len(cloud.requests()) == requests  # not one request
    assert tree_digest(logdir) == before


def test_moved_folder_syncs_into_the_same_experiments(upload_daemon, cloud, tmp_path):
    first = tmp_path / "a" / "runs"
    write_runs(first, 50)
    assert ctl_sync(upload_daemon, cloud, str(first)).returncode == 0
    moved = tmp_path / "b" / "elsewhere"
    shutil.copytree(first, moved)
    again, out = sync_json(upload_daemon, cloud, str(moved / "exp1"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(e["cuid"] for e in cloud.experiments()) == sorted(run_id_of(f) for f in event_files(moved))
    assert [run["conversion"]["records"] for run in out["runs"]] == [0, 0]
    _, val = event_files(moved)
    one, out = sync_json(upload_daemon, cloud, str(val))  # an event file by itself
    assert one.returncode == 0, one.stdout + one.stderr
    assert [run["run_id"] for run in out["runs"]] == [run_id_of(val)]
    assert cloud.duplicate_count() == 0


def test_growing_files_synced_while_training_then_after(upload_daemon, cloud, tmp_path):
    logdir = tmp_path / "runs"
    writers = Writers(logdir, 1000)
    try:
        writers.write(range(600))
        files = event_files(logdir)

        def on_disk() -> bool:
            writers.flush()  # tensorboardX's flushes what its thread has taken off its queue so far
            return all(scalar_steps(f) == 600 for f in files)

        wait_for(on_disk, 30, "600 steps of each scalar on disk")
        first = ctl_sync(upload_daemon, cloud, str(logdir))
        assert first.returncode == 0, first.stdout + first.stderr
        for file in files:
            assert_matches_tensorboard(cloud, file)
            # An event file has no end record: each sync ends the run; the next one resumes it.
            assert finished(cloud, run_id_of(file)) == "FINISHED"
        writers.write(range(600, 1000))
    finally:
        writers.close()
    second = ctl_sync(upload_daemon, cloud, str(logdir))
    assert second.returncode == 0, second.stdout + second.stderr
    assert sorted(e["cuid"] for e in cloud.experiments()) == sorted(run_id_of(f) for f in files)
    for file in files:
        assert finished(cloud, run_id_of(file)) == "FINISHED"
        assert sorted(cloud.store.metrics(run_id_of(file), "scalar")["loss"]) == list(range(1000))
        assert_matches_tensorboard(cloud, file)


def record_offsets(file: Path) -> list[tuple[int, int]]:
    """(offset, length) of each record, as TensorBoard's reader reads them: 12 bytes of length
    and its CRC, the data, 4 bytes of the data's CRC."""
    offsets, at = [], 0
    for data in RawEventFileLoader(str(file)).Load():
        offsets.append((at, len(data)))
        at += 12 + len(data) + 4
    return offsets


@pytest.mark.parametrize("where", ["data", "length"])
def test_flipped_byte_loses_only_its_record_and_names_its_steps(upload_daemon, cloud, tmp_path, where):
    logdir = tmp_path / "runs"
    train, _ = write_runs(logdir, 2000)
    expected = tensorboard_view(train)
    # A scalar event from the middle of the file on: its point is the one to lose.
    raw = train.read_bytes()
    for offset, length in record_offsets(train)[len(record_offsets(train)) // 2 :]:
        event = event_pb2.Event.FromString(raw[offset + 12 : offset + 12 + length])
        if event.summary.value and event.summary.value[0].HasField("simple_value"):
            break
    tag, step = event.summary.value[0].tag, event.step
    data = bytearray(train.read_bytes())
    data[offset + 12 + length // 2 if where == "data" else offset + 3] ^= 0x40
    train.write_bytes(data)
    seen_by_tensorboard = tensorboard_view(train)["scalar"][tag]
    assert len(seen_by_tensorboard) < 1100  # its own loader stops at the damage for good
    before = tree_digest(logdir)
    result, out = sync_json(upload_daemon, cloud, str(train.parent))
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = run_id_of(train)
    (loss,) = out["runs"][0]["conversion"]["losses"]
    reason = "checksum mismatch" if where == "data" else "bad record length"
    assert f"at offset {offset} ({reason})" in loss and "lost" in loss, loss
    first, last = map(int, re.search(r"steps (\d+)-(\d+)", loss).groups())
    assert first <= step <= last and last - first <= 1, loss
    # That record's point is gone, and nothing else: everything after the damage is there.
    del expected["scalar"][tag][step]
    assert_matches_tensorboard(cloud, train, expected)
    assert finished(cloud, run_id) == "FINISHED"
    assert tree_digest(logdir) == before
    again = ctl_sync(upload_daemon, cloud, str(train.parent))
    assert again.returncode == 0 and "damaged" not in again.stderr  # reported by the sync that read it


def test_daemon_killed_during_sync_then_sync_again(upload_daemon, cloud, tmp_path):
    logdir = tmp_path / "runs"
    train, _ = write_runs(logdir, 12_000)  # over 25,000 events: two conversion chunks
    run_id = run_id_of(train)
    sync_killed_then_again(upload_daemon, cloud, train.parent, run_id)
    assert sorted(cloud.store.metrics(run_id, "scalar")["loss"]) == list(range(12_000))
    assert_matches_tensorboard(cloud, train)
    assert finished(cloud, run_id) == "FINISHED"


def test_without_the_extra_the_sync_names_it(tmp_path, monkeypatch):
    (train, _) = write_runs(tmp_path / "runs", 3)
    for name in [n for n in sys.modules if n == "tensorboard" or n.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: importing it fails
    with pytest.raises(MissingExtra, match=re.escape("pip install 'swanlabd[tensorboard]'")):
        TensorboardSource(train, train.parent).describe()
