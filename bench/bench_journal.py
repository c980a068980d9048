"""What the daemon spends per row on a journal range, against the scalars record it replaced.

    .venv/bin/python bench/bench_journal.py [--rows 20000] [--keys 10] [--rounds 5]

Builds a range of `--rows` rows of `--keys` scalars as the client's journal holds them, then times,
per row (best of `--rounds`): the daemon's path for it (`journal.decode` in its raw form, the
checks, the compact blocks, `BackupWriter`'s serialization), the same through float lists (what
a format-1 file takes), and the path of a `scalars` record of the same rows as clients sent them
before the journal (parse, key check, compaction). Prints one line per path.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from swanlabd.format import backup
from swanlabd.format import journal as layout
from swanlabd_pb import records_pb2 as pb


def journal_range(rows: int, keys: int) -> bytes:
    st = layout.row_struct(keys)
    out = bytearray(st.size * rows)
    ids = range(1, keys + 1)
    t0 = time.time()
    for i in range(rows):
        position = i * st.size
        values = [i * 0.37 + k / 7 for k in range(keys)]
        st.pack_into(
            out, position, st.size, layout.ROW | keys << 8, i, t0 + i * 1e-3, *ids, *values, position ^ layout.TAG_MAGIC
        )
    return bytes(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--keys", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    data = journal_range(args.rows, args.keys)
    with tempfile.TemporaryDirectory() as tmp:
        writer = backup.BackupWriter.create(Path(tmp) / "backup", "bench", compact_rows=True)

        def journal_raw() -> bytes:
            decoded = layout.decode(0, data, layout.Decoded(end=0, raw=True))
            assert not decoded.key_set - set(range(1, args.keys + 1)) and not decoded.unstorable()
            rows = pb.ScalarRows.FromString(decoded.blocks())
            return writer._serialize(pb.Record(writer=1, client_seq=1, scalars=rows, journal_end=decoded.end))

        def journal_floats() -> bytes:
            decoded = layout.decode(0, data)
            assert not set(decoded.key_ids) - set(range(1, args.keys + 1)) and not decoded.unstorable()
            record = pb.Record(writer=1, client_seq=1, scalars=decoded.scalars(), journal_end=decoded.end)
            return writer._serialize(record)

        wire = pb.Record(writer=1, client_seq=1, scalars=layout.decode(0, data).scalars()).SerializeToString()

        def scalars_record() -> bytes:
            record = pb.Record.FromString(wire)
            assert not set(record.scalars.key_ids) - set(range(1, args.keys + 1))
            return writer._serialize(record)

        paths: list[tuple[str, Callable[[], bytes]]] = [
            ("journal range -> compact blocks (the daemon's path)", journal_raw),
            ("journal range -> float lists -> compact", journal_floats),
            ("scalars record -> compact (before the journal)", scalars_record),
        ]
        for name, run in paths:
            best = min(_timed(run) for _ in range(args.rounds))
            print(f"{name}: {best / args.rows * 1e6:.2f} us/row")
        writer.close()


def _timed(run: Callable[[], bytes]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
