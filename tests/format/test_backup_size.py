"""Size on disk of 20,000 rows of 10 scalars (SwanLab's own backup takes 66.5 bytes a scalar,
W&B's about 58). Records are built as the client batches them (swanlab_client/_sender.py):
KeyDefs once, then ScalarRows of packed columns with per-row time deltas, appended as packed
columns (a client's fallback file: at most 12 bytes a scalar) or compact, as the daemon stores
them: at most 9.5 bytes a scalar for random doubles (incompressible), at most 5 for values that
came from float32 tensors (`loss.item()`). bench/bench_backup.py prints the figures too."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from swanlabd.format import backup, scalarcodec
from swanlabd_pb import records_pb2 as pb

ROWS, KEYS = 20_000, 10


def float32(value: float) -> float:
    """The double a float32 tensor's .item() returns for `value`."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def scalar_batches(rows_per_record: int, values: str = "double") -> list[pb.Record]:
    rnd = random.Random(7)
    draw = (lambda: rnd.uniform(-1e3, 1e3)) if values == "double" else (lambda: float32(rnd.gauss(0, 2)))
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
                    values=[draw() for _ in range(KEYS * len(steps))],
                    time_deltas_ms=[37 * (s - first) + rnd.randrange(5) for s in steps],
                ),
            )
        )
    return records


@pytest.mark.parametrize("rows_per_record", [200, 500, 16_384 // KEYS])
@pytest.mark.parametrize(
    ("form", "values", "limit"), [("columns", "double", 12), ("compact", "double", 9.5), ("compact", "float32", 5)]
)
def test_bytes_per_scalar(tmpdir_short: Path, rows_per_record: int, form: str, values: str, limit: float) -> None:
    path = tmpdir_short / backup.BACKUP_FILENAME
    records = scalar_batches(rows_per_record, values)
    with backup.BackupWriter.create(path, "size", compact_rows=form == "compact") as writer:
        for i in range(0, len(records), 16):
            writer.append(records[i : i + 16])
    per_scalar = path.stat().st_size / (ROWS * KEYS)
    print(
        f"{form}, {values}, {rows_per_record} rows per record: {path.stat().st_size} bytes, {per_scalar:.2f} B/scalar"
    )
    assert per_scalar <= limit
    read = [r.scalars for r, _ in backup.read_records(path) if r.WhichOneof("kind") == "scalars"]
    assert all(bool(rows.blocks) == (form == "compact") for rows in read)
    assert [v for rows in read for v in scalarcodec.decode(rows).values] == [
        v for r in records[1:] for v in r.scalars.values
    ]
