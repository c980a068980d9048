"""A full read of a backup file: what it tells about a run, to adopt a folder or reopen a run.

Damaged parts are counted (`Scan.lost_bytes`) and logged, never fatal: the reader reports, this
module decides (style habit 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from swanlabd.format import backup, scalarcodec
from swanlabd.local.runfolder import highest_step
from swanlabd_pb import records_pb2 as pb

log = logging.getLogger(__name__)


@dataclass
class Scan:
    """What a full read of a backup file tells about a run (used to adopt and to recover)."""

    header: pb.FileHeader | None = None
    run_start: pb.RunStart | None = None  # the last one (a process that went on with the run adds one)
    run_start_ms: int = 0  # its record's time
    finish: pb.Finish | None = None  # the file's last record, if it is a Finish
    records: int = 0
    keys: dict[int, dict[int, str]] = field(default_factory=dict)
    key_types: dict[int, dict[int, int]] = field(default_factory=dict)  # writer -> key id -> KeyType
    system_rows: int = 0
    last_step: int = -1  # the highest step of the user's points (runfolder.highest_step)
    lost_bytes: int = 0


def scan_backup(path: Path) -> Scan:
    """Read a whole backup file; damaged parts are counted, never fatal."""
    scan = Scan()

    class Reporter:
        def lost(
            self,
            nbytes: int,
            reason: str,
            offset: int,
            seqs: tuple[int, int] | None,
            pieces: tuple[backup.PieceLoss, ...] = (),
        ) -> None:
            scan.lost_bytes += nbytes
            log.warning("%s: %s", path, backup.describe_loss(nbytes, reason, offset, seqs, pieces))

    for record, _ in backup.read_records(path, 0, Reporter()):
        scan.records += 1
        kind = record.WhichOneof("kind")
        # Finished = a Finish record is the last one (a resumed run has records after an old one).
        scan.finish = record.finish if kind == "finish" else None
        if kind == "header":
            scan.header = record.header
        elif kind == "run_start":
            scan.run_start = record.run_start
            scan.run_start_ms = record.time_ms
        elif kind == "keys":
            scan.keys.setdefault(record.writer, {}).update((k.id, k.name) for k in record.keys.keys)
            scan.key_types.setdefault(record.writer, {}).update((k.id, k.type) for k in record.keys.keys)
        elif kind == "system":
            scan.system_rows += len(scalarcodec.steps(record.system))
        elif kind == "scalars" or kind == "media":
            scan.last_step = max(scan.last_step, highest_step(record))
    return scan
