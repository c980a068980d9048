"""What a run's backup holds, grouped the way a model of the client predicts it.

    view = read_view(run_dir)           # swanlabd.format.backup.read_records, every record
                                        # (scalar rows of either form: scalarcodec.decode)
    view.rows[1]                        # writer 1's rows: [(step, {key: value})] in file order
    view.lines[1]                       # writer 1's console lines: [(stream, text)]
    view.media[1]                       # writer 1's media: [(key, step, MediaRef)] in file order
    view.key_types["img"]               # the KeyType of each key (by name)
    view.config                         # the last Config record's JSON, parsed (None if none)

Keys are resolved through each writer's own KeyDefs, as `swanlabctl dump` resolves them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swanlabd.format import scalarcodec
from swanlabd.format.backup import BACKUP_FILENAME, read_records
from swanlabd_pb import records_pb2 as pb


@dataclass
class BackupView:
    rows: dict[int, list[tuple[int, dict[str, float]]]] = field(default_factory=dict)
    lines: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    media: dict[int, list[tuple[str, int, pb.MediaRef]]] = field(default_factory=dict)
    key_types: dict[str, int] = field(default_factory=dict)
    client_seqs: dict[int, list[int]] = field(default_factory=dict)
    config: Any = None
    configs: int = 0
    run_start: pb.RunStart | None = None
    finish: pb.Finish | None = None
    finishes: int = 0
    lost: list[tuple[int, str]] = field(default_factory=list)
    """(bytes, reason) for every damaged range the reader skipped."""


def read_view(run_dir: str | Path) -> BackupView:
    """Read a run folder's backup (or a backup file) into a BackupView."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / BACKUP_FILENAME
    view = BackupView()
    names: dict[int, dict[int, str]] = {}

    class Reporter:
        def lost(self, nbytes: int, reason: str, offset: int, seqs: tuple[int, int] | None, pieces: tuple = ()) -> None:
            view.lost.append((nbytes, str(reason)))

    for record, _ in read_records(path, reporter=Reporter()):
        w = record.writer
        if record.client_seq:
            view.client_seqs.setdefault(w, []).append(record.client_seq)
        kind = record.WhichOneof("kind")
        if kind == "keys":
            names.setdefault(w, {}).update((k.id, k.name) for k in record.keys.keys)
            view.key_types.update((k.name, k.type) for k in record.keys.keys)
        elif kind == "scalars":
            s = scalarcodec.decode(record.scalars)
            i = 0
            out = view.rows.setdefault(w, [])
            for step, size in zip(s.steps, s.row_sizes, strict=True):
                ids, values = s.key_ids[i : i + size], s.values[i : i + size]
                out.append((step, {names[w][k]: v for k, v in zip(ids, values, strict=True)}))
                i += size
        elif kind == "media":
            view.media.setdefault(w, []).extend((names[w][m.key_id], m.step, m) for m in record.media.items)
        elif kind == "console":
            view.lines.setdefault(w, []).extend((line.stream, line.text) for line in record.console.lines)
        elif kind == "config":
            view.config = json.loads(record.config.json) if record.config.json else None
            view.configs += 1
        elif kind == "run_start":
            view.run_start = record.run_start
        elif kind == "finish":
            view.finish = record.finish
            view.finishes += 1
    return view
