"""Format 1 and format 2 backups: the old file still reads, dumps and verifies, and a file holding
scalar rows of both forms (a client's fallback file continued by the daemon) reads back right.

`golden/backup-v1.swanlab` was written by the writer of format 1 (see v1_golden.py); these tests
read it with today's code and compare bit patterns.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import v1_golden

from swanlabd.format import backup, scalarcodec
from swanlabd_pb import records_pb2 as pb

GOLDEN = Path(__file__).parent / "golden" / "backup-v1.swanlab"


def bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def rows(record: pb.Record) -> list[tuple[int, int, list[int], list[int]]]:
    """(step, time, key ids, value bits) of each row of a scalar record, either form."""
    columns = scalarcodec.decode(getattr(record, record.WhichOneof("kind")))
    out, at = [], 0
    times = columns.time_deltas_ms or [0] * len(columns.steps)
    for step, size, delta in zip(columns.steps, columns.row_sizes, times, strict=True):
        values = list(map(bits, columns.values[at : at + size]))
        out.append((step, record.time_ms + delta, columns.key_ids[at : at + size], values))
        at += size
    return out


def comparable(record: pb.Record) -> tuple:
    kind = record.WhichOneof("kind")
    head = (record.seq, record.time_ms, record.writer, record.client_seq, kind)
    if kind in ("scalars", "system"):
        return (*head, rows(record))
    return (*head, getattr(record, kind).SerializeToString())


def swanlabctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swanlabd.cli.swanlabctl", *args], capture_output=True, text=True, timeout=60
    )


def test_the_format_1_golden_file_reads_back_bit_for_bit() -> None:
    records = [record for record, _ in backup.read_records(GOLDEN)]
    assert records[0].header.format_version == 1 and records[0].header.run_id == v1_golden.RUN_ID
    want = v1_golden.records()
    for seq, record in enumerate(want, start=1):
        record.seq = seq
    assert [comparable(r) for r in records[1:]] == [comparable(r) for r in want]
    assert not any(getattr(r, r.WhichOneof("kind")).blocks for r in records if r.WhichOneof("kind") == "scalars")


def test_the_format_1_golden_file_dumps_and_verifies() -> None:
    verify = swanlabctl("verify", str(GOLDEN))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "format 1" in verify.stdout and "scalar rows: 408 (2426 scalars)" in verify.stdout
    dump = swanlabctl("dump", "--json", str(GOLDEN))
    assert dump.returncode == 0, dump.stderr
    items = [json.loads(line) for line in dump.stdout.splitlines()]
    first = next(i for i in items if i["kind"] == "scalars")["scalars"]["rows"]
    assert [r["step"] for r in first] == [0, 1, 1, 7, 3, 2**64 - 1, 2**63]
    assert first[0]["values"]["train/k1"] == "NaN" and first[1]["values"]["train/k2"] == "Infinity"
    assert first[4] == {"step": 3, "time_ms": v1_golden.T0 + 5 - 2, "values": {"train/k6": 3.0}}
    assert sum(len(i["scalars"]["rows"]) for i in items if i["kind"] == "scalars") == 407


def test_a_format_1_file_is_continued_in_its_own_form(tmpdir_short: Path) -> None:
    """So that the swanlabd which wrote it can still read it: no compact rows in a format-1 file."""
    path = tmpdir_short / backup.BACKUP_FILENAME
    shutil.copyfile(GOLDEN, path)
    added = pb.Record(
        time_ms=1, writer=1, client_seq=5, scalars=pb.ScalarRows(steps=[9], row_sizes=[1], key_ids=[1], values=[0.5])
    )
    with backup.BackupWriter.open(path, compact_rows=True) as writer:
        assert writer.format_version == 1 and not writer.compact_rows
        writer.append([added])
    last = [record for record, _ in backup.read_records(path)][-1]
    assert last.scalars == added.scalars and not last.scalars.blocks


def fallback_rows(client_seq: int, first: int, n: int, values: list[float]) -> pb.Record:
    return pb.Record(
        time_ms=1_700_000_000_000 + first,
        writer=1,
        client_seq=client_seq,
        scalars=pb.ScalarRows(
            steps=range(first, first + n),
            row_sizes=[len(values)] * n,
            key_ids=list(range(1, len(values) + 1)) * n,
            values=values * n,
            time_deltas_ms=range(n),
        ),
    )


def test_a_file_with_both_forms_reads_dumps_and_verifies(tmpdir_short: Path) -> None:
    """A client's fallback file (packed columns) that a daemon then continues (compact rows)."""
    path = tmpdir_short / backup.BACKUP_FILENAME
    odd = [v1_golden.from_bits(b) for b in v1_golden.ODD_BITS]
    keys = pb.Record(
        writer=1, client_seq=1, keys=pb.KeyDefs(keys=[pb.KeyDef(id=i + 1, name=f"k{i}") for i in range(len(odd))])
    )
    by_client = [keys, fallback_rows(2, 0, 3, odd), fallback_rows(3, 3, 2000, odd)]
    by_daemon = [
        fallback_rows(4, 2003, 3, odd),
        fallback_rows(5, 2006, 2000, [0.25] * len(odd)),
        pb.Record(time_ms=7, system=pb.ScalarRows(steps=[0], row_sizes=[2], key_ids=[1, 2], values=[0.1, 12.5])),
    ]
    with backup.BackupWriter.create(path, "mixed") as writer:  # compact_rows=False: the client's
        assert writer.format_version == backup.FORMAT_VERSION
        writer.append(by_client)
    with backup.BackupWriter.open(path, compact_rows=True) as writer:
        writer.append(by_daemon)
    read = [record for record, _ in backup.read_records(path)]
    forms = [
        bool(getattr(r, r.WhichOneof("kind")).blocks) for r in read if r.WhichOneof("kind") in ("scalars", "system")
    ]
    assert forms == [False, False, True, True, True]
    assert [comparable(r) for r in read[1:]] == [comparable(r) for r in [*by_client, *by_daemon]]
    verify = swanlabctl("verify", str(path))
    assert verify.returncode == 0 and "scalar rows: 4007 (" in verify.stdout, verify.stdout + verify.stderr
    dump = swanlabctl("dump", "--json", str(path))
    items = [json.loads(line) for line in dump.stdout.splitlines()]
    steps = [row["step"] for i in items if i["kind"] == "scalars" for row in i["scalars"]["rows"]]
    assert dump.returncode == 0 and steps == list(range(4006))
