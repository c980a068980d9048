"""The scalar lanes' batch builder: what goes up, whatever shape the records have.

A training loop's records (same keys every row, steps rising) are encoded column by column;
anything else (a key twice in a row, a step going back, non-finite values, a key defined half
way) point by point. Both must give what the plain rule says, per key in file order: a point
goes up unless its step went up before or is at or below the resume floor, each point once,
non-finite values as "nan"; in a record the lane may have sent before (a resent batch), only
steps above the highest so far go up. Every point not sent for its step is counted as skipped,
unless its record may have been sent.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from swanlabd.format import backup
from swanlabd.upload import batches, cloudapi
from swanlabd.upload.batches import KeyTable
from swanlabd.upload.stepset import StepSet
from swanlabd.upload.uploadstate import LaneCursor
from swanlabd_pb import records_pb2 as pb

KEYS = 6


Item = tuple[str, int, float, int, int]  # key, step, value, time_ms, record seq


def write_run(run_dir: Path, seed: int, compact_rows: bool = False, zero_rows: bool = False) -> list[Item]:
    """A backup of varied ScalarRows records (packed columns, or compact as the daemon stores
    them); returns every item in file order. With `zero_rows`, records of no rows (what a journal
    range of KEY entries only makes, docs/journal.md) come between them."""
    rnd = random.Random(seed)
    items: list[Item] = []
    with backup.BackupWriter.create(run_dir / backup.BACKUP_FILENAME, "run1", compact_rows=compact_rows) as writer:
        writer.append([pb.Record(time_ms=1000, run_start=pb.RunStart(run_id="run1", project="p"))])
        defined, step = KEYS - 2, 0
        writer.append(
            [
                pb.Record(
                    time_ms=1000,
                    writer=1,
                    keys=pb.KeyDefs(keys=[pb.KeyDef(id=k, name=f"k{k}", type=pb.FLOAT) for k in range(defined)]),
                )
            ]
        )
        for r in range(150):
            if r in (50, 100):
                writer.append(
                    [
                        pb.Record(
                            time_ms=1000,
                            writer=1,
                            keys=pb.KeyDefs(keys=[pb.KeyDef(id=defined, name=f"k{defined}", type=pb.FLOAT)]),
                        )
                    ]
                )
                defined += 1
            regular = rnd.random() < 0.7
            steps, sizes, key_ids, values, added = [], [], [], [], []
            deltas = [rnd.randint(0, 30) for _ in range(rnd.randint(1, 30))] if rnd.random() < 0.5 else []
            time_ms = 2000 + 100 * r
            for row in range(len(deltas) or rnd.randint(1, 30)):
                if regular or rnd.random() < 0.8:
                    step += 1
                else:
                    step = max(0, step - rnd.randint(1, 4))
                row_keys = list(range(defined)) if regular else rnd.sample(range(defined), rnd.randint(1, defined))
                if not regular and rnd.random() < 0.1:
                    row_keys.append(row_keys[0])  # the same key twice in one row
                steps.append(step)
                sizes.append(len(row_keys))
                for kid in row_keys:
                    x = rnd.random()
                    value = math.nan if x < 0.03 else -math.inf if x < 0.05 else rnd.random() * 100
                    key_ids.append(kid)
                    values.append(value)
                    added.append((f"k{kid}", step, value, time_ms + (deltas[row] if deltas else 0)))
            rows = pb.ScalarRows(steps=steps, row_sizes=sizes, key_ids=key_ids, values=values, time_deltas_ms=deltas)
            rec = pb.Record(time_ms=time_ms, writer=1, scalars=rows)
            writer.append([rec])
            items += [(*item, rec.seq) for item in added]
            if zero_rows and r % 5 == 0:
                writer.append([pb.Record(time_ms=time_ms, writer=1, journal_end=16 * (r + 1), scalars=pb.ScalarRows())])
    return items


def expected(
    items: list[Item], part: int, sent_seq: int = 0, floor: int = -1, doubted: bool = False
) -> tuple[list[dict], int]:
    """The points lane `part` sends, and how many of its points it skips for their steps."""
    top: dict[str, int] = {}
    sent: dict[str, set[int]] = {}
    out = []
    skipped = 0
    for key, step, value, time_ms, seq in items:
        if zlib.crc32(key.encode()) % batches.SCALAR_LANES != part:
            continue
        maybe_sent = seq <= sent_seq
        if step in sent.get(key, ()) or step <= floor or ((maybe_sent or doubted) and step <= top.get(key, -1)):
            skipped += 0 if maybe_sent else 1
            continue
        top[key] = max(step, top.get(key, -1))
        sent.setdefault(key, set()).add(step)
        data = value if math.isfinite(value) else "nan"
        out.append({"key": key, "index": step, "data": data, "create_time": cloudapi.iso_utc(time_ms)})
    return out, skipped


def records(path: Path, offset: int, keys: KeyTable) -> Iterator[tuple[pb.Record, int, int]]:
    """A lane's read from `offset`, as the uploader makes it: each KeyDefs taught to `keys` on the way."""
    for rec, end in backup.read_records(path, offset):
        keys.learn(rec)
        yield rec, offset, end
        offset = end


def drain(
    run_dir: Path, part: int, limit: int, sent_seq: int = 0, floor: int = -1, doubt_end: int = 0
) -> tuple[list[dict], int]:
    """Every batch of scalar lane `part` from the start, each accepted as the server would:
    the points sent, and how many were counted as skipped."""
    keys, cursor, last = KeyTable(), LaneCursor(), {}
    stepsets: dict[str, StepSet] = {}
    floors = {f"k{k}": floor for k in range(KEYS)}
    sent: list[dict] = []
    skipped = 0
    while True:
        batch = batches.scalar_batch(
            records(run_dir / backup.BACKUP_FILENAME, cursor.offset, keys),
            keys,
            part,
            cursor,
            last,
            limit,
            sent_seq,
            stepsets,
            floors,
            doubt_end,
        )
        assert len(batch.items) <= limit
        sent += [json.loads(item) for item in batch.items]
        skipped += sum(n for n, _, _ in batch.skipped.values())
        for key, step in batch.steps.items():
            last[key] = max(step, last.get(key, -1))
        for key, stepset in batch.sent.items():
            stepsets.setdefault(key, StepSet()).update(stepset)
        cursor = batch.cursor
        if not batch.full:
            return sent, skipped


@pytest.mark.parametrize("compact_rows", [False, True], ids=["columns", "compact"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_lane_sends_each_new_point_once_in_order(seed: int, compact_rows: bool) -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="sd-sb-", dir="/tmp"))
    try:
        items = write_run(run_dir, seed, compact_rows)
        middle = items[len(items) // 2][4]
        for part in range(batches.SCALAR_LANES):
            want = expected(items, part)
            assert want[1] > 0  # the random run repeats steps
            # A small limit cuts batches inside records: the cursor's item index must resume exactly.
            assert drain(run_dir, part, 7) == want
            assert drain(run_dir, part, 10_000) == want
            # Records the lane may have sent before (a batch resent after a lost answer): steps
            # that went back are not sent again, and no skip is a loss.
            resent = expected(items, part, sent_seq=10**6)
            assert resent[1] == 0 and len(resent[0]) < len(want[0])
            assert drain(run_dir, part, 10_000, sent_seq=10**6) == resent
            assert drain(run_dir, part, 7, sent_seq=middle) == expected(items, part, sent_seq=middle)
            # A backlog an earlier upload may have sent part of: steps that went back are not
            # sent, and the skips are said (its `sent_seqs` may lag).
            size = (run_dir / backup.BACKUP_FILENAME).stat().st_size
            assert drain(run_dir, part, 7, doubt_end=size) == expected(items, part, doubted=True)
            # A resumed run: steps at or below where it began are not sent.
            assert drain(run_dir, part, 7, floor=20) == expected(items, part, floor=20)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.mark.parametrize("compact_rows", [False, True], ids=["columns", "compact"])
def test_records_of_zero_rows_send_nothing_and_stop_nothing(compact_rows: bool) -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="sd-sb-", dir="/tmp"))
    try:
        items = write_run(run_dir, 4, compact_rows, zero_rows=True)
        for part in range(batches.SCALAR_LANES):
            want = expected(items, part)
            assert drain(run_dir, part, 7) == want
            assert drain(run_dir, part, 10_000) == want
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
