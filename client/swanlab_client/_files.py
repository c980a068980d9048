"""save(): put files into the run's files/ folder and record them (SavedFile), as the official SDK's save().

save() resolves the glob in the caller's thread (so it can return the matched names at once,
as the official SDK does) and hands the files to one background thread. That thread links each
file into `<run folder>/files/<relative path>` (a hard link, so nothing is copied on the same
file system; a copy otherwise), hashes it and queues a SavedFile record in order with the
rows; the daemon's files lane uploads it. finish() waits for that thread. Policies "end" and
"live" also take a file again at finish() if it changed since (the official SDK watches "live"
files and uploads every change; this client takes the state at save() and at finish()).
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import queue
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from swanlab_client import _threads

if TYPE_CHECKING:
    from swanlab_client._run import Run

_logger = logging.getLogger("swanlab_client")
POLICIES = ("now", "end", "live")
MAX_FILES_PER_CALL = 100  # the official SDK's Settings.core.save_batch
_GLOB_CHARS = "*?["


def _base_of(glob_path: Path) -> Path:
    """For an absolute glob without base_path: the parent of its last fixed directory (the official rule)."""
    fixed: list[str] = []
    for part in glob_path.parts:
        if any(c in part for c in _GLOB_CHARS):
            break
        fixed.append(part)
    anchor = glob_path.parent if len(fixed) == len(glob_path.parts) else Path(*fixed)
    return anchor.parent


def resolve(
    glob_str: str | bytes | os.PathLike[str], base_path: str | os.PathLike[str] | None
) -> list[tuple[Path, str]] | None:
    """(source, path relative to the base) of each regular file the glob matches.

    None, with an error line, if the input is bad (the official SDK's rules).
    """
    if isinstance(glob_str, bytes):
        try:
            glob_str = glob_str.decode()
        except UnicodeDecodeError:
            _logger.error("swanlab_client: save(): the glob bytes are not UTF-8; nothing is saved")
            return None
    if not isinstance(glob_str, (str, os.PathLike)):
        _logger.error("swanlab_client: save() takes a str, bytes or Path glob, not %s", type(glob_str).__name__)
        return None
    text = os.fspath(glob_str)
    if text.startswith(("gs://", "s3://")):
        _logger.warning("swanlab_client: save(%r): a cloud storage URL cannot be saved", text)
        return None
    pattern = Path(text).resolve()
    if base_path is not None:
        base = Path(base_path).resolve()
    elif not Path(text).is_absolute():
        base = Path.cwd().resolve()
    else:
        base = _base_of(pattern)
        _logger.warning("swanlab_client: save(%r) without base_path: paths in the run are relative to %s", text, base)
    if not pattern.is_relative_to(base):
        _logger.error("swanlab_client: save(%r): the glob is outside the base path %s; nothing is saved", text, base)
        return None
    found = []
    for match in sorted(glob.glob(str(pattern), recursive=True)):
        source = Path(match)
        if source.is_file() and source.is_relative_to(base):
            found.append((source, source.relative_to(base).as_posix()))
    return found


class FileSaver:
    """The background thread of one run's save() calls (see the module docstring)."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._work: queue.Queue[tuple[Path, str] | None] = queue.Queue()
        self._later: dict[str, tuple[Path, tuple[int, int]]] = {}  # "end"/"live": name -> source, (size, mtime)
        self._thread = threading.Thread(target=self._loop, name="swanlab-save", daemon=True)
        _threads.start(self._thread)

    def add(self, files: list[tuple[Path, str]], policy: str) -> None:
        for source, name in files:
            if policy != "now":
                self._later[name] = (source, (-1, -1))
            self._work.put((source, name))

    def close(self, timeout: float) -> None:
        """finish(): take changed "end"/"live" files again, then wait for the thread."""
        for name, (source, _) in list(self._later.items()):
            self._work.put((source, name))
        self._work.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (item := self._work.get()) is not None:
            source, name = item
            try:
                self._take(source, name)
            except OSError as exc:
                _logger.warning("swanlab_client: save(): %s was not saved: %s", source, exc)

    def _take(self, source: Path, name: str) -> None:
        st = source.stat()
        stamp = (st.st_size, st.st_mtime_ns)
        later = self._later.get(name)
        if later is not None:
            if later[1] == stamp:
                return  # unchanged since it was last taken
            self._later[name] = (source, stamp)
        run_dir = self._run.run_dir
        if run_dir is None:
            return  # disabled, or no daemon answered: nothing to save into
        target = run_dir / "files" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        try:
            os.link(source, partial)
        except OSError:
            shutil.copy2(source, partial)
        os.replace(partial, target)
        digest = hashlib.sha256()
        with target.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        self._run._saved(f"files/{name}", target.stat().st_size, digest.hexdigest())


def save_files(
    run: Run, glob_str: str | bytes | os.PathLike[str], base_path: str | os.PathLike[str] | None, policy: str
) -> list[str]:
    if not isinstance(policy, str) or policy.lower() not in POLICIES:
        _logger.error("swanlab_client: save(policy=%r): allowed values are %s; nothing is saved", policy, POLICIES)
        return []
    found = resolve(glob_str, base_path)
    if found is None:
        return []
    if not found:
        _logger.warning("swanlab_client: save(%r): no files matched", glob_str)
        return []
    if len(found) > MAX_FILES_PER_CALL:
        raise ValueError(f"Too many files matched ({len(found)}), limit is {MAX_FILES_PER_CALL}")
    if run._mode != "disabled":
        run._file_saver().add(found, policy.lower())
    return [name for _, name in found]
