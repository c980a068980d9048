"""Golden vectors: fixed payloads give exactly these header bytes and this layout of physical
records across blocks (docs/backup-format.md, "Worked example")."""

from __future__ import annotations

import pytest
from logfixture import Log, big, physical_records

from swanlabd.format.logformat import BLOCK_SIZE, RecordType
from swanlabd.format.logwriter import LogWriter, mask_crc, unmask_crc

FULL, FIRST, MIDDLE, LAST = RecordType.FULL, RecordType.FIRST, RecordType.MIDDLE, RecordType.LAST


def reference_crc32c(data: bytes) -> int:
    """CRC-32C bit by bit (reflected polynomial 0x82F63B78): slow, obvious, independent."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c_matches_the_standard_check_value() -> None:
    assert reference_crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize(
    ("payload", "expected_hex"),
    [
        (b"foo", "dd5fb37a030001666f6f"),
        (b"", "052b2843000001"),
        (bytes(32), "a66d308c200001" + "00" * 32),
    ],
)
def test_header_bytes_of_fixed_payloads(payload: bytes, expected_hex: str) -> None:
    log = Log()
    log.write(payload)
    assert bytes(log.data).hex() == expected_hex
    crc = int.from_bytes(log.data[:4], "little")
    assert unmask_crc(crc) == reference_crc32c(bytes([FULL]) + payload)
    assert crc == mask_crc(reference_crc32c(bytes([FULL]) + payload))


def test_mask_is_leveldbs_rotate_and_add() -> None:
    assert mask_crc(0) == 0xA282EAD8
    assert all(unmask_crc(mask_crc(c)) == c for c in (0, 1, 0xFFFFFFFF, 0xE3069283, 0x12345678))


# Payload sizes -> every physical record (offset, type, length) and the file size.
LAYOUTS = {
    "one small record": ([5], [(0, FULL, 5)], 12),
    "exactly one block": ([32761], [(0, FULL, 32761)], 32768),
    "record after an exactly full block": ([32761, 3], [(0, FULL, 32761), (32768, FULL, 3)], 32778),
    "one byte too many for the block": ([32762], [(0, FIRST, 32761), (32768, LAST, 1)], 32776),
    "crossing one block boundary": ([40000], [(0, FIRST, 32761), (32768, LAST, 7239)], 40014),
    "crossing several block boundaries": (
        [100000],
        [(0, FIRST, 32761), (32768, MIDDLE, 32761), (65536, MIDDLE, 32761), (98304, LAST, 1717)],
        100028,
    ),
    # 6 bytes left: too small for a header, so they are a zero trailer.
    "6-byte trailer": ([32755, 1], [(0, FULL, 32755), (32768, FULL, 1)], 32776),
    # 7 bytes left: a header fits, so a zero-length FIRST fills the block.
    "7 bytes left, non-empty record": ([32754, 1], [(0, FULL, 32754), (32761, FIRST, 0), (32768, LAST, 1)], 32776),
    "7 bytes left, empty record": ([32754, 0], [(0, FULL, 32754), (32761, FULL, 0)], 32768),
    "7 bytes left, multi-block record": (
        [32754, 40000],
        [(0, FULL, 32754), (32761, FIRST, 0), (32768, MIDDLE, 32761), (65536, LAST, 7239)],
        72782,
    ),
    "worked example of docs/backup-format.md": (
        [1000, 97270, 8000],
        [(0, FULL, 1000), (1007, FIRST, 31754), (32768, MIDDLE, 32761), (65536, LAST, 32755), (98304, FULL, 8000)],
        106311,
    ),
}


@pytest.mark.parametrize("name", LAYOUTS)
def test_layout(name: str) -> None:
    sizes, expected, file_size = LAYOUTS[name]
    log = Log()
    payloads = [big(f"{i}:{name}", n) for i, n in enumerate(sizes)]
    log.write(*payloads)
    data = bytes(log.data)
    assert physical_records(data) == expected
    assert len(data) == file_size
    for offset, _, length in expected:
        trailer = BLOCK_SIZE - (offset + 7 + length) % BLOCK_SIZE
        if 0 < trailer < 7 and offset + 7 + length + trailer <= len(data):
            assert data[offset + 7 + length : offset + 7 + length + trailer] == bytes(trailer)
    assert log.read_all() == payloads
    assert log.reports.items == []


def test_writer_resumes_at_a_file_length() -> None:
    """Two writers, the second resumed at the first one's length, frame as one writer would."""
    payloads = [big(str(n), n) for n in (30000, 2754, 1, 50000, 7)]
    one = Log()
    one.write(*payloads)
    split = bytearray()
    first = LogWriter(split.extend)
    for payload in payloads[:2]:
        first.add_record(payload)
    second = LogWriter(split.extend, len(split))
    for payload in payloads[2:]:
        second.add_record(payload)
    assert split == one.data
