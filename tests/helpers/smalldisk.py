"""A real filesystem small enough to fill up: a tmpfs mounted for one test (root only; CI runs as root).

    with SmallDisk(path) as disk:   # mounts a 2 MiB tmpfs at `path` (made if missing)
        disk.fill()                 # a ballast file takes every free page: writes now fail ENOSPC
        disk.free()                 # the ballast goes: there is space again

A real tmpfs, not an injected error: write() fails the way it does on a full disk (a short write,
then ENOSPC), LevelDB's log fails its own way, and rmdir/unlink still work. Pages are the unit:
a file whose last page has room still grows a little after `fill()`, as on any filesystem.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from types import TracebackType

CHUNK = 64 * 1024


class SmallDisk:
    """One tmpfs at `path`; unmounted (lazily: a process may still hold a file there) on exit."""

    def __init__(self, path: Path, size: str = "2m") -> None:
        self.path = path
        self.size = size
        self.ballast = path / "ballast"

    def __enter__(self) -> SmallDisk:
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0700", "tmpfs", str(self.path)],
            check=True,
            capture_output=True,
        )
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=True, capture_output=True)

    def fill(self) -> int:
        """Write the ballast until the disk is full; return its size in bytes."""
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (CHUNK, 4096, 512):  # then the bytes big chunks no longer fit
                while True:
                    try:
                        os.write(fd, b"\0" * chunk)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def free(self) -> None:
        """Remove the ballast: the space it held is free again at once."""
        self.ballast.unlink()
