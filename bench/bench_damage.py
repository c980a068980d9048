"""What one flipped bit costs: scalars lost for a bit flipped at random in a realistic backup.

    .venv/bin/python bench/bench_damage.py                  # 100,000 rows x 10 scalars, 300 flips
    .venv/bin/python bench/bench_damage.py --flips 1000 --seed 2
    .venv/bin/python bench/bench_damage.py --form columns   # as a client's fallback file stores rows

Records are built as the client's sender builds them (bench_backup.build_records): KeyDefs,
then ScalarRows closed at the row that reaches 16,384 scalars (1,639 rows of 10 scalars), 16
records per append(), stored compact as the daemon stores them (format 2; random doubles, so
8 bytes a value) or as packed columns (`--form columns`). Each trial flips one bit at a
uniformly random position of the file, reads the whole file with `backup.read_records` and
counts the scalars it returns; the bit is flipped back before the next trial. Prints the mean,
median, 99th percentile and maximum of scalars lost.
docs/backup-format.md quotes its figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

from bench_backup import KEYS, PER_APPEND, build_records

from swanlabd.format import backup, scalarcodec

CLIENT_ROWS_PER_RECORD = 16_384 // KEYS + 1  # the client closes a record at the row that reaches 16,384


class _Quiet:
    def lost(self, *args: object, **kwargs: object) -> None:
        pass


def scalars_read(path: Path) -> int:
    records = backup.read_records(path, 0, _Quiet())
    return sum(len(scalarcodec.decode(r.scalars).key_ids) for r, _ in records if r.WhichOneof("kind") == "scalars")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--flips", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--form", choices=("compact", "columns"), default="compact")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sd-damage-") as tmp:
        path = Path(tmp) / backup.BACKUP_FILENAME
        records = build_records(args.rows, CLIENT_ROWS_PER_RECORD)
        with backup.BackupWriter.create(path, "damage", compact_rows=args.form == "compact") as writer:
            for i in range(0, len(records), PER_APPEND):
                writer.append(records[i : i + PER_APPEND])
        total = scalars_read(path)
        assert total == args.rows * KEYS
        size = path.stat().st_size
        rnd = random.Random(args.seed)
        lost = []
        fd = os.open(path, os.O_RDWR)
        try:
            for _ in range(args.flips):
                at, bit = rnd.randrange(size), 1 << rnd.randrange(8)
                byte = os.pread(fd, 1, at)[0]
                os.pwrite(fd, bytes([byte ^ bit]), at)
                lost.append(total - scalars_read(path))
                os.pwrite(fd, bytes([byte]), at)
        finally:
            os.close(fd)
    lost.sort()
    print(
        f"{total:,} scalars ({args.form}) in {size:,} bytes ({size / total:.2f} B/scalar), "
        f"{args.flips} single-bit flips"
    )
    print(
        f"scalars lost per flip: mean {statistics.mean(lost):,.0f}, median {statistics.median(lost):,.0f}, "
        f"p99 {lost[int(0.99 * (len(lost) - 1))]:,}, max {lost[-1]:,}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
