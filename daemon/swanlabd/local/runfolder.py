"""Run ids and run folders: one definition for the daemon's StartRun and the client's fallback file.

A run folder is `<data root>/runs/run-YYYYMMDD_HHMMSS-<run_id>/` holding `backup.swanlab` (its
first records: FileHeader, RunStart, Config, Metadata, Requirements) and readable copies of the
config, metadata and requirements under `files/`. `create` builds it under a temporary name and
renames it into place, so a folder is either whole or absent. The daemon (`RunStore._create`)
and a client that reaches no daemon (`swanlab_client._transport.FileTransport`) both create
folders here; the daemon adopts the client's later. They once had a copy each, which drifted.

Blocking file work: the daemon calls `create` in a worker thread. Light to import (stdlib
only): the client's init() checks and makes run ids here; protobuf and the backup format load
with the first RunStart or folder made.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import secrets
import shutil
import string
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swanlabd.format.backup import BackupWriter
    from swanlabd_pb import records_pb2 as pb
    from swanlabd_pb import service_pb2 as svc

RUN_ID_ALPHABET = string.ascii_lowercase + string.digits
RUN_ID_LENGTH = 21  # SwanLab experiment cuids are 21 lowercase alphanumerics
MAX_RUN_ID_LENGTH = 64
# ASCII only: a run id names a folder and is the experiment's cuid in the cloud's URLs.
RUN_ID_CHARS = frozenset(string.ascii_letters + string.digits + "-_")
# The names init() accepts (swanlab_client/_validate.py, as the official SDK): a project name is
# 1-100 letters, digits, '-', '_', '.' or '+'; an experiment name 1-255 characters, not all blank.
# A workspace (a user or an organisation) is held to the project rule. Empty is allowed for each
# in a file, as StartRun allows it: the uploader then uses its defaults.
MAX_PROJECT_LENGTH = 100
NAME_CHARS = frozenset(string.ascii_letters + string.digits + "-_.+")
MAX_EXPERIMENT_NAME_LENGTH = 255
# A run folder being built: `runs/.new-<folder name>-<random>/`, renamed into place once its
# backup holds the header and metadata records, so a failed create leaves no half-made folder
# that blocks its retry. The leading dot keeps it out of adoption.
NEW_FOLDER_PREFIX = ".new-"


class FolderInTheWay(FileExistsError):
    """A folder of the new run's name already holds something (written without this daemon)."""


def new_run_id() -> str:
    return "".join(secrets.choice(RUN_ID_ALPHABET) for _ in range(RUN_ID_LENGTH))


def check_run_id(run_id: str) -> None:
    """Raise ValueError unless `run_id` is 1-64 ASCII letters, digits, '-' or '_' (it names a folder)."""
    if not run_id or len(run_id) > MAX_RUN_ID_LENGTH or not RUN_ID_CHARS.issuperset(run_id):
        raise ValueError(f"run id {run_id!r} must be 1-{MAX_RUN_ID_LENGTH} letters, digits, '-' or '_'")


def check_run_start(run_id: str, start: pb.RunStart) -> None:
    """Raise ValueError unless a backup's run id and its RunStart's ids and names are ones the
    daemon's StartRun and the client's init() accept: a folder the daemon did not write may name
    anything, and these end up in folder names and cloud requests."""
    check_run_id(run_id)
    if start.run_id and start.run_id != run_id:
        raise ValueError(f"RunStart names run {start.run_id!r}, the file's header run {run_id!r}")
    for what, value in (("project", start.project), ("workspace", start.workspace)):
        if len(value) > MAX_PROJECT_LENGTH or not NAME_CHARS.issuperset(value):
            raise ValueError(
                f"{what} {value!r} must be up to {MAX_PROJECT_LENGTH} letters, digits, '-', '_', '.' or '+'"
            )
    name = start.experiment_name
    if name and (not name.strip() or len(name) > MAX_EXPERIMENT_NAME_LENGTH):
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise ValueError(f"experiment name {shown!r} must be up to {MAX_EXPERIMENT_NAME_LENGTH} characters, not blank")


def highest_step(record: pb.Record) -> int:
    """The highest step of the user's points a record holds (-1 for none).

    A resumed run's automatic steps go on after the highest step of its file, as the official
    SDK's go on after the cloud's last step; host metrics (writer 0) have steps of their own.
    """
    from swanlabd.format import scalarcodec

    kind = record.WhichOneof("kind")
    if kind == "scalars":
        return max(scalarcodec.steps(record.scalars), default=-1)
    if kind == "media" and record.media.items:
        return max(item.step for item in record.media.items)
    return -1


def run_folder_name(run_id: str, start_ms: int) -> str:
    """`run-YYYYMMDD_HHMMSS-<run_id>`, local time like the SwanLab SDK's folders."""
    return f"run-{time.strftime('%Y%m%d_%H%M%S', time.localtime(start_ms / 1000))}-{run_id}"


def find_run_folder(runs_dir: Path, run_id: str) -> Path | None:
    """The folder of `run_id` under `runs_dir`, whatever its start time, or None."""
    # The time stamp is matched digit by digit: a `*` would also match "<time>-x" and find the
    # folder of run "x-<run_id>".
    stamp = "[0-9]" * 8 + "_" + "[0-9]" * 6
    found = sorted(glob.glob(str(runs_dir / f"run-{stamp}-{glob.escape(run_id)}")))
    return Path(found[0]) if found else None


def new_run_start(request: svc.StartRunRequest, run_id: str, writer: int = 1) -> pb.RunStart:
    """The new run's RunStart record: the client's, with its run id, start time and pid filled in,
    and the journal of that process (StartRun's), which writes as `writer` (docs/journal.md)."""
    from swanlabd_pb import records_pb2 as pb

    start = pb.RunStart()
    start.CopyFrom(request.start)
    start.run_id = run_id
    start.start_time_ms = start.start_time_ms or int(time.time() * 1000)
    start.pid = start.pid or request.pid
    start.journal = request.journal
    start.primary_writer = writer if writer != 1 else 0
    return start


def create(
    run_dir: Path, start: pb.RunStart, request: svc.StartRunRequest, *, compact_rows: bool = False
) -> BackupWriter:
    """Create the run folder `run_dir` (all or nothing) and return its backup, open for append
    (storing scalar rows compact with `compact_rows`: the daemon's, not a client's fallback).

    The folder is built under a temporary name (side files, then the backup with its header,
    fsynced by `BackupWriter.create`, and the first records) and renamed into place; then
    `runs/` is fsynced so the new entry survives a power loss. Raises FolderInTheWay if
    `run_dir` exists and is not empty (it is never replaced), OSError or BackupError else.
    """
    from swanlabd.format import backup
    from swanlabd.local import packages
    from swanlabd_pb import records_pb2 as pb

    requirements = packages.resolved(request.requirements)  # the package list of its sys_path
    t = int(time.time() * 1000)
    first = [
        pb.Record(time_ms=t, run_start=start),
        pb.Record(time_ms=t, config=request.config),
        pb.Record(time_ms=t, metadata=request.metadata),
        pb.Record(time_ms=t, requirements=requirements),
    ]
    tmp = run_dir.with_name(f"{NEW_FOLDER_PREFIX}{run_dir.name}-{secrets.token_hex(4)}")
    tmp.mkdir(mode=0o700)  # private, whoever's umask: configs, output and metrics are the user's
    writer = None
    placed = False
    try:
        write_side_files(tmp, request.config.json, request.metadata.json, requirements)
        writer = backup.BackupWriter.create(tmp / backup.BACKUP_FILENAME, start.run_id, compact_rows=compact_rows)
        writer.append(first)
        try:
            os.rename(tmp, run_dir)  # never replaces a folder that holds anything
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FolderInTheWay(errno.EEXIST, "a folder is in the way", str(run_dir)) from None
            raise
        placed = True
        fsync_dir(run_dir.parent)
    except BaseException:
        if writer is not None:
            try:
                writer.close()
            except backup.StorageError:
                pass  # the folder is thrown away; the caller reports the first failure
        shutil.rmtree(run_dir if placed else tmp, ignore_errors=True)
        raise
    writer.path = run_dir / backup.BACKUP_FILENAME
    return writer


def write_side_files(run_dir: Path, config_json: str, metadata_json: str, requirements: pb.Requirements) -> None:
    """files/config.yaml, files/swanlab-metadata.json, files/requirements.txt (readable copies).

    config.yaml is written as indented JSON, which is valid YAML 1.2: no YAML dependency, and
    every value (NaN included) round-trips as the client sent it.
    """
    files = run_dir / "files"
    files.mkdir(mode=0o700, exist_ok=True)
    config = json.loads(config_json) if config_json else {}
    _write_private(files / "config.yaml", json.dumps(config, indent=2, sort_keys=True) + "\n")
    metadata = json.loads(metadata_json) if metadata_json else {}
    _write_private(files / "swanlab-metadata.json", json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    if requirements.pip:
        _write_private(files / "requirements.txt", requirements.pip)
    if requirements.conda:
        _write_private(files / "conda.txt", requirements.conda)


def _write_private(path: Path, text: str) -> None:
    """Write a new file 0600 (the run folder's files stay private when copied out of it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(text)


def fsync_dir(path: Path) -> None:
    """fsync a folder, so the entries made or renamed in it survive a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
