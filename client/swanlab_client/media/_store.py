"""Media files in the run folder: the background encoder, durable writes, and the queue's byte bound.

    log()  ─ Image(array): check, copy ─> queue item (MEDIA, key id, (step, [Media]), time)
    sender thread: take ─> MediaEncoder.encode_items ─> pool threads (the sender itself at exit): encode, write, fsync
                   ─> (MEDIA, key id, (step, [Stored]), time) ─> a MediaRefs record ─> daemon

A file is written under a temporary name, fsynced, renamed into `media/<medium>/`, and its
folder fsynced, all before the record naming it is encoded: an acked MediaRef never points at a
missing file, and a crash leaves at most a stray `.tmp`. Names are the official SDK's,
`<step:03d>-<sha256[:8]>.<ext>`, so the same content at the same step is one file (a replay or a
repeated log() rewrites nothing).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from swanlab_client import _threads

if TYPE_CHECKING:
    from swanlab_client.media._base import Media

_logger = logging.getLogger("swanlab_client")

# The official SDK's limits: a larger file is dropped with a warning, more items under one key
# and step are cut.
MEDIA_MAX_BYTES = 10 * 1024**2
MEDIA_MAX_ITEMS = 108
# Media held in memory between log() and the encoder (our copies of arrays, files, figures):
# past this, log() waits for the encoder (backpressure), as it does when the queue is full.
MEDIA_QUEUE_MAX_BYTES = 256 * 1024**2
ENCODER_THREADS = max(1, min(4, os.cpu_count() or 1))
MEDIA = -3  # queue marker in the step slot (see _sender.py): (MEDIA, key id, (step, items), time)


class MediaTooLarge(ValueError):
    """An encoded media file is over MEDIA_MAX_BYTES (dropped, as the official SDK drops it)."""


@dataclass(frozen=True)
class Stored:
    """A media file that is durable in the run folder; what its MediaRef says."""

    path: str  # relative to the run folder: media/<medium>/<file>
    caption: str
    sha256: str
    size: int


def write_durable(run_dir: Path, step: int, media: Media) -> Stored:
    """Encode `media`, write it under media/<medium>/ and fsync it (its folder: `sync_dirs`)."""
    content = media.encode()
    if len(content) > MEDIA_MAX_BYTES:
        raise MediaTooLarge(f"{len(content)} bytes encoded, over the limit of {MEDIA_MAX_BYTES}")
    digest = hashlib.sha256(content).hexdigest()
    name = f"{step:03d}-{digest[:8]}.{media.ext}"
    rel = f"media/{media.MEDIUM}/{name}"
    target = run_dir / rel
    # A file of this name is this content: it was renamed into place only after its fsync.
    if not (target.is_file() and target.stat().st_size == len(content)):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    return Stored(rel, media.caption or "", digest, len(content))


def sync_dirs(run_dir: Path, mediums: set[str]) -> None:
    """fsync the folders whose entries changed, so the renamed files survive a host crash."""
    for folder in [run_dir / "media" / m for m in sorted(mediums)] + [run_dir / "media", run_dir]:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class MediaBudget:
    """Bytes of media queued by log() and not yet encoded; log() waits past the bound."""

    def __init__(self, limit: int = MEDIA_QUEUE_MAX_BYTES) -> None:
        self.limit = limit
        self.held = 0
        self._cond = threading.Condition()

    def reserve(self, n: int, alive: Callable[[], bool]) -> bool:
        """Count `n` bytes in; wait (polling `alive`) while over the bound. True if it waited."""
        waited = False
        with self._cond:
            while self.held and self.held + n > self.limit and alive():
                waited = True
                self._cond.wait(0.1)
            self.held += n
        return waited

    def release(self, n: int) -> None:
        with self._cond:
            self.held = max(0, self.held - n)
            self._cond.notify_all()


class MediaEncoder:
    """The sender's encoder: media items of a take are encoded and written in a small thread pool."""

    def __init__(self, budget: MediaBudget, warn: Callable[..., None]) -> None:
        self.budget = budget
        self._warn = warn
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def encode_items(self, run_dir: str, items: list[tuple], names: list[str]) -> list[tuple]:
        """`items` with every media item's objects replaced by `Stored` files; failures dropped.

        A media object that cannot be encoded or written is dropped with one warning per key (the
        official SDK drops it with an error line), never its neighbours; an item left with no
        file is dropped whole.
        """
        jobs = [(i, item) for i, item in enumerate(items) if item[0] == MEDIA]
        if not jobs:
            return items
        if not run_dir:
            # A transport that names no run folder (none of ours does): nowhere to put the files.
            self._warn("media-no-folder", "media dropped: the run has no folder (warned once per run)")
            for _, item in jobs:
                self.budget.release(sum(m.nbytes for m in item[2][1]))
            return [item for item in items if item[0] != MEDIA]
        folder = Path(run_dir)
        futures = {i: [self._submit(folder, item[2][0], m) for m in item[2][1]] for i, item in jobs}
        out: list[tuple | None] = list(items)
        mediums: set[str] = set()
        for i, item in jobs:
            _, key_id, (step, media), t = item
            stored = []
            for m, future in zip(media, futures[i], strict=True):
                try:
                    stored.append(future.result())
                    mediums.add(m.MEDIUM)
                except Exception as exc:  # noqa: BLE001 - a bad value costs only itself, as in the official SDK
                    self._warn(
                        "media-" + names[key_id],
                        "%s for key %r at step %d cannot be stored and is dropped (%s: %s; warned once per key)",
                        type(m).__name__,
                        names[key_id],
                        step,
                        type(exc).__name__,
                        exc,
                    )
                self.budget.release(m.nbytes)
            out[i] = (MEDIA, key_id, (step, stored), t) if stored else None
        if mediums:
            try:
                sync_dirs(folder, mediums)
            except OSError as exc:
                # The files are written and fsynced; only their folder entries may not survive a
                # host crash. Raising here would lose the rows taken with them (never worth it).
                self._warn("media-dir-sync", "the run's media folders could not be synced (%s; warned once)", exc)
        return [item for item in out if item is not None]

    def _submit(self, folder: Path, step: int, media: Media) -> concurrent.futures.Future[Stored]:
        """write_durable in the pool, or in this thread once the pool can take no work."""
        try:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(ENCODER_THREADS, thread_name_prefix="swanlab-media")
            with _threads.blocked():  # the pool's threads start in submit()
                return self._pool.submit(write_durable, folder, step, media)
        except RuntimeError:
            # Past the main thread's end, concurrent.futures takes no new work and makes no new
            # pool, yet atexit's finish() still sends what was logged last (MMEngine's last
            # validation image, with no finish() of its own).
            written: concurrent.futures.Future[Stored] = concurrent.futures.Future()
            try:
                written.set_result(write_durable(folder, step, media))
            except Exception as exc:  # noqa: BLE001 - reported by the caller as a pool's failure is
                written.set_exception(exc)
            return written

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
