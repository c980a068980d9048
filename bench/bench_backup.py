"""Write/read speed and size of the backup file (docs/backup-format.md). Prints figures; not a test.

    .venv/bin/python bench/bench_backup.py                 # 20,000 rows x 10 scalars, 3 repetitions
    .venv/bin/python bench/bench_backup.py --rows 200000   # longer
    .venv/bin/python bench/bench_backup.py --dir /tmp      # where the file goes (default: a temp dir)

Records are built the way the client's sender builds them (swanlab_client/_sender.py): KeyDefs
once, then ScalarRows of packed columns, appended 16 records per append() call as the daemon
does with one Stream request. Timings cover append()/read_records() only, not building the
protobuf messages, which the daemon gets ready-made from gRPC; "decode" is scalarcodec.decode of
every record read, what the uploader and dump do on top. Layouts:

- client: up to 16,384 scalars per record (the client's default batch_max_values)
- rows300: 300 rows per record ("a few hundred")
- row1: one row per record, the worst case (a script logging slowly)

Forms: "columns" stores the rows as they come (format 1, and a client's fallback file);
"compact" as the daemon stores them (format 2, scalarcodec.py). Values: random doubles, or
"float32": doubles a float32 tensor's .item() returns, as most of training logs.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

from swanlabd.format import backup, scalarcodec
from swanlabd_pb import records_pb2 as pb

KEYS = 10
PER_APPEND = 16


def float32(value: float) -> float:
    """The double a float32 tensor's .item() returns for `value`."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def build_records(rows: int, rows_per_record: int, seed: int = 0, values: str = "double") -> list[pb.Record]:
    """KeyDefs, then ScalarRows of `rows_per_record` rows of KEYS random doubles (or float32
    values), rows 10 ms apart."""
    rnd = random.Random(seed)
    draw = rnd.random if values == "double" else lambda: float32(rnd.random())
    records = [
        pb.Record(
            writer=1,
            client_seq=1,
            keys=pb.KeyDefs(keys=[pb.KeyDef(id=k, name=f"train/metric_{k}", type=pb.FLOAT) for k in range(KEYS)]),
        )
    ]
    t0 = 1_700_000_000_000
    for first in range(0, rows, rows_per_record):
        steps = list(range(first, min(first + rows_per_record, rows)))
        base = t0 + 10 * first
        records.append(
            pb.Record(
                time_ms=base,
                writer=1,
                client_seq=len(records) + 1,
                scalars=pb.ScalarRows(
                    steps=steps,
                    row_sizes=[KEYS] * len(steps),
                    key_ids=list(range(KEYS)) * len(steps),
                    values=[draw() for _ in range(KEYS * len(steps))],
                    time_deltas_ms=[10 * (s - first) for s in steps],
                ),
            )
        )
    return records


def file_bytes_per_scalar(path: Path, rows: int) -> float:
    return path.stat().st_size / (rows * KEYS)


def measure(directory: Path, rows: int, rows_per_record: int, sync: bool, form: str, values: str) -> dict[str, float]:
    records = build_records(rows, rows_per_record, values=values)
    path = directory / f"bench-{rows_per_record}.swanlab"
    if path.exists():
        path.unlink()
    writer = backup.BackupWriter.create(path, "bench", compact_rows=form == "compact")
    t = time.perf_counter()
    for i in range(0, len(records), PER_APPEND):
        writer.append(records[i : i + PER_APPEND])
        if sync:
            writer.sync()
    write_s = time.perf_counter() - t
    writer.close()
    size = path.stat().st_size
    t = time.perf_counter()
    read = [record for record, _ in backup.read_records(path)]
    read_s = time.perf_counter() - t
    assert len(read) == len(records) + 1
    t = time.perf_counter()
    for record in read:
        if record.WhichOneof("kind") == "scalars":
            scalarcodec.decode(record.scalars)
    decode_s = time.perf_counter() - t
    return {
        "records": len(records),
        "bytes": size,
        "bytes_per_scalar": file_bytes_per_scalar(path, rows),
        "write_s": write_s,
        "read_s": read_s,
        "decode_s": decode_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="sd-bench-", dir=args.dir))
    layouts = [
        ("client", 16_384 // KEYS, False, "columns", "double"),
        ("rows300", 300, False, "columns", "double"),
        ("row1", 1, False, "columns", "double"),
        ("rows300+fsync", 300, True, "columns", "double"),
        ("client", 16_384 // KEYS, False, "compact", "double"),
        ("client", 16_384 // KEYS, False, "compact", "float32"),
        ("rows300", 300, False, "compact", "float32"),
        ("row1", 1, False, "compact", "float32"),
    ]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, file in {directory}")
    print(f"{args.rows} rows x {KEYS} scalars, median of {args.repeat}; {PER_APPEND} records per append()")
    header = f"{'layout':<14}{'form':<8}{'values':<8}{'records':>9}{'MB':>8}{'B/scalar':>10}{'write rec/s':>13}"
    header += f"{'write Mscal/s':>15}{'read rec/s':>12}{'read Mscal/s':>14}{'decode Mscal/s':>16}"
    print(header)
    try:
        for name, rows_per_record, sync, form, values in layouts:
            runs = [measure(directory, args.rows, rows_per_record, sync, form, values) for _ in range(args.repeat)]
            r = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
            mb = r["bytes"] / 1e6
            scalars = args.rows * KEYS / 1e6
            print(
                f"{name:<14}{form:<8}{values:<8}{int(r['records']):>9}{mb:>8.2f}{r['bytes_per_scalar']:>10.2f}"
                f"{r['records'] / r['write_s']:>13,.0f}{scalars / r['write_s']:>15.2f}"
                f"{r['records'] / r['read_s']:>12,.0f}{scalars / r['read_s']:>14.2f}{scalars / r['decode_s']:>16.2f}"
            )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
