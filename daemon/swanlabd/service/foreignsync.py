"""`swanlabctl sync` of another tool's run: convert what is new into a swanlabd run (docs/sync.md).

    source (user's files, read only) --reader (swanlabd/foreign)--> chunks of our Records
        --> RunStore: start or resume the run, append each chunk + its SourceCursor in one write,
            Finish once the source ended --> the uploader, as for any run

Each sync is one writer of the run (StartRun resume="allow", as a resumed script is), so the
converted run is an ordinary run folder in the data root: `ls`, `dump`, `verify` and the
uploader need nothing of their own. Exactly once rests on the SourceCursor record: it goes
into the backup in the same write as the records it covers, so after a kill (of the sync or
of the daemon) the file holds a chunk and its cursor, or neither, and the next sync reads the
source from the last cursor in the file. A source with nothing new costs no write and no
request. A source that has not ended leaves the run RUNNING (its experiment too); the next
sync appends to it, and the one that finds the tool's finish record ends it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from swanlabd.foreign import Chunk, Source
from swanlabd.format import backup
from swanlabd.format.runstate import RunState
from swanlabd.storage.runstore import RunStore, now_ms
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2

log = logging.getLogger(__name__)


@dataclass
class Report:
    """What one sync converted from one source."""

    run_id: str
    kind: str
    path: str
    records: int = 0
    points: int = 0
    losses: list[str] = field(default_factory=list)
    unknown: Counter[str] = field(default_factory=Counter)

    def message(self) -> service_pb2.Conversion:
        return service_pb2.Conversion(
            source_kind=self.kind,
            source_path=self.path,
            records_converted=self.records,
            points=self.points,
            losses=self.losses,
            unknown=dict(self.unknown),
        )


class Converter:
    """Converts sources into runs of `store`, one conversion per run at a time."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._locks: dict[str, asyncio.Lock] = {}

    async def convert(self, source: Source) -> Report:
        description = await asyncio.to_thread(source.describe)
        run_id = description.run_id
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            return await self._convert(source, run_id, description.start)

    async def _convert(self, source: Source, run_id: str, start: pb.RunStart) -> Report:
        report = Report(run_id, source.kind, str(source.path))
        info = self.store.state.get_run(run_id)
        cursor = None
        if info is not None:
            path = Path(info.run_dir) / backup.BACKUP_FILENAME
            cursor = await asyncio.to_thread(last_cursor, path, info.source_at)
        chunks = source.read(cursor.cursor if cursor else None)
        first = await asyncio.to_thread(next, chunks, None)
        if first is None or (first.empty and info is not None):
            return report  # nothing new: no write, so the uploader has nothing to send either
        totals = cursor or pb.SourceCursor(kind=source.kind, path=str(source.path))
        start.mode, start.resume, start.run_id = pb.MODE_OFFLINE, "allow", run_id
        run, writer, _ = await self.store.start_run(service_pb2.StartRunRequest(start=start))
        if run.info.source != source.kind:
            run.info.source = source.kind
            self.store.publish(run)
        client_seq = 0
        chunk: Chunk | None = first
        finish: pb.Finish | None = None
        while chunk is not None:
            await asyncio.to_thread(_copy_files, chunk.files, Path(run.info.run_dir))
            totals.cursor = chunk.cursor
            totals.lost_records += len(chunk.losses)
            totals.unknown_records += sum(chunk.unknown.values())
            records = [*chunk.records, pb.Record(time_ms=now_ms(), source=totals)]
            for r in records:
                client_seq += 1
                r.client_seq = client_seq
                r.time_ms = r.time_ms or now_ms()
            at = run.size
            self.store.append_batch(run, writer, records)
            run.info.source_at = at
            self.store.publish(run)
            report.records += chunk.source_records
            report.points += chunk.points
            report.losses += chunk.losses
            report.unknown.update(chunk.unknown)
            for line in chunk.losses:
                log.warning("sync %s (%s): %s", source.path, run_id, line)
            finish = chunk.finish or finish
            chunk = await asyncio.to_thread(next, chunks, None)
        if finish is not None:
            await self.store.finish_run(run_id, writer, client_seq, finish)
        log.info(
            "sync %s: %d %s records converted into run %s (%s)",
            source.path,
            report.records,
            source.kind,
            run_id,
            RunState.of(finish.state) if finish else "still running",
        )
        return report


def last_cursor(path: Path, at: int = 0) -> pb.SourceCursor | None:
    """The last SourceCursor in a converted run's backup (None: none yet), read from `at` (the
    run entry's `source_at`: the last chunk's write, so a sync reads one chunk, not the file).

    The entry is a hint: from a run entry behind the file (the daemon died between the append and
    the entry's write) the scan finds the later cursors too; if the file holds none from `at`
    (it was cut shorter than the entry says), the whole file is read.
    """
    found = None
    # Damage in our own file is the uploader's to report (docs/upload.md); here it can only hide
    # a cursor, and an older one means converting again what the uploader then skips per key.
    if 0 < at < path.stat().st_size:
        for record, _ in backup.read_records(path, at):
            if record.WhichOneof("kind") == "source":
                found = record.source
        if found is not None:
            return found
    for record, _ in backup.read_records(path, 0):
        if record.WhichOneof("kind") == "source":
            found = record.source
    return found


def _copy_files(files: list[tuple[Path | bytes, str]], run_dir: Path) -> None:
    """Copy media and saved files in (never link: the user's files must stay as they are)."""
    for src, rel in files:
        dst = run_dir / rel
        size = len(src) if isinstance(src, bytes) else src.stat().st_size
        if dst.is_file() and dst.stat().st_size == size:
            continue  # copied by an earlier sync that was cut off before its records landed
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.part")
        if isinstance(src, bytes):
            tmp.write_bytes(src)
        else:
            shutil.copyfile(src, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        tmp.replace(dst)
