"""`swanlabctl dump` and `swanlabctl verify`: read a run's backup file (docs/backup-format.md).

PATH is a run folder or a backup file. `dump` prints every intact record, human-readable or
one JSON object per line (`--json`), with scalar rows shown under their key names (resolved
through each writer's KeyDefs). `verify` reads the whole file and reports damaged byte ranges,
the seq numbers lost and whether the file ends in a torn tail.

verify exit codes: 0 intact, 1 damaged (records lost), 3 intact except a torn tail (a writer
stopped mid-record: a crash, or a write in progress), 4 not readable (missing, not a backup).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swanlabd.format.backup import PieceLoss

EXIT_INTACT = 0
EXIT_DAMAGED = 1
EXIT_TORN_TAIL = 3
EXIT_UNREADABLE = 4
_HUMAN_TEXT_LIMIT = 300


def register(subparsers: argparse._SubParsersAction) -> None:
    dump = subparsers.add_parser("dump", help="print the records of a run's backup file")
    dump.add_argument("path", metavar="PATH", help="run folder or backup file")
    dump.add_argument("--json", action="store_true", help="one JSON object per line")
    dump.set_defaults(func=run_dump)
    verify = subparsers.add_parser(
        "verify",
        help="check a run's backup file; exit 0 if intact",
        description="Read a whole backup file and report damage. Exit 0 intact, 1 damaged, "
        "3 intact except a torn tail, 4 not readable.",
    )
    verify.add_argument("path", metavar="PATH", help="run folder or backup file")
    verify.set_defaults(func=run_verify)


def backup_path(path: str) -> Path:
    """The backup file of a run folder, or `path` itself if it is a file."""
    from swanlabd.format.backup import BACKUP_FILENAME

    p = Path(path)
    return p / BACKUP_FILENAME if p.is_dir() else p


class _Losses:
    """A backup.Reporter that keeps every report, optionally printing each as it comes."""

    def __init__(self, echo: Any = None) -> None:
        self.items: list[dict[str, Any]] = []
        self._echo = echo

    def lost(
        self,
        nbytes: int,
        reason: str,
        offset: int,
        seqs: tuple[int, int] | None,
        pieces: tuple[PieceLoss, ...] = (),
    ) -> None:
        from swanlabd.format.backup import describe_loss

        item = {
            "kind": "lost",
            "offset": offset,
            "nbytes": nbytes,
            "reason": str(reason),
            "seqs": list(seqs) if seqs else None,
            # Records returned shorter: these pieces of them are lost (docs/backup-format.md, "Pieces").
            "pieces": [dataclasses.asdict(p) for p in pieces],
            "text": describe_loss(nbytes, reason, offset, seqs, pieces),
        }
        self.items.append(item)
        if self._echo is not None:
            self._echo(item)


def run_dump(args: argparse.Namespace) -> int:
    from swanlabd.format.backup import BackupFormatError, BackupReader
    from swanlabd.format.scalarcodec import CompactRowsError

    path = backup_path(args.path)
    out = sys.stdout
    if args.json:

        def emit(item: dict[str, Any]) -> None:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")

        losses = _Losses(emit)
    else:
        losses = _Losses(lambda item: out.write(_human_loss(item) + "\n"))
    keys: dict[tuple[int, int], str] = {}
    reader = BackupReader(path, 0, losses)
    try:
        for record, end in reader:
            kind = record.WhichOneof("kind")
            if kind == "keys":
                keys.update(((record.writer, k.id), k.name) for k in record.keys.keys)
            if args.json:
                emit(_record_json(record, kind, end, keys))
            else:
                out.write(_record_human(record, kind, keys))
    except (OSError, BackupFormatError, CompactRowsError) as exc:
        print(f"swanlabctl dump: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if reader.torn_tail:
        offset, nbytes = reader.torn_tail
        if args.json:
            emit({"kind": "torn_tail", "offset": offset, "nbytes": nbytes})
        else:
            out.write(f"! torn tail: {nbytes} bytes at offset {offset} (an unfinished last record, not corruption)\n")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from swanlabd.format import scalarcodec
    from swanlabd.format.backup import BackupFormatError, BackupReader, PieceLoss

    path = backup_path(args.path)
    losses = _Losses()
    reader = BackupReader(path, 0, losses)
    count = rows = scalars = 0
    unreadable = []  # scalar rows whose record is intact but whose compact blocks do not add up
    first = last = None
    try:
        for record, _ in reader:
            count += 1
            first = record if first is None else first
            last = record
            kind = record.WhichOneof("kind")
            if kind in ("scalars", "system"):
                try:
                    columns = scalarcodec.decode(getattr(record, kind))
                except scalarcodec.CompactRowsError as exc:
                    unreadable.append(f"seq {record.seq}: {exc}")
                    continue
                rows += len(columns.steps)
                scalars += len(columns.key_ids)
        size = path.stat().st_size
    except (OSError, BackupFormatError) as exc:
        print(f"swanlabctl verify: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if not losses.items and (first is None or first.WhichOneof("kind") != "header"):
        print(f"swanlabctl verify: {path}: no FileHeader record (empty, or not a swanlabd backup)", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"{path}: {size} bytes")
    if first is not None and first.WhichOneof("kind") == "header":
        h = first.header
        print(f"  header: run {h.run_id}, format {h.format_version}, {h.created_by}")
    if first is not None and last is not None:
        print(f"  records: {count} intact, seq {first.seq}..{last.seq}; last record: {_summary(last)}")
        print(f"  scalar rows: {rows} ({scalars} scalars)")
    for why in unreadable:
        print(f"  unreadable scalar rows: {why}")
    lost_seqs = shortened = 0
    for item in losses.items:
        start, nbytes = item["offset"], item["nbytes"]
        whats = []
        if item["seqs"]:
            a, b = item["seqs"]
            lost_seqs += b - a + 1
            whats.append(f"lost seqs {a}..{b} ({b - a + 1} records)")
        elif item is losses.items[-1] and reader.end_offset <= start:
            whats.append(
                f"lost the records after seq {last.seq if last else '-'} (how many is unknown: nothing intact follows)"
            )
        elif not item["pieces"]:
            whats.append("no seq lost")
        for piece in item["pieces"]:
            shortened += 1
            whats.append(str(PieceLoss(**piece)))
        print(f"  damaged: bytes {start}..{start + nbytes} ({nbytes} bytes): {item['reason']}; {'; '.join(whats)}")
    if reader.torn_tail:
        offset, nbytes = reader.torn_tail
        print(f"  torn tail: {nbytes} bytes at offset {offset} (a writer stopped mid-record; not corruption)")
    else:
        print("  torn tail: none")
    if losses.items or unreadable:
        kept = f", {shortened} record(s) kept in part" if shortened else ""
        bad = f", {len(unreadable)} record(s) of unreadable scalar rows" if unreadable else ""
        print(f"DAMAGED: {len(losses.items)} damaged range(s), {lost_seqs} record(s) known lost{kept}{bad}")
        return EXIT_DAMAGED
    if reader.torn_tail:
        print("INTACT except a torn tail")
        return EXIT_TORN_TAIL
    print("INTACT")
    return EXIT_INTACT


def _summary(record: Any) -> str:
    kind = record.WhichOneof("kind")
    if kind == "finish":
        from swanlabd_pb import records_pb2 as pb

        return f"finish {pb.RunState.Name(record.finish.state)}"
    return str(kind)


def _human_loss(item: dict[str, Any]) -> str:
    return f"! lost {item['text']}"


def _record_human(record: Any, kind: str | None, keys: dict[tuple[int, int], str]) -> str:
    import datetime

    from google.protobuf import text_format

    when = datetime.datetime.fromtimestamp(record.time_ms / 1000, datetime.UTC).isoformat(timespec="milliseconds")
    head = f"seq {record.seq:<6} w{record.writer}:{record.client_seq:<6} {when[:-6]}Z  {kind or '(unknown kind)'}"
    if kind in ("scalars", "system"):
        rows = _rows(record, getattr(record, kind), keys)
        lines = [f"{head}  {len(rows)} rows\n"]
        for row in rows:
            values = " ".join(f"{name}={v}" for name, v in row["values"].items())
            lines.append(f"    step {row['step']}  t+{row['time_ms'] - record.time_ms}ms  {values}\n")
        return "".join(lines)
    if kind == "keys":
        text = " ".join(f"{k.id}={k.name}" for k in record.keys.keys)
    else:
        text = text_format.MessageToString(getattr(record, kind), as_one_line=True) if kind else ""
    if len(text) > _HUMAN_TEXT_LIMIT:
        text = f"{text[:_HUMAN_TEXT_LIMIT]}... ({len(text)} chars)"
    return f"{head}  {text}\n"


def _record_json(record: Any, kind: str | None, end: int, keys: dict[tuple[int, int], str]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "seq": record.seq,
        "time_ms": record.time_ms,
        "writer": record.writer,
        "client_seq": record.client_seq,
        "end_offset": end,
        "kind": kind,
    }
    if kind in ("scalars", "system"):
        item[kind] = {"rows": _rows(record, getattr(record, kind), keys)}
    elif kind:
        item[kind] = _message_json(getattr(record, kind))
    return item


def _rows(record: Any, message: Any, keys: dict[tuple[int, int], str]) -> list[dict[str, Any]]:
    """The rows of a ScalarRows (either form) as one dict each, keys by name (or #id if undefined)."""
    from swanlabd.format import scalarcodec

    rows = scalarcodec.decode(message)
    out = []
    at = 0
    deltas = rows.time_deltas_ms
    for i, (step, size) in enumerate(zip(rows.steps, rows.row_sizes, strict=False)):
        ids = rows.key_ids[at : at + size]
        values = rows.values[at : at + size]
        at += size
        out.append(
            {
                "step": step,
                "time_ms": record.time_ms + (deltas[i] if i < len(deltas) else 0),
                "values": {
                    keys.get((record.writer, k), f"#{k}"): _number(v) for k, v in zip(ids, values, strict=False)
                },
            }
        )
    return out


def _number(value: float) -> float | str:
    # JSON has no NaN or infinities: spell them as protobuf's JSON mapping does.
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _message_json(message: Any) -> dict[str, Any]:
    """A message as plain JSON types, every scalar field present (0 and "" too); unlike
    json_format, 64-bit integers stay numbers."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.is_repeated:
            out[field.name] = [_field_json(field, v) for v in value]
        elif field.type != field.TYPE_MESSAGE or message.HasField(field.name):
            out[field.name] = _field_json(field, value)
    return out


def _field_json(field: Any, value: Any) -> Any:
    if field.type == field.TYPE_MESSAGE:
        return _message_json(value)
    if field.type == field.TYPE_ENUM:
        enum_value = field.enum_type.values_by_number.get(value)
        return enum_value.name if enum_value else value
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
