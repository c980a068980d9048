"""The media encoder (swanlab_client/media/_store.py): a file is written, fsynced, renamed into
place and its folder fsynced before the queue item naming it becomes a record; failures cost
only their own item; the training thread's bytes are counted against a bound."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

import swanlab_client as swanlab
from swanlab_client.media import _store
from swanlab_client.media._store import MEDIA, MediaBudget, MediaEncoder, Stored


class Broken(swanlab.Text):
    def encode(self) -> bytes:
        raise RuntimeError("boom")


def encoder() -> tuple[MediaEncoder, list[tuple[str, tuple]]]:
    warnings: list[tuple[str, tuple]] = []
    return MediaEncoder(MediaBudget(), lambda kind, msg, *args: warnings.append((kind, args))), warnings


def test_files_are_durable_before_encode_items_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        with lock:
            events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        with lock:
            events.append(("rename", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(_store.os, "fsync", fsync)
    monkeypatch.setattr(_store.os, "replace", replace)
    enc, warnings = encoder()
    items = [(0, 1, (1.0,), 0.0), (MEDIA, 2, (7, [swanlab.Text("a"), swanlab.Image(np.zeros((2, 2)))]), 0.0)]
    out = enc.encode_items(str(tmp_path), items, ["", "loss", "k"])
    assert out[0] == items[0] and warnings == []
    stored = out[1][2][1]
    assert [s.path.split("/")[1] for s in stored] == ["text", "image"]
    for s in stored:
        target = str(tmp_path / s.path)
        renamed = events.index(("rename", target))
        # The temporary file was fsynced before the rename, and the folder after it.
        assert any(
            kind == "fsync" and ".tmp" in path and Path(path).name.startswith("." + Path(target).name)
            for kind, path in events[:renamed]
        )
        assert ("fsync", str(Path(target).parent)) in events[renamed:]
    assert ("fsync", str(tmp_path)) in events and ("fsync", str(tmp_path / "media")) in events
    assert not list(tmp_path.glob("media/*/.*"))


def test_a_folder_that_cannot_be_synced_costs_a_warning_not_the_rows_taken_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(run_dir: Path, mediums: set[str]) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_store, "sync_dirs", broken)
    enc, warnings = encoder()
    items = [(0, 1, (1.0,), 0.0), (MEDIA, 2, (7, [swanlab.Text("a")]), 0.0)]
    out = enc.encode_items(str(tmp_path), items, ["", "loss", "k"])
    assert len(out) == 2 and out[0] == items[0]
    (stored,) = out[1][2][1]
    assert (tmp_path / stored.path).read_text() == "a"
    assert [kind for kind, _ in warnings] == ["media-dir-sync"]


def test_the_same_file_is_written_once(tmp_path: Path) -> None:
    enc, _ = encoder()
    item = (MEDIA, 1, (3, [swanlab.Text("same")]), 0.0)
    (first,) = enc.encode_items(str(tmp_path), [item], ["", "k"])
    path = tmp_path / first[2][1][0].path
    before = path.stat().st_mtime_ns
    enc.encode_items(str(tmp_path), [item], ["", "k"])
    assert path.stat().st_mtime_ns == before and first[2][1][0] == Stored(
        "media/text/003-" + first[2][1][0].sha256[:8] + ".txt", "", first[2][1][0].sha256, 4
    )


def test_a_failing_or_too_large_object_costs_only_itself_with_one_warning_per_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_store, "MEDIA_MAX_BYTES", 10)
    enc, warnings = encoder()
    items = [
        (MEDIA, 1, (0, [Broken("x"), swanlab.Text("kept")]), 0.0),
        (MEDIA, 1, (1, [Broken("y")]), 0.0),
        (MEDIA, 2, (1, [swanlab.Text("much too long for the limit")]), 0.0),
    ]
    (kept,) = enc.encode_items(str(tmp_path), items, ["", "a", "b"])
    assert kept[:2] == (MEDIA, 1) and kept[2][0] == 0 and len(kept[2][1]) == 1
    assert (tmp_path / kept[2][1][0].path).read_bytes() == b"kept"
    assert [kind for kind, _ in warnings] == ["media-a", "media-a", "media-b"]  # Warner.once keeps one per kind
    assert "MediaTooLarge" in warnings[2][1]


def test_without_a_run_folder_media_are_dropped_with_a_warning_and_rows_kept() -> None:
    enc, warnings = encoder()
    enc.budget.held = 5
    items = [(0, 1, (1.0,), 0.0), (MEDIA, 2, (0, [swanlab.Text("hello")]), 0.0)]
    assert enc.encode_items("", items, ["", "loss", "k"]) == items[:1]
    assert [kind for kind, _ in warnings] == ["media-no-folder"] and enc.budget.held == 0


def test_the_budget_makes_log_wait_until_the_encoder_releases() -> None:
    budget = MediaBudget(limit=100)
    assert not budget.reserve(80, lambda: True)
    waiting = threading.Event()

    def alive() -> bool:
        waiting.set()  # asked only while the waiter waits
        return True

    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(budget.reserve(50, alive)))
    waiter.start()
    assert waiting.wait(10) and budget.held == 80
    budget.release(80)
    waiter.join(10)
    assert result == [True] and budget.held == 50
    assert not budget.reserve(500, lambda: False)  # no encoder alive: never waits
