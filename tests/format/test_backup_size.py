"""Size on disk: 20,000 rows of 10 scalars take at most 12 bytes per scalar (SwanLab's own
backup takes 66.5, W&B's about 58). Records are built as the client batches them
(swanlab_client/_sender.py): KeyDefs once, then ScalarRows of packed columns with random
doubles (incompressible) and per-row time deltas. bench/bench_backup.py prints the figure too."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from swanlabd.format import backup
from swanlabd_pb import records_pb2 as pb

ROWS, KEYS = 20_000, 10


def scalar_batches(rows_per_record: int) -> list[pb.Record]:
    rnd = random.Random(7)
    records = [
        pb.Record(
            writer=1,
            client_seq=1,
            keys=pb.KeyDefs(keys=[pb.KeyDef(id=k, name=f"train/metric_{k}", type=pb.FLOAT) for k in range(KEYS)]),
        )
    ]
    for first in range(0, ROWS, rows_per_record):
        steps = range(first, min(first + rows_per_record, ROWS))
        records.append(
            pb.Record(
                time_ms=1_700_000_000_000 + 37 * first,
                writer=1,
                client_seq=len(records) + 1,
                scalars=pb.ScalarRows(
                    steps=steps,
                    row_sizes=[KEYS] * len(steps),
                    key_ids=list(range(KEYS)) * len(steps),
                    values=[rnd.uniform(-1e3, 1e3) for _ in range(KEYS * len(steps))],
                    time_deltas_ms=[37 * (s - first) + rnd.randrange(5) for s in steps],
                ),
            )
        )
    return records


@pytest.mark.parametrize("rows_per_record", [200, 500, 16_384 // KEYS])
def test_at_most_12_bytes_per_scalar(tmpdir_short: Path, rows_per_record: int) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    records = scalar_batches(rows_per_record)
    with backup.BackupWriter.create(path, "size") as writer:
        for i in range(0, len(records), 16):
            writer.append(records[i : i + 16])
    per_scalar = path.stat().st_size / (ROWS * KEYS)
    print(f"{rows_per_record} rows per record: {path.stat().st_size} bytes, {per_scalar:.2f} bytes per scalar")
    assert per_scalar <= 12
    assert sum(len(r.scalars.values) for r, _ in backup.read_records(path)) == ROWS * KEYS
