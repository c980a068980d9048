"""A run's package list: what is installed on the training process's import path, as `pip freeze`
lists it ("Name==version" lines, sorted without regard to case).

The training process sends only its `sys.path` (`Requirements.sys_path`); whoever creates the run
folder (the daemon, or a client writing its fallback folder) lists it here, from each package's
header lines (~6 ms for 74 packages; importlib.metadata's full parse took ~50 ms, which the
training process spent in its sender thread while it trained). The daemon keeps the listings of
the last few import paths, keyed on each folder's mtime (installing or removing a package
changes its folder's): a host's runs share a few environments, so most runs cost it a stat per
path. A listing read while a folder's mtime is recent is not kept: a change within the same
clock tick would leave the mtime as it was (git's "racily clean" entries, the same answer).
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from swanlabd_pb import records_pb2 as pb

# A StartRun may name at most this many paths, each at most PATH_MAX bytes (a raw client may send anything).
MAX_PATHS = 1024
PATH_MAX = 4096
_CACHED = 16  # import paths whose listing is kept
_SETTLED_NS = 2_000_000_000  # a folder changed less than this long before a listing: not kept

_lock = threading.Lock()
_cache: OrderedDict[tuple[tuple[str, int], ...], str] = OrderedDict()


def check(paths: Sequence[str]) -> None:
    """ValueError unless `paths` is an import path this module lists: bounded, absolute entries."""
    if len(paths) > MAX_PATHS:
        raise ValueError(f"requirements.sys_path has {len(paths)} entries, more than {MAX_PATHS}")
    for path in paths:
        if len(path.encode(errors="surrogateescape")) > PATH_MAX or "\0" in path or not os.path.isabs(path):
            raise ValueError(
                f"requirements.sys_path entry {path[:100]!r} is not an absolute path of at most {PATH_MAX} bytes"
            )


def listing(paths: Sequence[str]) -> str:
    """The packages installed on `paths`, one "Name==version" line each (as the process whose
    sys.path it is would list with importlib.metadata.distributions())."""
    begun = time.time_ns()
    key = tuple((path, _mtime_ns(path)) for path in paths)
    with _lock:
        if (known := _cache.get(key)) is not None:
            _cache.move_to_end(key)
            return known
    # importlib.metadata keeps its own lookups per folder and mtime: read afresh, as decided above.
    importlib.metadata.MetadataPathFinder().invalidate_caches()  # an instance: a classmethod only from 3.12
    lines = set()
    for dist in importlib.metadata.distributions(path=list(paths)):
        name, version = _name_and_version(dist)
        if name:
            lines.add(f"{name}=={version}")
    text = "\n".join(sorted(lines, key=str.lower)) + "\n" if lines else ""
    if all(mtime < begun - _SETTLED_NS for _, mtime in key):
        with _lock:
            _cache[key] = text
            while len(_cache) > _CACHED:
                _cache.popitem(last=False)
    return text


def resolved(requirements: pb.Requirements) -> pb.Requirements:
    """`requirements` as a run folder stores them: `sys_path` turned into the `pip` list (unless
    the sender gave one), and left out."""
    if not requirements.sys_path:
        return requirements
    out = pb.Requirements()
    out.CopyFrom(requirements)
    out.ClearField("sys_path")
    if not out.pip:
        out.pip = listing(requirements.sys_path)
    return out


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str, str]:
    """The Name and Version headers of a distribution's METADATA (PKG-INFO for an egg-info).

    Read from the header lines alone: `dist.metadata` parses the whole file as an email message,
    long description included, which took 0.7 ms a package here (56 ms for 74; this, 6 ms).
    """
    name = version = ""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for line in text.split("\n\n", 1)[0].splitlines():
        if not line.strip():
            break  # the end of the headers
        field, _, value = line.partition(":")
        if field == "Name" and not name:
            name = value.strip()
        elif field == "Version" and not version:
            version = value.strip()
    if not (name and version):  # headers this scan does not understand: the full parser decides
        metadata = dist.metadata
        return metadata.get("Name") or "", metadata.get("Version") or ""  # type: ignore[attr-defined]
    return name, version


def _mtime_ns(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1  # not there (yet): a folder made later has an mtime, so a new key
