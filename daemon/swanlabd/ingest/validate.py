"""Protocol checks of a Stream batch, made by the servicer before storage appends a byte.

A batch is refused whole (`MalformedBatch`, INVALID_ARGUMENT) for a kind a client may not send,
a record without a kind, `seq` set, another writer's id, client_seqs that are 0 or not contiguous,
scalar columns that do not agree, scalar rows in the backup file's compact form, key ids no
KeyDefs of this writer defined, a key redefined or named empty or too long, a media reference
whose key is not of a media type or whose path is not `media/<that type's folder>/<file>`, a file
path outside the run folder, config or metadata that is not JSON or nests deeper than
`MAX_JSON_DEPTH` (local/limits.py), `journal_end` set by a client, a journal range that is not
whole entries or does not start where the writer's journal ranges so far end (docs/journal.md).
A batch that starts past what the daemon holds is a gap (`SequenceGap`, FAILED_PRECONDITION:
replay from there).

A `journal` record (a range of the writer's journal) is returned as the `scalars` record it
stands for (`journal.to_record`), so storage and backup files never see one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import PurePosixPath

from swanlabd.format import journal
from swanlabd.format.keytypes import MEDIA_FOLDERS
from swanlabd.local.limits import check_json
from swanlabd.storage.activerun import ActiveRun
from swanlabd.storage.errors import MalformedBatch, SequenceGap
from swanlabd_pb import records_pb2 as pb

log = logging.getLogger(__name__)

MAX_KEY_NAME_BYTES = 4096
# What a client may put in a Stream batch. Header, RunStart and system rows are the daemon's;
# Finish goes through FinishRun so it can be ordered after everything the client sent.
CLIENT_KINDS = frozenset(
    {"keys", "scalars", "journal", "console", "media", "config", "metadata", "requirements", "file"}
)


def safe_relative_path(value: str) -> bool:
    """A path a record may name: relative and inside the run folder (no `..`, no NUL)."""
    p = PurePosixPath(value)
    return bool(value) and not p.is_absolute() and ".." not in p.parts and "\0" not in value


def media_path_error(path: str, key_type: int) -> str | None:
    """Why a MediaRef's path is not `media/<folder of key_type>/<file>`, or None if it is."""
    folder = MEDIA_FOLDERS.get(key_type)
    if folder is None:
        name = pb.KeyType.Name(key_type) if key_type in pb.KeyType.values() else str(key_type)
        return f"the key is of type {name}, not a media type"
    parts = PurePosixPath(path).parts
    if not safe_relative_path(path) or len(parts) != 3 or parts[:2] != ("media", folder) or parts[2].startswith("."):
        return f"path {path!r} must be media/{folder}/<file>"
    return None


def check_batch(run: ActiveRun, writer: int, records: Sequence[pb.Record]) -> list[pb.Record]:
    """Check a client batch against the protocol and what `run` holds; return the records to append.

    Records at or below what the daemon holds for `writer` are dropped (a replay is idempotent).
    Raises MalformedBatch (nothing of the batch may be written) or SequenceGap. Reads the run and
    never changes it: the batch's key definitions take effect when storage appends it. A
    `journal` record comes back as its `scalars` record (the one object that is not the caller's).
    """
    if not records:
        return []
    run_id = run.run_id
    first = records[0].client_seq
    if first == 0:
        raise MalformedBatch(run_id, writer, 0, "client_seq must start at 1 (0 is reserved for daemon records)")
    for i, r in enumerate(records):
        if r.client_seq != first + i:
            raise MalformedBatch(run_id, writer, r.client_seq, f"client_seq not contiguous (expected {first + i})")
    held = run.held(writer)
    if first + len(records) - 1 <= held:
        return []
    if first > held + 1:
        raise SequenceGap(run_id, writer, held + 1, first)
    fresh = list(records[held + 1 - first :])
    known = run.keys.get(writer, {})
    known_types = run.key_types.get(writer, {})
    staged: dict[int, str] = {}
    staged_types: dict[int, int] = {}
    journal_end = run.journal_end(writer)
    for index, r in enumerate(fresh):
        cs = r.client_seq
        if r.seq != 0:
            raise MalformedBatch(run_id, writer, cs, f"seq must be 0 (the daemon assigns it), got {r.seq}")
        if r.part or r.more_parts:
            raise MalformedBatch(
                run_id, writer, cs, "part and more_parts are the backup file's (the daemon splits records)"
            )
        if r.writer not in (0, writer):
            raise MalformedBatch(run_id, writer, cs, f"record says writer {r.writer} on writer {writer}'s stream")
        if r.journal_end:
            raise MalformedBatch(run_id, writer, cs, "journal_end is the daemon's (send journal ranges as `journal`)")
        kind = r.WhichOneof("kind")
        if kind is None:
            raise MalformedBatch(run_id, writer, cs, "record has no kind")
        if kind not in CLIENT_KINDS:
            raise MalformedBatch(
                run_id, writer, cs, f"kind {kind!r} is not allowed in Stream (daemon-only or FinishRun)"
            )
        if kind == "keys":
            for k in r.keys.keys:
                if not k.name or len(k.name.encode()) > MAX_KEY_NAME_BYTES:
                    raise MalformedBatch(
                        run_id, writer, cs, f"key id {k.id}: name empty or over {MAX_KEY_NAME_BYTES} bytes"
                    )
                old = staged.get(k.id, known.get(k.id))
                if old is not None and old != k.name:
                    raise MalformedBatch(run_id, writer, cs, f"key id {k.id} redefined from {old!r} to {k.name!r}")
                staged[k.id] = k.name
                staged_types[k.id] = k.type
        elif kind == "scalars":
            s = r.scalars
            if s.blocks:
                # The compact form is the backup file's: the daemon makes it as it appends.
                raise MalformedBatch(run_id, writer, cs, "scalars: blocks are the backup file's (send packed columns)")
            n = len(s.steps)
            if len(s.row_sizes) != n:
                raise MalformedBatch(run_id, writer, cs, f"scalars: {n} steps but {len(s.row_sizes)} row_sizes")
            total = sum(s.row_sizes)
            if len(s.key_ids) != total or len(s.values) != total:
                raise MalformedBatch(
                    run_id,
                    writer,
                    cs,
                    f"scalars: row_sizes sum to {total} but {len(s.key_ids)} key_ids and {len(s.values)} values",
                )
            if s.time_deltas_ms and len(s.time_deltas_ms) != n:
                raise MalformedBatch(run_id, writer, cs, f"scalars: {n} rows but {len(s.time_deltas_ms)} time deltas")
            undefined = {k for k in set(s.key_ids) if k not in staged and k not in known}
            if undefined:
                raise MalformedBatch(
                    run_id, writer, cs, f"scalars: key ids {sorted(undefined)[:10]} not defined by KeyDefs"
                )
        elif kind == "journal":
            chunk = r.journal
            if chunk.start < journal_end:
                raise MalformedBatch(
                    run_id,
                    writer,
                    cs,
                    f"journal: the range starts at position {chunk.start}, but the writer's journal "
                    f"ranges so far end at {journal_end}",
                )
            if chunk.start > journal_end:
                # Ranges this file held were lost with the page cache (a host crash before the
                # fsync: the client renumbers and goes on, as for any lost records); refusing the
                # rest would stop the run for good.
                log.warning(
                    "run %s writer %d: journal positions %d to %d are not in the file (lost before an fsync?)",
                    run_id,
                    writer,
                    journal_end,
                    chunk.start,
                )
            # A file of format 2 stores the rows compact: read them as bits and arrays, straight
            # into its blocks, with no object per value (the file of format 1 takes columns).
            compact = run.file.compact_rows
            decoded = journal.decode(chunk.start, chunk.entries, journal.Decoded(end=chunk.start, raw=compact))
            if decoded.torn:
                raise MalformedBatch(run_id, writer, cs, f"journal: the range is not whole entries: {decoded.torn}")
            if decoded.end != chunk.start + len(chunk.entries):
                raise MalformedBatch(
                    run_id,
                    writer,
                    cs,
                    f"journal: the range goes on past its WRAP entry (position {decoded.end} of "
                    f"{chunk.start + len(chunk.entries)}): the next lap's entries start a range of their own",
                )
            undefined = {k for k in decoded.key_set - staged.keys() if k not in known}
            if undefined:
                raise MalformedBatch(
                    run_id, writer, cs, f"journal: key ids {sorted(undefined)[:10]} not defined by KeyDefs"
                )
            bad = decoded.unstorable()
            if bad:
                raise MalformedBatch(
                    run_id,
                    writer,
                    cs,
                    f"journal: row {bad[0]} has step {decoded.steps[bad[0]]} and time {decoded.times[bad[0]]!r} "
                    "(steps are >= 0, times finite Unix seconds)",
                )
            journal_end = decoded.end
            # journal.to_record's record, from the range decoded here already.
            rows = pb.ScalarRows.FromString(decoded.blocks()) if compact else decoded.scalars()
            fresh[index] = pb.Record(
                time_ms=decoded.time_ms() or r.time_ms,
                writer=r.writer,
                client_seq=cs,
                scalars=rows,
                journal_end=decoded.end,
            )
        elif kind == "media":
            for m in r.media.items:
                if m.key_id not in staged and m.key_id not in known:
                    raise MalformedBatch(run_id, writer, cs, f"media: key id {m.key_id} not defined by KeyDefs")
                why = media_path_error(m.path, staged_types.get(m.key_id, known_types.get(m.key_id, 0)))
                if why is not None:
                    raise MalformedBatch(run_id, writer, cs, f"media: key id {m.key_id}: {why}")
        elif kind == "file":
            if not safe_relative_path(r.file.path):
                raise MalformedBatch(run_id, writer, cs, f"file: path {r.file.path!r} must be relative, inside the run")
        elif kind in ("config", "metadata"):
            text = getattr(r, kind).json
            try:
                if text:
                    check_json(text)
            except ValueError as exc:
                raise MalformedBatch(run_id, writer, cs, f"{kind} {exc}") from None
    return fresh
