"""The little of the protobuf wire format that pieces.py and scalarcodec.py read and write by
hand, to cut and read packed columns as bytes: varints and length-delimited fields
(https://protobuf.dev/programming-guides/encoding/)."""

from __future__ import annotations

LENGTH_DELIMITED = 2  # the wire type of bytes, strings, messages and packed repeated fields
_ONE_BYTE = [bytes((i,)) for i in range(0x80)]


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it; ValueError if `data` ends inside it."""
    if pos < len(data) and data[pos] < 0x80:
        return data[pos], pos + 1
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def varint(value: int) -> bytes:
    if value < 0x80:
        return _ONE_BYTE[value]
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(number: int) -> bytes:
    """The tag of length-delimited field `number`."""
    return varint(number << 3 | LENGTH_DELIMITED)


def field(number: int, content: bytes) -> bytes:
    """A length-delimited field; none at all for empty content, as protobuf writes an empty column."""
    return b"".join((tag(number), varint(len(content)), content)) if content else b""


def fields(message: bytes) -> list[tuple[int, bytes]] | None:
    """The fields of a serialized message as (number, content), in order; None unless every
    field is length-delimited and lies wholly inside `message`."""
    out = []
    pos = 0
    try:
        while pos < len(message):
            tag, pos = read_varint(message, pos)
            if tag & 7 != LENGTH_DELIMITED:
                return None
            length, pos = read_varint(message, pos)
            if pos + length > len(message):
                return None
            out.append((tag >> 3, message[pos : pos + length]))
            pos += length
    except ValueError:
        return None
    return out
