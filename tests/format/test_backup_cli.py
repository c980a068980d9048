"""`swanlabctl dump` and `swanlabctl verify`, run as real subprocesses on intact, damaged and
torn files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from logfixture import console_record, write_backup

from swanlabd.format import backup
from swanlabd.format.logformat import BLOCK_SIZE
from swanlabd.format.logwriter import LogWriter
from swanlabd_pb import records_pb2 as pb


def swanlabctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swanlabd.cli.swanlabctl", *args], capture_output=True, text=True, timeout=60
    )


def keys(writer: int, client_seq: int, names: list[str]) -> pb.Record:
    return pb.Record(
        time_ms=1_700_000_000_000,
        writer=writer,
        client_seq=client_seq,
        keys=pb.KeyDefs(keys=[pb.KeyDef(id=i, name=n, type=pb.FLOAT) for i, n in enumerate(names)]),
    )


def rows(writer: int, client_seq: int, step: int, values: list[float]) -> pb.Record:
    return pb.Record(
        time_ms=1_700_000_000_000 + step,
        writer=writer,
        client_seq=client_seq,
        scalars=pb.ScalarRows(
            steps=[step, step + 1],
            row_sizes=[len(values), 1],
            key_ids=[*range(len(values)), 0],
            values=[*values, -1.0],
            time_deltas_ms=[0, 250],
        ),
    )


@pytest.fixture
def run_dir(tmpdir_short: Path) -> Path:
    """A run folder: two writers whose key id 0 names different metrics, then more records."""
    records = [
        pb.Record(time_ms=1_700_000_000_000, run_start=pb.RunStart(run_id="r1", project="mnist", mode=pb.MODE_OFFLINE)),
        keys(1, 1, ["train/loss", "train/acc"]),
        keys(2, 1, ["worker/loss"]),
        rows(1, 2, 0, [0.5, float("nan")]),
        rows(2, 2, 0, [9.0]),
    ]
    records += [console_record(i, 9000) for i in range(3, 30)]
    records.append(pb.Record(time_ms=1_700_000_100_000, writer=1, client_seq=30, finish=pb.Finish(state=pb.FINISHED)))
    write_backup(tmpdir_short / backup.BACKUP_FILENAME, records, run_id="r1")
    return tmpdir_short


def test_dump_prints_scalar_rows_under_their_key_names(run_dir: Path) -> None:
    result = swanlabctl("dump", str(run_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("seq 0") and "swanlabd-backup" in lines[0]
    assert "step 0  t+0ms  train/loss=0.5 train/acc=NaN" in result.stdout
    assert "step 1  t+250ms  train/loss=-1.0" in result.stdout
    assert "step 0  t+0ms  worker/loss=9.0" in result.stdout
    assert "finish  state: FINISHED" in result.stdout


def test_dump_json_is_one_object_per_line(run_dir: Path) -> None:
    result = swanlabctl("dump", "--json", str(run_dir / backup.BACKUP_FILENAME))
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert [i["seq"] for i in items] == list(range(len(items)))
    assert items[0]["header"]["magic"] == "swanlabd-backup" and items[1]["run_start"]["mode"] == "MODE_OFFLINE"
    scalars = [i for i in items if i["kind"] == "scalars"]
    assert scalars[0]["scalars"]["rows"] == [
        {"step": 0, "time_ms": 1_700_000_000_000, "values": {"train/loss": 0.5, "train/acc": "NaN"}},
        {"step": 1, "time_ms": 1_700_000_000_250, "values": {"train/loss": -1.0}},
    ]
    assert scalars[1]["writer"] == 2 and scalars[1]["scalars"]["rows"][0]["values"] == {"worker/loss": 9.0}
    assert items[-1]["finish"]["state"] == "FINISHED"
    assert items[-1]["end_offset"] == (run_dir / backup.BACKUP_FILENAME).stat().st_size


def test_verify_intact(run_dir: Path) -> None:
    result = swanlabctl("verify", str(run_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INTACT" in result.stdout and "last record: finish FINISHED" in result.stdout


def damage_block_1(run_dir: Path) -> tuple[int, int]:
    """Flip a byte in block 1; return the lost seq range read back through the library."""
    path = run_dir / backup.BACKUP_FILENAME
    data = bytearray(path.read_bytes())
    data[BLOCK_SIZE + 100] ^= 0x10
    path.write_bytes(data)
    lost: list[tuple[int, int]] = []

    class Reporter:
        def lost(self, nbytes: int, reason: str, offset: int, seqs: tuple[int, int] | None) -> None:
            lost.append(seqs)

    list(backup.read_records(path, 0, Reporter()))
    (seqs,) = lost
    return seqs


def test_verify_damaged_reports_ranges_and_seqs(run_dir: Path) -> None:
    first, last = damage_block_1(run_dir)
    result = swanlabctl("verify", str(run_dir))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "checksum mismatch" in result.stdout
    assert f"lost seqs {first}..{last} ({last - first + 1} records)" in result.stdout
    assert "torn tail: none" in result.stdout and "DAMAGED" in result.stdout


def test_dump_damaged_shows_the_loss_between_surviving_records(run_dir: Path) -> None:
    first, last = damage_block_1(run_dir)
    result = swanlabctl("dump", "--json", str(run_dir))
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in result.stdout.splitlines()]
    (index,) = [n for n, item in enumerate(items) if item["kind"] == "lost"]
    assert items[index]["seqs"] == [first, last] and items[index]["reason"] == "checksum mismatch"
    assert items[index - 1]["seq"] == first - 1 and items[index + 1]["seq"] == last + 1
    human = swanlabctl("dump", str(run_dir))
    assert f"seqs {first}..{last}" in human.stdout


def test_verify_torn_tail(run_dir: Path) -> None:
    path = run_dir / backup.BACKUP_FILENAME
    os.truncate(path, path.stat().st_size - 3)
    result = swanlabctl("verify", str(path))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "torn tail:" in result.stdout and "not corruption" in result.stdout
    dump = swanlabctl("dump", "--json", str(path))
    assert json.loads(dump.stdout.splitlines()[-1])["kind"] == "torn_tail"


def test_verify_unreadable(tmpdir_short: Path) -> None:
    assert swanlabctl("verify", str(tmpdir_short / "missing")).returncode == 4
    (tmpdir_short / "empty").write_bytes(b"")
    assert swanlabctl("verify", str(tmpdir_short / "empty")).returncode == 4
    other = tmpdir_short / "not-a-backup"
    other.write_bytes(b"\x00" * 100)
    result = swanlabctl("verify", str(other))
    assert result.returncode == 1 and "DAMAGED" in result.stdout  # zeros are damage, not a format
    foreign = tmpdir_short / "foreign"
    data = bytearray()
    LogWriter(data.extend).add_record(b"a LevelDB write batch, say")
    foreign.write_bytes(data)
    result = swanlabctl("verify", str(foreign))
    assert result.returncode == 4 and "not a swanlabd backup" in result.stderr
