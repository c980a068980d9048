"""The framing's named damages, after LevelDB's db/log_test.cc: each test checks the records
returned, the dropped byte ranges (offset, nbytes) and the reason."""

from __future__ import annotations

import io
import random

import pytest
from logfixture import Log, big

from swanlabd.format.logformat import BLOCK_SIZE, HEADER_SIZE, RecordType
from swanlabd.format.logreader import LogReader, Reason


def test_empty_file_is_eof(log: Log) -> None:
    assert log.read_all() == []
    assert log.reports.items == []
    assert log.reader.torn_tail is None


def test_read_write(log: Log) -> None:
    log.write(b"foo", b"bar", b"", b"xxxx")
    assert log.read_all() == [b"foo", b"bar", b"", b"xxxx"]
    assert log.reader.read_record() is None  # reading again at EOF stays EOF
    assert log.reports.items == []


def test_many_blocks(log: Log) -> None:
    payloads = [f"{i}.".encode() for i in range(20000)]
    log.write(*payloads)
    assert len(log.data) > 3 * BLOCK_SIZE
    assert log.read_all() == payloads


def test_fragmentation(log: Log) -> None:
    payloads = [b"small", big("medium", 50000), big("large", 100000)]
    log.write(*payloads)
    assert log.read_all() == payloads


def test_marginal_trailer_exactly_7_bytes_holds_an_empty_record(log: Log) -> None:
    n = BLOCK_SIZE - 2 * HEADER_SIZE
    log.write(big("foo", n))
    assert len(log.data) == BLOCK_SIZE - HEADER_SIZE
    log.write(b"", b"bar")
    assert log.read_all() == [big("foo", n), b"", b"bar"]
    assert log.reports.items == []


def test_marginal_trailer_7_bytes_then_data_emits_empty_first(log: Log) -> None:
    n = BLOCK_SIZE - 2 * HEADER_SIZE
    log.write(big("foo", n), b"bar")
    assert log.data[BLOCK_SIZE - HEADER_SIZE + 6] == RecordType.FIRST
    assert log.read_all() == [big("foo", n), b"bar"]


def test_short_trailer_6_bytes(log: Log) -> None:
    n = BLOCK_SIZE - 2 * HEADER_SIZE + 1
    log.write(big("foo", n))
    assert len(log.data) == BLOCK_SIZE - 6
    log.write(b"", b"bar")
    assert log.data[BLOCK_SIZE - 6 : BLOCK_SIZE] == bytes(6)
    assert log.read_all() == [big("foo", n), b"", b"bar"]
    assert log.reports.items == []


def test_aligned_eof(log: Log) -> None:
    n = BLOCK_SIZE - 2 * HEADER_SIZE + 4
    log.write(big("foo", n))
    assert len(log.data) == BLOCK_SIZE - HEADER_SIZE + 4
    assert log.read_all() == [big("foo", n)]
    assert log.reader.torn_tail is None


def test_random_read(log: Log) -> None:
    rnd = random.Random(301)
    payloads = [big(f"{i}.", rnd.choice([1, 10, 100, 1000, 10000, 40000])) for i in range(500)]
    log.write(*payloads)
    assert log.read_all() == payloads


def test_bad_record_type_drops_only_that_record(log: Log) -> None:
    log.write(b"foo", b"bar")
    log.set_byte(6, 100)
    log.fix_checksum(0)
    assert log.read_all() == [b"bar"]
    assert log.reports.items == [(0, 10, Reason.UNKNOWN_RECORD_TYPE)]


def test_truncated_trailing_record_is_eof_not_corruption(log: Log) -> None:
    log.write(b"foo")
    log.truncate(4)  # all of the payload and one header byte
    assert log.read_all() == []
    assert log.reports.items == []
    assert log.reader.torn_tail == (0, HEADER_SIZE - 1)


def test_bad_length_drops_the_rest_of_the_block(log: Log) -> None:
    log.write(big("bar", BLOCK_SIZE - HEADER_SIZE), b"foo")
    log.set_byte(4, log.data[4] + 1)  # the low byte of the length: now longer than the block
    assert log.read_all() == [b"foo"]
    assert log.reports.items == [(0, BLOCK_SIZE, Reason.BAD_RECORD_LENGTH)]


def test_bad_length_at_end_is_eof_not_corruption(log: Log) -> None:
    log.write(b"foo")
    log.truncate(1)
    assert log.read_all() == []
    assert log.reports.items == []
    assert log.reader.torn_tail == (0, HEADER_SIZE + 2)


def test_impossible_length_at_end_is_corruption(log: Log) -> None:
    """Past the end of the file AND past its block: no writer wrote that, so it is damage."""
    log.write(b"foo", b"bar")
    log.set_byte(4, 0xFF)
    log.set_byte(5, 0xFF)
    assert log.read_all() == []
    assert log.reports.items == [(0, 20, Reason.BAD_RECORD_LENGTH)]
    assert log.reader.torn_tail is None


def test_checksum_mismatch(log: Log) -> None:
    log.write(b"foo")
    log.flip_byte(0, 0x0A)
    assert log.read_all() == []
    assert log.reports.items == [(0, 10, Reason.CHECKSUM_MISMATCH)]


def test_checksum_mismatch_drops_the_rest_of_its_block_only(log: Log) -> None:
    a, b, c, d = b"a" * 100, b"b" * 100, b"c" * 100, big("d", 40000)
    log.write(a, b, c, d, b"e")
    log.flip_byte(107 + HEADER_SIZE + 50)  # inside b's payload
    assert log.read_all() == [a, b"e"]
    # b, c and the first fragment of d went with the rest of block 0; d's tail has no start.
    assert log.reports.items == [
        (107, BLOCK_SIZE - 107, Reason.CHECKSUM_MISMATCH),
        (BLOCK_SIZE, HEADER_SIZE + 40000 - (BLOCK_SIZE - 321 - HEADER_SIZE), Reason.MISSING_START),
    ]


def test_zeroed_header_is_reported_not_skipped(log: Log) -> None:
    """LevelDB skips all-zero headers silently (mmap preallocation); we never preallocate."""
    log.write(b"foo", b"bar", b"baz")
    log.data[10:17] = bytes(7)
    assert log.read_all() == [b"foo"]
    assert log.reports.items == [(10, 20, Reason.CHECKSUM_MISMATCH)]


def test_unexpected_middle_type(log: Log) -> None:
    log.write(b"foo")
    log.set_byte(6, RecordType.MIDDLE)
    log.fix_checksum(0)
    assert log.read_all() == []
    assert log.reports.items == [(0, 10, Reason.MISSING_START)]


def test_unexpected_last_type(log: Log) -> None:
    log.write(b"foo")
    log.set_byte(6, RecordType.LAST)
    log.fix_checksum(0)
    assert log.read_all() == []
    assert log.reports.items == [(0, 10, Reason.MISSING_START)]


def test_unexpected_full_type(log: Log) -> None:
    log.write(b"foo", b"bar")
    log.set_byte(6, RecordType.FIRST)
    log.fix_checksum(0)
    assert log.read_all() == [b"bar"]
    assert log.reports.items == [(0, 10, Reason.PARTIAL_RECORD)]


def test_unexpected_first_type(log: Log) -> None:
    log.write(b"foo", big("bar", 100000))
    log.set_byte(6, RecordType.FIRST)
    log.fix_checksum(0)
    assert log.read_all() == [big("bar", 100000)]
    assert log.reports.items == [(0, 10, Reason.PARTIAL_RECORD)]


def test_missing_last_is_eof(log: Log) -> None:
    log.write(big("bar", BLOCK_SIZE))
    log.truncate(HEADER_SIZE + 7)  # the whole LAST fragment
    assert log.read_all() == []
    assert log.reports.items == []
    assert log.reader.torn_tail == (0, BLOCK_SIZE)


def test_first_and_middle_without_last_is_eof(log: Log) -> None:
    log.write(b"foo", big("bar", 3 * BLOCK_SIZE))
    log.truncate(len(log.data) - 3 * BLOCK_SIZE)  # keeps FIRST and two MIDDLEs, whole
    assert log.read_all() == [b"foo"]
    assert log.reports.items == []
    assert log.reader.torn_tail == (10, 3 * BLOCK_SIZE - 10)


def test_partial_last_is_eof(log: Log) -> None:
    log.write(big("bar", BLOCK_SIZE))
    log.truncate(1)
    assert log.read_all() == []
    assert log.reports.items == []
    assert log.reader.torn_tail == (0, len(log.data))


def test_skip_into_multi_record_is_silent(log: Log) -> None:
    """Starting at a block boundary inside a record skips its tail without a report."""
    log.write(big("foo", 3 * BLOCK_SIZE), b"correct")
    assert log.read_all(offset=BLOCK_SIZE) == [b"correct"]
    assert log.reports.items == []


def test_lost_block_never_joins_fragments(log: Log) -> None:
    """first(R1) last(R1) first(R2) last(R2) with the middle two gone: no R1+R2 record."""
    log.write(big("foo", BLOCK_SIZE), big("bar", BLOCK_SIZE), b"correct")
    log.data[BLOCK_SIZE : 2 * BLOCK_SIZE] = b"x" * BLOCK_SIZE
    assert log.read_all() == [b"correct"]
    assert log.reports.reasons == [Reason.CHECKSUM_MISMATCH, Reason.MISSING_START]
    (start, n1, _), (second, n2, _) = log.reports.items
    assert start == 0 and start + n1 == 2 * BLOCK_SIZE == second
    assert 2 * BLOCK_SIZE <= n1 + n2 <= 2 * BLOCK_SIZE + 100


def test_deleted_block_joins_valid_fragments_the_record_layer_must_catch(log: Log) -> None:
    """The framing alone cannot tell first(R1)+last(R2) apart once a whole block is gone:
    this is why backup.py checksums each Record payload (test_backup_reader covers it)."""
    r1, r2 = big("one", 2 * BLOCK_SIZE), big("two", 2 * BLOCK_SIZE)
    log.write(r1, r2)
    first_of_r2 = [i for i in range(len(log.data)) if i % BLOCK_SIZE == 0][2]
    del log.data[BLOCK_SIZE:first_of_r2]
    joined = log.read_all()
    assert joined and joined[0] != r1 and joined[0] != r2


def record_ends(payloads: list[bytes]) -> list[int]:
    log = Log()
    ends = []
    for payload in payloads:
        log.write(payload)
        ends.append(len(log.data))
    return ends


START_PAYLOADS = [b"a" * 100, big("b", 40000), b"c" * 10, b"", big("d", 32740), b"e", big("f", 70000), b"g"]
START_ENDS = record_ends(START_PAYLOADS)


@pytest.mark.parametrize("index", range(len(START_PAYLOADS) + 1))
def test_start_at_every_record_boundary(index: int) -> None:
    log = Log()
    log.write(*START_PAYLOADS)
    offset = 0 if index == 0 else START_ENDS[index - 1]
    assert log.read_all(offset) == START_PAYLOADS[index:]
    assert log.reports.items == []
    assert log.reader.end_offset == (START_ENDS[-1] if index < len(START_PAYLOADS) else offset)


@pytest.mark.parametrize("into_trailer", range(1, 7))
def test_start_inside_a_block_trailer_goes_to_the_next_block(into_trailer: int) -> None:
    log = Log()
    log.write(big("foo", BLOCK_SIZE - HEADER_SIZE - 6), b"bar")
    assert log.read_all(BLOCK_SIZE - 7 + into_trailer) == [b"bar"]
    assert log.reports.items == []


def test_start_at_and_past_the_end(log: Log) -> None:
    log.write(b"foo", b"bar")
    assert log.read_all(len(log.data)) == []
    assert log.read_all(len(log.data) + 1000) == []
    assert log.reports.items == []


def test_offsets_of_each_record(log: Log) -> None:
    log.write(*START_PAYLOADS)
    reader = LogReader(io.BytesIO(bytes(log.data)))
    starts, ends = [], []
    while reader.read_record() is not None:
        starts.append(reader.last_record_offset)
        ends.append(reader.end_offset)
    assert ends == START_ENDS
    assert starts[0] == 0 and starts[1] == START_ENDS[0]


def test_reopen_for_append(log: Log) -> None:
    log.write(b"hello", big("x", 32750))
    resumed = type(log.writer)(log.data.extend, len(log.data))
    resumed.add_record(b"world")
    resumed.add_record(big("y", 50000))
    assert log.read_all() == [b"hello", big("x", 32750), b"world", big("y", 50000)]
    assert log.reports.items == []


def test_growing_file_resumes_from_end_offset(log: Log) -> None:
    log.write(b"one", big("two", 40000))
    log.truncate(100)  # the writer is mid-way through "two"
    assert log.read_all() == [b"one"]
    resume = log.reader.end_offset
    assert log.reader.torn_tail == (resume, len(log.data) - resume)
    log.data = log.data[:resume]
    log.writer = type(log.writer)(log.data.extend, len(log.data))
    log.write(big("two", 40000), b"three")
    assert log.read_all(resume) == [big("two", 40000), b"three"]
    assert log.reports.items == []


def test_start_off_a_record_boundary_is_read_as_damage(log: Log) -> None:
    """Unlike LevelDB, the reader parses right at `offset` (so damage before a resume point
    never costs the records after it); an offset inside a record reads as a bad header."""
    log.write(b"foo" * 10, b"bar", big("baz", 40000), b"qux")
    assert log.read_all(1) == [b"qux"]
    ((offset, nbytes, reason), (second, _, missing)) = log.reports.items
    assert (offset, offset + nbytes, reason) == (1, BLOCK_SIZE, Reason.CHECKSUM_MISMATCH)
    assert (second, missing) == (BLOCK_SIZE, Reason.MISSING_START)


def test_read_error_raises_instead_of_dropping_a_block(log: Log) -> None:
    """LevelDB reports a failed read as a dropped block; an I/O error is not damage to us."""
    log.write(big("foo", 40000), b"bar")

    class FailingFile(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            if self.tell() >= BLOCK_SIZE:
                raise OSError(5, "Input/output error")
            return super().read(n)

    reader = LogReader(FailingFile(bytes(log.data)), log.reports)
    with pytest.raises(OSError):
        reader.read_record()
    assert log.reports.items == []


def test_framing_knows_nothing_of_protobuf() -> None:
    import subprocess
    import sys

    code = (
        "import sys, swanlabd.format.logreader, swanlabd.format.logwriter; "
        "print(sorted(m for m in sys.modules if 'protobuf' in m or 'swanlabd_pb' in m))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
