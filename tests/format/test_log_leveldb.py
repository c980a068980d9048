"""Agreement with real LevelDB (through plyvel), both ways, with write-batch payloads:
LevelDB recovers a log our writer framed, placed as a database's log file; our reader parses
a log LevelDB wrote, and our writer frames the same payloads to the same bytes."""

from __future__ import annotations

import io
import random
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import plyvel
import pytest
from logfixture import Reports

from swanlabd.format.logformat import BLOCK_SIZE
from swanlabd.format.logreader import LogReader
from swanlabd.format.logwriter import LogWriter

TYPE_DELETION, TYPE_VALUE = 0, 1


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def encode_batch(sequence: int, ops: list[tuple[bytes, bytes | None]]) -> bytes:
    """A LevelDB write batch (db/write_batch.cc): seq fixed64, count fixed32, then each op."""
    out = [struct.pack("<QI", sequence, len(ops))]
    for key, value in ops:
        if value is None:
            out += [bytes([TYPE_DELETION]), varint(len(key)), key]
        else:
            out += [bytes([TYPE_VALUE]), varint(len(key)), key, varint(len(value)), value]
    return b"".join(out)


def decode_batch(data: bytes) -> tuple[int, list[tuple[bytes, bytes | None]]]:
    sequence, count = struct.unpack_from("<QI", data)
    pos = 12
    ops: list[tuple[bytes, bytes | None]] = []
    for _ in range(count):
        tag = data[pos]
        n, pos = read_varint(data, pos + 1)
        key = data[pos : pos + n]
        pos += n
        value = None
        if tag == TYPE_VALUE:
            n, pos = read_varint(data, pos)
            value = data[pos : pos + n]
            pos += n
        ops.append((key, value))
    assert pos == len(data)
    return sequence, ops


def make_batches(seed: int) -> list[list[tuple[bytes, bytes | None]]]:
    """Batches of puts (values up to 100 KiB, so records cross one and several blocks) and deletes."""
    rnd = random.Random(seed)
    batches = []
    for i in range(60):
        ops: list[tuple[bytes, bytes | None]] = []
        for j in range(rnd.choice([1, 1, 2, 5])):
            size = rnd.choice([0, 3, 100, 5000, 32754, 40000, 100000])
            ops.append((f"key-{i}-{j}".encode(), rnd.randbytes(size)))
        if i % 7 == 3:
            ops.append((f"key-{i - 3}-0".encode(), None))
        batches.append(ops)
    return batches


def expected_contents(batches: list[list[tuple[bytes, bytes | None]]]) -> dict[bytes, bytes]:
    contents: dict[bytes, bytes] = {}
    for ops in batches:
        for key, value in ops:
            if value is None:
                contents.pop(key, None)
            else:
                contents[key] = value
    return contents


@pytest.fixture
def db_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    yield path / "db"
    shutil.rmtree(path, ignore_errors=True)


def log_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.log"))


def test_leveldb_recovers_a_log_our_writer_framed(db_dir: Path) -> None:
    plyvel.DB(str(db_dir), create_if_missing=True).close()
    (log_path,) = log_files(db_dir)
    assert log_path.stat().st_size == 0
    batches = make_batches(seed=1)
    data = bytearray()
    writer = LogWriter(data.extend)
    sequence = 1
    for ops in batches:
        writer.add_record(encode_batch(sequence, ops))
        sequence += len(ops)
    assert len(data) > 20 * BLOCK_SIZE
    log_path.write_bytes(data)

    db = plyvel.DB(str(db_dir), paranoid_checks=True, write_buffer_size=256 << 20)
    try:
        assert dict(db.iterator()) == expected_contents(batches)
    finally:
        db.close()


def test_leveldb_refuses_our_log_once_damaged(db_dir: Path) -> None:
    """The control: LevelDB really reads the file we placed (paranoid checks fail on damage)."""
    plyvel.DB(str(db_dir), create_if_missing=True).close()
    (log_path,) = log_files(db_dir)
    data = bytearray()
    writer = LogWriter(data.extend)
    writer.add_record(encode_batch(1, [(b"a", b"1" * 100)]))
    writer.add_record(encode_batch(2, [(b"b", b"2" * 100)]))
    data[120] ^= 0x01
    log_path.write_bytes(data)
    with pytest.raises(plyvel.CorruptionError):
        plyvel.DB(str(db_dir), paranoid_checks=True)


def test_our_reader_parses_a_log_leveldb_wrote(db_dir: Path) -> None:
    batches = make_batches(seed=2)
    db = plyvel.DB(str(db_dir), create_if_missing=True, write_buffer_size=256 << 20)
    for ops in batches:
        with db.write_batch() as wb:
            for key, value in ops:
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)
    db.close()
    (log_path,) = log_files(db_dir)
    raw = log_path.read_bytes()
    assert len(raw) > 20 * BLOCK_SIZE

    reports = Reports()
    payloads = list(LogReader(io.BytesIO(raw), reports))
    assert reports.items == []
    decoded = [decode_batch(p) for p in payloads]
    assert [ops for _, ops in decoded] == batches
    assert [seq for seq, _ in decoded] == [1 + sum(len(b) for b in batches[:i]) for i in range(len(batches))]

    ours = bytearray()
    writer = LogWriter(ours.extend)
    for payload in payloads:
        writer.add_record(payload)
    assert bytes(ours) == raw
