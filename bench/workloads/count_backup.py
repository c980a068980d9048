"""Count the scalar points a tracker's backup file holds, and whether it ends with a finish record.

Runs in the tracker's own interpreter (compare.py picks it), prints one JSON object:
``{"scalars": N, "records": N, "finish": bool, "state": str}``.

How each file is read:

- swanlabd ``backup.swanlab``: ``swanlabd.format.backup.read_records``; a point is one value of a
  ScalarRows record (of either form: ``scalarcodec.decode``); the run is finished if a Finish
  record is present (its state is reported).
- SwanLab ``run-<id>.swanlab``: SwanLab's own ``DataStoreReader`` (the one ``swanlab sync``
  uses); one ScalarRecord per point; it stops at the first torn or corrupt record, as sync does.
- W&B ``run-<id>.wandb``: wandb 0.31 ships no Python reader, so this reads the same LevelDB-log
  framing by hand (7-byte ``:W&B`` file header, 32 KiB blocks, 7-byte record headers, zlib CRC32
  seeded by the record type as wandb's former ``datastore.py`` did) and parses each record with
  ``wandb.proto.wandb_internal_pb2.Record``; a point is one non-underscore ``history`` item;
  reading stops at the first torn or corrupt record.
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from collections.abc import Iterator
from typing import Any

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def enum_name(message: Any, field: str) -> str:
    value = getattr(message, field)
    return message.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number[value].name


def count_swanlabd(path: str) -> dict[str, object]:
    from swanlabd.format import scalarcodec
    from swanlabd.format.backup import read_records

    scalars = records = 0
    state = ""
    for record, _offset in read_records(path):
        records += 1
        kind = record.WhichOneof("kind")
        if kind == "scalars":
            scalars += len(scalarcodec.decode(record.scalars).key_ids)
        elif kind == "finish":
            state = enum_name(record.finish, "state")
    return {"scalars": scalars, "records": records, "finish": bool(state), "state": state}


def count_swanlab(path: str) -> dict[str, object]:
    from swanlab.proto.swanlab.record.v1.record_pb2 import Record
    from swanlab.sdk.internal.core_python.store import DataStoreReader

    reader = DataStoreReader()
    reader.open(path)
    scalars = records = 0
    state = ""
    for data in reader:
        record = Record()
        record.ParseFromString(data)
        records += 1
        kind = record.WhichOneof("record_type")
        if kind == "scalar":
            scalars += 1
        elif kind == "finish":
            state = enum_name(record.finish, "state")
    return {"scalars": scalars, "records": records, "finish": bool(state), "state": state}


def leveldb_payloads(data: bytes, file_header: int) -> Iterator[bytes]:
    """Whole records of a LevelDB-log file that starts with a `file_header`-byte header."""
    pos = file_header
    pending = b""
    while True:
        if BLOCK - pos % BLOCK < HEADER:
            pos += BLOCK - pos % BLOCK
        if pos + HEADER > len(data):
            return
        checksum, length, kind = struct.unpack_from("<IHB", data, pos)
        payload = data[pos + HEADER : pos + HEADER + length]
        if len(payload) < length or zlib.crc32(payload, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != checksum:
            return
        pos += HEADER + length
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pending = payload
        elif kind == MIDDLE:
            pending += payload
        elif kind == LAST:
            yield pending + payload
        else:
            return


def count_wandb(path: str) -> dict[str, object]:
    from wandb.proto import wandb_internal_pb2 as pb

    with open(path, "rb") as file:
        data = file.read()
    scalars = records = 0
    state = ""
    for payload in leveldb_payloads(data, HEADER):
        record = pb.Record()
        record.ParseFromString(payload)
        records += 1
        kind = record.WhichOneof("record_type")
        if kind == "history":
            scalars += sum(
                1 for item in record.history.item if not (item.key or "/".join(item.nested_key)).startswith("_")
            )
        elif kind == "exit":
            state = f"exit_code={record.exit.exit_code}"
    return {"scalars": scalars, "records": records, "finish": bool(state), "state": state}


COUNTERS = {"swanlabd": count_swanlabd, "swanlab": count_swanlab, "wandb": count_wandb}


def main() -> int:
    system, path = sys.argv[1], sys.argv[2]
    print(json.dumps(COUNTERS[system](path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
