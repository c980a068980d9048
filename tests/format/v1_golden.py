"""The records of `golden/backup-v1.swanlab`, a format-1 backup that the writer before the
compact rows (commit 5047ac4) wrote with `write(path)`; never write it again with newer code.

Every reader must keep reading it: its scalar rows are packed columns of doubles (format 1),
among them NaNs with payloads, -0.0, infinities and subnormals, steps that jump and go back,
rows of different key sets, and one record big enough to be stored as pieces.
"""

from __future__ import annotations

import struct
from pathlib import Path

from swanlabd_pb import records_pb2 as pb

RUN_ID = "golden1"
T0 = 1_700_000_000_000
# Bit patterns of the odd doubles: NaNs (quiet and signalling, both signs, with payloads),
# -0.0, infinities, subnormals, the extremes, and values a float32 holds exactly or not.
ODD_BITS = (
    0x7FF8000000000000,
    0xFFF8000000000000,
    0x7FF8000000000001,
    0x7FF0000000000001,
    0xFFF4000020000000,
    0x7FFFFFFFFFFFFFFF,
    0x8000000000000000,
    0x7FF0000000000000,
    0xFFF0000000000000,
    0x0000000000000001,
    0x000FFFFFFFFFFFFF,
    0x0010000000000000,
    0x7FEFFFFFFFFFFFFF,
    0x3FF0000000000000,
    0x3FB99999A0000000,
    0x3FB999999999999A,
    0x47EFFFFFE0000000,
    0x36A0000000000000,
)


def from_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def bits_of(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def records() -> list[pb.Record]:
    """What the golden file holds after its header, in order."""
    odd = [from_bits(b) for b in ODD_BITS]
    keys = [pb.KeyDef(id=i, name=f"train/k{i}", type=pb.FLOAT) for i in range(1, 7)]
    out = [
        pb.Record(time_ms=T0, run_start=pb.RunStart(run_id=RUN_ID, project="golden", mode=pb.MODE_OFFLINE)),
        pb.Record(time_ms=T0, writer=1, client_seq=1, keys=pb.KeyDefs(keys=keys)),
        pb.Record(
            time_ms=T0 + 5,
            writer=1,
            client_seq=2,
            scalars=pb.ScalarRows(
                steps=[0, 1, 1, 7, 3, 2**64 - 1, 2**63],
                row_sizes=[6, 6, 6, 2, 1, 1, 3],
                key_ids=[*range(1, 7)] * 3 + [4, 2, 6, 1, 1, 2, 3],
                values=[*odd, 0.25, -0.5, 3.0, 1e300, -2.5e-310, 0.1, 42.0],
                time_deltas_ms=[0, 3, 3, 10, -2, 1000, 1001],
            ),
        ),
    ]
    # Over 8 KiB: stored as pieces, each a slice of the packed columns.
    big_values = [from_bits(0x3FF0000000000000 + (i * 0x9E3779B97F4A7C15 % 2**52)) for i in range(6 * 400)]
    out.append(
        pb.Record(
            time_ms=T0 + 100,
            writer=1,
            client_seq=3,
            scalars=pb.ScalarRows(
                steps=range(100, 500),
                row_sizes=[6] * 400,
                key_ids=[*range(1, 7)] * 400,
                values=big_values,
                time_deltas_ms=range(400),
            ),
        )
    )
    out += [
        pb.Record(time_ms=T0 + 600, keys=pb.KeyDefs(keys=[pb.KeyDef(id=0, name="__swanlab__.cpu", type=pb.SYSTEM)])),
        pb.Record(time_ms=T0 + 600, system=pb.ScalarRows(steps=[0], row_sizes=[1], key_ids=[0], values=[12.5])),
        pb.Record(
            time_ms=T0 + 700,
            writer=1,
            client_seq=4,
            console=pb.ConsoleLines(
                lines=[pb.ConsoleLine(line_no=1, text="hello", stream=pb.STDOUT, time_ms=T0 + 700)]
            ),
        ),
        pb.Record(time_ms=T0 + 800, finish=pb.Finish(state=pb.FINISHED, finish_time_ms=T0 + 800)),
    ]
    return out


def write(path: Path) -> None:
    from swanlabd.format import backup

    with backup.BackupWriter.create(path, RUN_ID) as writer:
        for record in records():
            writer.append([record])
