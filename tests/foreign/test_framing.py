"""The SwanLab/W&B framing reader (swanlabd/foreign/framing.py), one test per damage."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from swanlabd.foreign import framing

BLOCK = framing.BLOCK_SIZE


def frame(payloads: list[bytes]) -> bytes:
    """Write payloads as the SDK's DataStoreWriter frames them (after a :SWL header)."""
    out = bytearray(struct.pack("<4sHB", b":SWL", 0xE1D6, 2))
    for data in payloads:
        first = True
        while True:
            left = BLOCK - len(out) % BLOCK
            if left < framing.HEADER_SIZE:
                out += b"\0" * left
                left = BLOCK
            room = left - framing.HEADER_SIZE
            piece, data = data[:room], data[room:]
            kind = (
                (framing.FULL if not data else framing.FIRST)
                if first
                else (framing.LAST if not data else framing.MIDDLE)
            )
            out += struct.pack("<IHB", zlib.crc32(piece, zlib.crc32(bytes([kind]))), len(piece), kind) + piece
            first = False
            if not data:
                break
    return bytes(out)


class Collect:
    def __init__(self) -> None:
        self.drops: list[tuple[int, int, str]] = []

    def damaged(self, offset: int, nbytes: int, reason: str) -> None:
        self.drops.append((offset, nbytes, reason))


def read(data: bytes, offset: int = framing.HEADER_SIZE) -> tuple[list[bytes], Collect]:
    reporter = Collect()
    f = io.BytesIO(data)
    framing.check_header(f, framing.SWANLAB)
    return [p for p, _ in framing.read_payloads(f, offset, reporter)], reporter


PAYLOADS = [bytes([i]) * n for i, n in enumerate([100, 40_000, 500, 70_000, 10, 32_000, 300], start=1)]


def test_intact_file_reads_back_every_payload():
    got, reporter = read(frame(PAYLOADS))
    assert got == PAYLOADS and reporter.drops == []


def test_checksum_mismatch_drops_the_rest_of_its_block_only():
    data = bytearray(frame(PAYLOADS))
    data[3 * BLOCK + 100] ^= 1  # inside payload 4's last fragment, at the start of block 3
    got, reporter = read(bytes(data))
    # Block 3 held the end of 4, all of 5 and the start of 6; 7, in block 4, is read again.
    assert got == [*PAYLOADS[:3], PAYLOADS[6]]
    reasons = [r for _, _, r in reporter.drops]
    assert reasons == ["partial record without end", "checksum mismatch", "missing start of fragmented record"]
    assert reporter.drops[1] == (3 * BLOCK, BLOCK, "checksum mismatch")


def test_bad_length_drops_the_rest_of_its_block():
    data = bytearray(frame(PAYLOADS))
    data[framing.HEADER_SIZE + 4 : framing.HEADER_SIZE + 6] = struct.pack("<H", BLOCK)
    got, reporter = read(bytes(data))
    assert got[0] != PAYLOADS[0] and PAYLOADS[-1] in got
    assert reporter.drops[0] == (framing.HEADER_SIZE, BLOCK - framing.HEADER_SIZE, "bad record length")


def test_a_record_cut_off_at_the_end_is_not_damage_and_is_read_once_whole():
    whole = frame(PAYLOADS[:3])
    for cut in (len(whole) - 1, len(whole) - 300, len(whole) - 503):
        got, reporter = read(whole[:cut])
        assert got == PAYLOADS[:2] and reporter.drops == []


def test_reading_resumes_from_an_end_offset():
    data = frame(PAYLOADS)
    f = io.BytesIO(data)
    ends = [end for _, end in framing.read_payloads(f, framing.HEADER_SIZE, Collect())]
    got, reporter = read(data, ends[2])
    assert got == PAYLOADS[3:] and reporter.drops == []


def test_another_tools_header_is_refused():
    with pytest.raises(framing.FramingError):
        framing.check_header(io.BytesIO(struct.pack("<4sHB", b":W&B", 0xBEE1, 0)), framing.SWANLAB)
