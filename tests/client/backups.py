"""Read what a run's backup holds, per writer, with swanlabd.format.backup.read_records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from swanlabd.format.backup import BACKUP_FILENAME, read_records
from swanlabd_pb import records_pb2 as pb


@dataclass
class RunContent:
    rows: dict[int, list[tuple[int, dict[str, float]]]] = field(default_factory=dict)
    """writer -> [(step, {key: value})] in file order."""
    client_seqs: dict[int, list[int]] = field(default_factory=dict)
    finish: pb.Finish | None = None
    lost: list[tuple[int, str]] = field(default_factory=list)


def read_run(run_dir: str | Path) -> RunContent:
    content = RunContent()
    names: dict[int, dict[int, str]] = {}

    class Reporter:
        def lost(self, nbytes: int, reason: str, offset: int, seqs: tuple[int, int] | None, pieces: tuple = ()) -> None:
            content.lost.append((nbytes, reason))

    for record, _ in read_records(Path(run_dir) / BACKUP_FILENAME, reporter=Reporter()):
        w = record.writer
        if record.client_seq:
            content.client_seqs.setdefault(w, []).append(record.client_seq)
        kind = record.WhichOneof("kind")
        if kind == "keys":
            names.setdefault(w, {}).update((k.id, k.name) for k in record.keys.keys)
        elif kind == "scalars":
            s = record.scalars
            i = 0
            out = content.rows.setdefault(w, [])
            for step, size in zip(s.steps, s.row_sizes, strict=True):
                keys, values = s.key_ids[i : i + size], s.values[i : i + size]
                out.append((step, {names[w][k]: v for k, v in zip(keys, values, strict=True)}))
                i += size
        elif kind == "finish":
            content.finish = record.finish
    return content


def expected_rows(rows: int, keys: int) -> list[tuple[int, dict[str, float]]]:
    """What tests/client/scripts/trainer.py logs."""
    return [(step, {f"m/k{k}": step + k / 1000 for k in range(keys)}) for step in range(rows)]
