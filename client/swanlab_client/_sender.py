"""The sender thread: journal ranges and queued items -> records -> transport, with acks, replay and fallback.

Policy lives here; I/O lives in a `Transport` (_transport.py). The sender

- ships the primary writer's journal (_journal.py) as it is: the bytes from where the last
  range ended to the write position, as JournalChunk records, after the KeyDefs their rows
  need; no object per row;
- takes whatever log() queued (a deque of `(step, schema_id, values, time)` tuples; no
  per-scalar objects; config changes and console lines ride in the same queue, so their order
  is kept) and encodes it in large batches: KeyDefs for keys this writer has not defined yet,
  then ScalarRows records of up to `batch_max_values` scalars as packed columns; every record
  stays under RECORD_MAX_BYTES and every request under REQUEST_MAX_BYTES (_settings.py), far
  below what the daemon accepts. An item that cannot be encoded (log() refuses what it can
  foresee) is dropped alone with a warning, never its batch; printed text that UTF-8 cannot
  encode (lone surrogates) is kept with U+FFFD in their place;
- numbers every record with this writer's client_seq (1, 2, 3 ...) and keeps it in `unacked`
  until the daemon says it is durable (written to the backup file);
- sends one batch at a time and waits for its ack (`Transport.send`), so a batch is whatever
  piled up during the previous round trip: small when the script logs slowly, large under load;
- on any DaemonError drops the connection and reconnects: StartRun(attach, its writer id)
  returns `durable_client_seq`, the sender drops what is held and replays the rest (the daemon
  also drops client_seqs it already has, so replay is idempotent). Consecutive failures back
  off exponentially (with jitter, capped at BACKOFF_MAX_S, reset by the next ack), so a daemon
  that keeps refusing (the run's file broken: INTERNAL; a malformed batch: INVALID_ARGUMENT) is
  not hammered; the rows stay queued and log() blocks once the queue is full. A request
  refused as too large (RESOURCE_EXHAUSTED) is resent in smaller pieces;
- on "disk full" (RESOURCE_EXHAUSTED naming it, from the daemon or the fallback file: nothing of
  the request was written) keeps every row and retries every DISK_FULL_RETRY_S until a write
  works; meanwhile `disk_full` is set and log() refuses new rows at the queue's bound instead of
  blocking (`Run._room`), which would freeze training for as long as the disk stays full. It
  never takes the fallback for it: that writes to the same data root;
- if nothing answers: starts a daemon (`Connector.spawn`), then, if that fails too, writes the
  run folder itself (`Connector.fallback`, a FileTransport) and stays on it for the rest of the
  run. Training never waits on any of this except through backpressure (log() blocks while the
  queue is full) and finish().

The thread sleeps while there is nothing to do: an append to the empty queue wakes it
(`SendQueue`), and queued records then go at most every `flush_interval_s`, so a print per step
is sent in batches; log()'s journal rows wake it once a quarter of the ring waits (the journal's
doorbell) and it looks at the journal every `journal_interval_s` otherwise; finish() and a
log() waiting for room wake it at once (`urge`). An idle sender takes no CPU and no GIL from
the training thread between those.

Threads: exactly one sender thread per (process, run) touches the transport and the unacked
list. log() and the sender share only the queue (append/popleft are atomic under the GIL) and
the append-only key and schema lists. A forked child never uses its parent's sender (see
_run.Run.forked).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from swanlab_client import _threads
from swanlab_client._errors import (
    DaemonError,
    DaemonTimeoutError,
    DaemonUnavailableError,
    RPCStatusCode,
    is_disk_full,
)
from swanlab_client._settings import DAEMON_MAX_MESSAGE_BYTES, RECORD_MAX_BYTES, REQUEST_MAX_BYTES, Settings
from swanlab_client.media._store import MEDIA, MediaBudget, MediaEncoder, Stored

if TYPE_CHECKING:
    from swanlab_client._journal import Journal
    from swanlab_client._transport import Transport
    from swanlabd_pb import records_pb2 as pb
    from swanlabd_pb import service_pb2 as svc
    from swanlabd_pb.records_pb2 import KeyDef, Record

_logger = logging.getLogger("swanlab_client")

RECORDS_PER_SEND = 16
MAX_ROWS_PER_TAKE = 16_384
SPAWN_INTERVAL_S = 1.0
SPAWNS_BEFORE_FALLBACK = 3
BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 5.0
# A full disk frees up at someone else's pace: look again this often, so a run resumes within
# about a second of it (each look costs the daemon one refused write).
DISK_FULL_RETRY_S = 1.0
# The backoff's jitter has its own generator: the script's `random` sequence stays its own.
_jitter = random.Random()
# Bytes a scalar row and a value add to a ScalarRows record at most (varints, one double).
ROW_BYTES = 30
VALUE_BYTES = 14
# Queue items other than rows carry a negative marker in the `step` slot (steps are >= 0):
CONFIG = -1  # (CONFIG, config json or a callable returning the latest one, None, time)
CONSOLE = -2  # (CONSOLE, line, pb.STDOUT | pb.STDERR, time)
# MEDIA = -3: (MEDIA, key id, (step, [Media])) from log(), (step, [Stored]) once encoded (media/_store.py)
FILE = -4  # (FILE, (path in the run folder, size, sha256), None, time): a file save() put in the run
# What UTF-8 cannot encode: a lone surrogate (os.listdir() and sys.argv decode bytes that are not
# UTF-8 to U+DC80..U+DCFF).
_SURROGATE = re.compile("[\ud800-\udfff]")


class SendQueue(deque):
    """What log() and the run's other producers (console, config, media, files) hand the sender:
    a deque whose append to an empty queue wakes the sender (`wake`, set by the Sender), so the
    sender sleeps instead of polling while nothing is queued."""

    def __init__(self, items: Iterable[tuple] = (), maxlen: int | None = None) -> None:
        super().__init__(items, maxlen)
        self.wake: Callable[[], None] = _nothing

    def append(self, item: tuple) -> None:
        was_empty = not self
        super().append(item)
        if was_empty:
            self.wake()


def _nothing() -> None:
    pass


class Connector(Protocol):
    """Where the sender gets transports from (tests pass in-memory ones)."""

    def daemon(self) -> Transport:
        """A new, not yet started connection to the daemon."""
        ...

    def spawn(self) -> bool:
        """Try to start a daemon; True once one accepts on the socket."""
        ...

    def fallback(self, run_dir: str) -> Transport | None:
        """A transport that writes the run folder directly, or None where that is not possible."""
        ...


@dataclass
class RunTables:
    """What log() builds and the sender reads: key names and schemas (append-only lists)."""

    key_names: list[str] = field(default_factory=lambda: [""])  # key id 0 is never used
    schemas: list[tuple[int, ...]] = field(default_factory=list)
    key_types: dict[int, str] = field(default_factory=dict)  # KeyType name of each media key (else FLOAT)
    media: MediaBudget = field(default_factory=MediaBudget)  # media bytes queued and not yet encoded
    # key id -> (section, x axis, hidden) from define_metric, set before the key name is appended
    columns: dict[int, tuple[str, str, bool] | None] = field(default_factory=dict)


class Warner:
    """Log each kind of trouble once per run, so a flapping daemon does not flood the console."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def once(self, kind: str, message: str, *args: object) -> None:
        if kind not in self.seen:
            self.seen.add(kind)
            _logger.warning("swanlab_client: " + message, *args)


class Sender:
    """Moves one writer's rows from the queue to the daemon. See the module docstring."""

    def __init__(
        self,
        *,
        queue: SendQueue,
        tables: RunTables,
        start_request: Callable[[bool], svc.StartRunRequest],
        connector: Connector,
        settings: Settings,
        warner: Warner,
        attach_new_writer: bool = False,
        on_drained: Callable[[], None] = lambda: None,
        on_durable: Callable[[list[pb.Record]], None] | None = None,
        journal: Journal | None = None,
    ) -> None:
        from swanlabd_pb import records_pb2, service_pb2

        self._pb = records_pb2
        self._svc = service_pb2
        self.queue = queue
        self.journal = journal  # the primary writer's rows are there, not in the queue (_journal.py)
        self.wake = threading.Event()
        self.urgent = False  # the wake is finish() or a log() waiting for room: no pause (_sleep)
        queue.wake = self.wake.set
        if journal is not None:
            journal.doorbell = self.urge
        self.tables = tables
        self._start_request = start_request
        self._connector = connector
        self._settings = settings
        self._warn = warner
        self._on_drained = on_drained
        self._on_durable = on_durable  # callbacks' on_*_flush: called with each run of acked records
        self.attach_new_writer = attach_new_writer
        self.created = attach_new_writer  # a child attaches; it never creates the run
        self.writer = 0
        self.run_id = ""
        self.run_dir = ""
        self.next_step = 0  # a resumed run: one more than the highest step it holds (StartRunReply)
        self.next_cs = 1
        self.durable = 0
        self.unacked: list[pb.Record] = []
        self.defined = 0  # key ids 1..defined have a KeyDef on this writer's stream
        self.line_no = 0  # console lines sent by this writer
        self.dropped = 0  # queued items that could not be encoded (each warned about)
        # The last "disk full" refusal while the episode lasts (until a write works), else None;
        # log() reads it (`Run._room`) to refuse rows instead of blocking.
        self.disk_full: str | None = None
        self.refused = 0  # rows log() refused for a full disk (counted in the logging thread)
        self.refusing = False  # log() has refused a row in this episode (and said so)
        self._refused_before = 0  # `refused` when the episode began
        self.transport: Transport | None = None
        self.on_fallback = False
        self.finish_request: pb.Finish | None = None
        self.finished = threading.Event()
        self.started = threading.Event()  # StartRun answered (run_dir known, or start_refused)
        self.start_refused: DaemonError | None = None  # the run's id is another run's
        self.error: BaseException | None = None
        self._last_spawn = -SPAWN_INTERVAL_S
        self._journal_shipped = -float("inf")  # the first rows go at once
        self._queue_sent = -float("inf")  # when queued items were last sent (_sleep)
        self._failed_spawns = 0
        self.failures = 0  # consecutive DaemonErrors since the last ack (the backoff's exponent)
        self._request_records = RECORDS_PER_SEND  # lowered after a request refused as too large
        self._sent = 0  # records in the request in flight
        self.thread: threading.Thread | None = None
        self.deadline: float | None = None
        self.watch_main_thread = False
        self.media = MediaEncoder(tables.media, warner.once)

    # -- control (any thread) ----------------------------------------------------------------

    def start_thread(self, *, daemon: bool) -> None:
        self.thread = threading.Thread(target=self.run, name="swanlab-sender", daemon=daemon)
        _threads.start(self.thread)

    def request_finish(self, finish: pb.Finish) -> None:
        if self.finish_request is None:
            self.finish_request = finish
            # From now on the sender may give up: finish() is bounded even with no daemon and
            # no fallback (a forked child), and a child's non-daemon thread must end.
            self.deadline = time.monotonic() + self._settings.finish_timeout_s
        self.urge()

    def urge(self) -> None:
        """Wake the thread for work that must not wait for the queue's pause (finish(), a
        log() waiting for room, a quarter of the journal's ring waiting)."""
        self.urgent = True
        self.wake.set()

    # -- the thread --------------------------------------------------------------------------

    def run(self) -> None:
        """Loop until finished: connect, replay, drain the queue, send, finish."""
        while not self.finished.is_set():
            try:
                if not self.step():
                    self._sleep()
            except DaemonError as exc:
                self._lost(exc)
            except _Expired:
                pass
            except Exception as exc:  # noqa: BLE001 - a bug must not kill the thread holding the data
                self.error = exc
                self._warn.once("bug", "sender error (rows kept, retrying): %r", exc)
                _logger.debug("sender error", exc_info=True)
                time.sleep(0.5)
            if self.deadline is not None and time.monotonic() > self.deadline and not self.finished.is_set():
                self._warn.once(
                    "gave-up",
                    "gave up on run %s (writer %d) after %.0fs: %d queued rows and %d records not "
                    "confirmed durable (%s)",
                    self.run_id,
                    self.writer,
                    self._settings.finish_timeout_s,
                    len(self.queue),
                    len(self.unacked),
                    self.why_not_stored(),
                )
                self.finished.set()

    def why_not_stored(self) -> str:
        """Why rows are not durable yet, for the warnings of a finish() that gives up."""
        if self.disk_full is None:
            return "no swanlabd reachable, no fallback possible"
        return f"{self.disk_full}; {self.refused} more rows were refused while the disk was full"

    def step(self) -> bool:
        """One turn of the loop (tests call it directly): False if there was nothing to do."""
        if self.transport is None:
            self._connect()
        if self.unacked:
            self._send_unacked()
        # The journal's position is read before the key names (in _pack): every row below it
        # uses keys that are defined by then.
        journal = self.journal
        upto = journal.pos if journal is not None else 0
        items = self._take()
        due = journal is not None and upto > journal.sent and self._journal_due(journal, upto)
        if items or due:
            # Media files are written and fsynced before the records naming them exist.
            items = self.media.encode_items(self.run_dir, items, self.tables.key_names)
            self.unacked.extend(self._encode(items))
            if due:
                assert journal is not None
                self.unacked.extend(self._journal_records(journal, upto))
                self._journal_shipped = time.monotonic()
            if items:
                self._queue_sent = time.monotonic()
            self._send_unacked()
            return True
        if self.finish_request is None and self.watch_main_thread and not threading.main_thread().is_alive():
            # A forked child leaving through os._exit() (multiprocessing) runs no atexit: this
            # non-daemon thread is what finishes its writer before the process ends.
            self.request_finish(self._pb.Finish(state=self._pb.FINISHED))
        if self.finish_request is not None and not self.queue and (journal is None or journal.sent >= journal.pos):
            self._finish()
            return True
        return False

    def _sleep(self) -> None:
        """Wait for work (module docstring): an append to the empty queue, the journal's rows
        coming due, or `urge`. Then, with records queued, pause until `flush_interval_s` after
        the last send of queued ones, unless urged: a print per step goes in batches."""
        settings, journal = self._settings, self.journal
        now = time.monotonic()
        if self.watch_main_thread:
            wait = settings.flush_interval_s  # a forked child must see its main thread end soon
        else:
            wait = max(settings.flush_interval_s, settings.journal_interval_s)
        if journal is not None and journal.pos > journal.sent:
            wait = min(wait, self._journal_shipped + settings.journal_interval_s - now)
        if wait > 0 and not self.queue:
            self.wake.wait(wait)
        self.wake.clear()
        pause = self._queue_sent + settings.flush_interval_s - time.monotonic()
        if self.queue and not self.urgent and pause > 0:
            self.wake.wait(pause)
            self.wake.clear()
        self.urgent = False

    def _journal_due(self, journal: Journal, upto: int) -> bool:
        """Ship the journal's new rows now? They are out of reach of a kill of this process
        already, so they wait up to `journal_interval_s`: fewer, bigger sends take less CPU and
        GIL from the training thread. Sooner once a quarter of the ring waits (log() must never
        find it full while the daemon keeps up) and when the run finishes."""
        return (
            self.finish_request is not None
            or upto - journal.acked >= journal.capacity // 4
            or time.monotonic() - self._journal_shipped >= self._settings.journal_interval_s
        )

    def _take(self) -> list[tuple]:
        q = self.queue
        n = min(len(q), MAX_ROWS_PER_TAKE)
        if not n:
            return []
        popleft = q.popleft
        items = [popleft() for _ in range(n)]
        self._on_drained()
        return items

    def _encode(self, items: list[tuple]) -> list[pb.Record]:
        """Records for `items`. An item that cannot be encoded is dropped alone, with a warning.

        A failure is found by halving: the halves that encode are kept (a few more, smaller
        records than one pass would give), so a bad row never takes its neighbours or the
        KeyDefs they need.
        """
        try:
            return self._pack(items)
        except Exception as exc:  # noqa: BLE001 - whatever an item does wrong, it costs only that item
            if len(items) == 1:
                self._drop(items[0], exc)
                return []
        half = len(items) // 2
        return self._encode(items[:half]) + self._encode(items[half:])

    def _drop(self, item: tuple, exc: Exception) -> None:
        step = item[0]
        what = (
            "the config"
            if step == CONFIG
            else "a console line"
            if step == CONSOLE
            else "a saved file"
            if step == FILE
            else f"the media at step {item[2][0]}"
            if step == MEDIA
            else f"the row at step {step}"
        )
        self.dropped += 1
        self._warn.once(
            "unencodable-" + type(exc).__name__,
            "%s of run %s cannot be encoded and is dropped (%s: %s); the rest of the run is kept "
            "(a swanlab_client bug, please report it; warned once per kind of error)",
            what,
            self.run_id,
            type(exc).__name__,
            exc,
        )

    def _pack(self, items: list[tuple]) -> list[pb.Record]:
        """Encode `items` in as few records as the bounds allow; raises without changing any state."""
        pb = self._pb
        names = self.tables.key_names
        schemas = self.tables.schemas
        records: list[Record] = []  # not pb.Record: the local `pb` hides the module in annotations
        n = len(names)  # read after the take: every taken row's keys are below n
        if n - 1 > self.defined:
            t_ms = int(time.time() * 1000)
            defs: list[KeyDef] = []
            size = 0
            types, columns = self.tables.key_types, self.tables.columns
            for i in range(self.defined + 1, n):
                key_type = pb.KeyType.Value(types.get(i, "FLOAT"))
                column = columns.get(i)
                if column is None:
                    defs.append(pb.KeyDef(id=i, name=names[i], type=key_type))
                else:
                    section, x_axis, hidden = column
                    defs.append(
                        pb.KeyDef(id=i, name=names[i], type=key_type, section=section, x_axis=x_axis, hidden=hidden)
                    )
                size += 4 * len(names[i]) + 16
                if size >= RECORD_MAX_BYTES:
                    records.append(pb.Record(time_ms=t_ms, keys=pb.KeyDefs(keys=defs)))
                    defs, size = [], 0
            if defs:
                records.append(pb.Record(time_ms=t_ms, keys=pb.KeyDefs(keys=defs)))
        line_no = self.line_no
        steps: list[int] = []
        sizes: list[int] = []
        key_ids: list[int] = []
        values: list[object] = []
        times: list[float] = []
        limit = self._settings.batch_max_values
        row_bytes = 0  # an upper bound of the pending ScalarRows' size
        console_bytes = 0  # the same for the last ConsoleLines record

        def flush() -> None:
            nonlocal row_bytes
            row_bytes = 0
            if not steps:
                return
            base = int(times[0] * 1000)
            rows = self._rows(steps, sizes, key_ids, values, [int(t * 1000) - base for t in times])
            records.append(pb.Record(time_ms=base, scalars=rows))
            for column in (steps, sizes, key_ids, values, times):
                column.clear()

        for step, ref, vals, t in items:
            if step < 0:
                flush()
                t_ms = int(t * 1000)
                if step == CONFIG:
                    # A callable gives the config's latest state (one record per burst of changes).
                    records.append(pb.Record(time_ms=t_ms, config=pb.Config(json=ref() if callable(ref) else ref)))
                    continue
                if step == FILE:
                    path, size, sha256 = ref
                    records.append(pb.Record(time_ms=t_ms, file=pb.SavedFile(path=path, size=size, sha256=sha256)))
                    continue
                if step == MEDIA:
                    records.append(pb.Record(time_ms=t_ms, media=self._media_refs(ref, *vals)))
                    continue
                line_no += 1
                try:
                    line = pb.ConsoleLine(line_no=line_no, text=ref, stream=vals, time_ms=t_ms)
                except UnicodeEncodeError:
                    line = pb.ConsoleLine(
                        line_no=line_no, text=_SURROGATE.sub("\ufffd", ref), stream=vals, time_ms=t_ms
                    )
                    self._warn.once(
                        "surrogates",
                        "printed text had characters UTF-8 cannot encode (lone surrogates, e.g. a file name "
                        "that is not UTF-8 from os.listdir()); the console log has U+FFFD in their place",
                    )
                size = (len(ref) if ref.isascii() else 4 * len(ref)) + 32
                if (
                    records
                    and records[-1].HasField("console")
                    and len(records[-1].console.lines) < limit
                    and console_bytes + size <= RECORD_MAX_BYTES
                ):
                    records[-1].console.lines.append(line)
                    console_bytes += size
                else:
                    records.append(pb.Record(time_ms=t_ms, console=pb.ConsoleLines(lines=[line])))
                    console_bytes = size
                continue
            schema = schemas[ref]
            steps.append(step)
            sizes.append(len(schema))
            key_ids.extend(schema)
            values.extend(vals)
            times.append(t)
            row_bytes += ROW_BYTES + VALUE_BYTES * len(schema)
            if len(values) >= limit or row_bytes >= RECORD_MAX_BYTES:
                flush()
        flush()
        # Everything is encoded: only now are the keys defined and the lines and records numbered.
        self.defined = max(self.defined, n - 1)
        self.line_no = line_no
        for record in records:
            record.client_seq = self.next_cs
            self.next_cs += 1
        return records

    def _journal_records(self, journal: Journal, upto: int) -> list[pb.Record]:
        """The journal from where the last range ended to `upto`, as JournalChunk records (bytes
        copied as they are: no object per row in this process)."""
        pb = self._pb
        t_ms = int(time.time() * 1000)
        records = []
        for start, entries in journal.take(upto):
            record = pb.Record(time_ms=t_ms, journal=pb.JournalChunk(start=start, entries=entries))
            record.client_seq = self.next_cs
            self.next_cs += 1
            records.append(record)
        return records

    def _media_refs(self, key_id: int, step: int, stored: list[Stored]) -> pb.MediaRefs:
        pb = self._pb
        refs = [
            pb.MediaRef(key_id=key_id, step=step, path=f.path, caption=f.caption, sha256=f.sha256, size=f.size)
            for f in stored
        ]
        return pb.MediaRefs(items=refs)

    def _rows(
        self, steps: list[int], sizes: list[int], key_ids: list[int], values: list, deltas: list[int]
    ) -> pb.ScalarRows:
        pb = self._pb
        try:
            return pb.ScalarRows(steps=steps, row_sizes=sizes, key_ids=key_ids, values=values, time_deltas_ms=deltas)
        except OverflowError:
            # An int beyond the range of a double: stored as +-inf (its sign kept), said once.
            self._warn.once("overflow", "an integer value is too large for a float64; stored as +-inf")
            safe = [to_float(v) for v in values]
            return pb.ScalarRows(steps=steps, row_sizes=sizes, key_ids=key_ids, values=safe, time_deltas_ms=deltas)

    def _send_unacked(self) -> None:
        assert self.transport is not None
        while self.unacked:
            chunk = self._next_request()
            for record in chunk:
                record.writer = self.writer
            self._sent = len(chunk)
            durable = self.transport.send(chunk)
            self._sent = 0
            self.failures = 0
            self._request_records = RECORDS_PER_SEND
            self._acked(durable)
            if self.disk_full is not None:
                self._space_again()

    def _next_request(self) -> list[pb.Record]:
        """The first unacked records, as many as fit in one request (always at least one)."""
        chunk = [self.unacked[0]]
        size = chunk[0].ByteSize()
        for record in self.unacked[1 : self._request_records]:
            size += record.ByteSize()
            if size > REQUEST_MAX_BYTES:
                break
            chunk.append(record)
        return chunk

    def _acked(self, durable: int) -> None:
        if durable > self.durable:
            self.durable = durable
        drop = 0
        for record in self.unacked:
            if record.client_seq > durable:
                break
            drop += 1
        if drop:
            acked = self.unacked[:drop]
            del self.unacked[:drop]
            if self.journal is not None:
                for record in reversed(acked):
                    if record.HasField("journal"):
                        self.journal.ack(record.journal.start + len(record.journal.entries))
                        self._on_drained()  # log() may be waiting for room
                        break
            if self._on_durable is not None:
                self._on_durable(acked)

    def _finish(self) -> None:
        assert self.transport is not None and self.finish_request is not None
        finish = self.finish_request
        finish.finish_time_ms = finish.finish_time_ms or int(time.time() * 1000)
        request = self._svc.FinishRunRequest(
            run_id=self.run_id, writer=self.writer, last_client_seq=self.next_cs - 1, finish=finish
        )
        self.transport.finish(request)
        self.transport.close()
        self.transport = None
        self.media.close()
        self.finished.set()

    # -- connecting --------------------------------------------------------------------------

    def _connect(self) -> None:
        """Reach the daemon (starting one if nothing answers) or else the fallback file.

        The fallback is taken only when the daemon answers but cannot take the run, or when
        nothing answers and no daemon can be started (autostart off, or the spawn failed): a
        daemon that is merely restarting is waited for, with log() blocking once the queue is full,
        and so is a daemon whose disk is full (the fallback's is the same), with log() refusing.
        A daemon whose socket accepts but which does not answer StartRun in time (stopped by
        SIGSTOP, hung) is handled as a dead one: each such timeout is a failed start.
        """
        delay = 0.1
        while True:
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise _Expired()
            refusal = ""  # why a daemon that answered cannot take the run, for the fallback's warning
            if not self.on_fallback:
                error = self._try_start(self._connector.daemon())
                if error is None:
                    self._failed_spawns = 0
                    return
                if is_disk_full(error):
                    self._disk_is_full(error)
                    time.sleep(DISK_FULL_RETRY_S)
                    continue
                if (
                    error.code == RPCStatusCode.FAILED_PRECONDITION
                    and self.finish_request is not None
                    and not self.unacked
                    and not self.queue
                ):
                    # Our FinishRun landed but its answer was lost: the daemon closed the run
                    # and every record was acked. Done (never write a second Finish).
                    self.finished.set()
                    raise _Expired()
                unreachable = isinstance(error, (DaemonUnavailableError, DaemonTimeoutError))
                if not unreachable:
                    refusal = str(error)
                if unreachable and self._settings.autostart:
                    if time.monotonic() - self._last_spawn < SPAWN_INTERVAL_S:
                        time.sleep(min(delay, SPAWN_INTERVAL_S))
                        delay = min(delay * 2, 1.0)
                        continue
                    self._last_spawn = time.monotonic()
                    # spawn() is True once the socket accepts, which a stopped daemon's does too:
                    # after a timeout only an answer proves the daemon alive.
                    if self._connector.spawn() and not isinstance(error, DaemonTimeoutError):
                        self._failed_spawns = 0
                        continue  # a daemon accepts now: try it at once
                    self._failed_spawns += 1
                    if self._failed_spawns < SPAWNS_BEFORE_FALLBACK:
                        continue
            fallback = self._connector.fallback(self.run_dir) if self._settings.fallback else None
            if fallback is not None:
                error = self._try_start(fallback)
                if error is None:
                    if not self.on_fallback:
                        self.on_fallback = True
                        self._warn.once(
                            "fallback",
                            "%s; writing run %s to %s directly (a daemon adopts it; nothing is lost)",
                            f"swanlabd cannot take the run ({refusal})"
                            if refusal
                            else "no swanlabd could be reached or started",
                            self.run_id,
                            self.run_dir,
                        )
                    return
                if is_disk_full(error):
                    self._disk_is_full(error)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _try_start(self, transport: Transport) -> DaemonError | None:
        """StartRun on `transport` (create, or attach as our writer); adopt it if that works."""
        while True:
            request = self._start_request(not self.created)
            if self.created:
                request.attach = True
                request.writer = self.writer  # 0 for a child's first attach: a new writer id
            try:
                reply = transport.start(request)
            except DaemonError as exc:
                if exc.code == RPCStatusCode.ALREADY_EXISTS and not self.created:
                    # The id is another run's (the daemon answers a retry of our own create with
                    # our run): never write into it. init() waits for this answer and raises it.
                    transport.close()
                    if self.journal is not None and self.journal.pos == 0:
                        # Nothing logged (init() raises before it returns): no one else deletes it.
                        # Rows logged after an init() that stopped waiting stay for a person.
                        self.journal.remove()
                    self.start_refused = exc
                    self.started.set()
                    self.finished.set()
                    raise _Expired() from exc
                if not isinstance(exc, DaemonUnavailableError) and not is_disk_full(exc):  # those say more elsewhere
                    self._warn.once("connect", "cannot start the run on swanlabd (%s); retrying", exc)
                transport.close()
                return exc
            break
        if self.disk_full is not None and not request.attach:
            self._space_again()  # the run's folder was made: there is space again
        self.created = True
        self.writer = reply.writer
        self.run_id = reply.run_id
        self.run_dir = reply.run_dir or self.run_dir
        if not request.attach:
            self.next_step = reply.next_step
        self.transport = transport
        self._resume_from(reply.durable_client_seq)
        if self.journal is not None:
            self.journal.mark_started()
        self.started.set()
        return None

    def _resume_from(self, durable: int) -> None:
        """After (re)connecting: drop what the daemon holds, keep the rest for replay."""
        self._acked(durable)
        first = self.unacked[0].client_seq if self.unacked else self.next_cs
        if durable < first - 1:
            # The daemon lost records it had acked (its host crashed before an fsync). They are
            # gone from our memory too; renumber so the stream continues without a gap.
            lost = (durable + 1, first - 1)
            self._warn.once("lost", "swanlabd lost acked records %d-%d of this run (host crash?)", *lost)
            cs = durable + 1
            for record in self.unacked:
                record.client_seq = cs
                cs += 1
            self.next_cs = cs
            self.durable = durable

    def _lost(self, exc: DaemonError) -> None:
        """A request failed: drop the connection, say why once, back off, and try again."""
        code = exc.code
        if is_disk_full(exc):
            self._disk_is_full(exc)
        elif code == RPCStatusCode.RESOURCE_EXHAUSTED and self._sent:
            self._warn.once(
                "too-large", "swanlabd refused a request as too large (%s); resending it in smaller pieces", exc
            )
            self._shrink_request()
        elif code == RPCStatusCode.INVALID_ARGUMENT:
            self._warn.once(
                "invalid",
                "swanlabd refused a batch of run %s as malformed, a swanlab_client bug (please report it): "
                "%s. The rows are kept; retrying with backoff",
                self.run_id,
                exc,
            )
        elif code == RPCStatusCode.INTERNAL or self.on_fallback:
            # The run's file failed (disk full, I/O error, a failed fsync), at the daemon or ours.
            self._warn.once(
                "storage",
                "run %s cannot be stored right now (%s); keeping the rows, retrying with backoff",
                self.run_id,
                exc,
            )
        else:
            self._warn.once(
                "lost-connection", "lost the connection to swanlabd (%s); reconnecting, nothing is lost", exc
            )
        self._sent = 0
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self.failures += 1
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self.failures - 1)) * _jitter.uniform(0.5, 1.0)
        if self.disk_full is not None:
            delay = min(delay, DISK_FULL_RETRY_S)
        if self.deadline is not None:
            delay = min(delay, max(0.0, self.deadline - time.monotonic()))
        time.sleep(delay)

    def _disk_is_full(self, exc: DaemonError) -> None:
        """A "disk full" refusal: nothing of the request was stored. Say so when an episode begins."""
        if self.disk_full is None:
            self._refused_before = self.refused
            message = (
                "run %s cannot be stored for now: %s. Nothing is lost: the rows are kept in memory and sent "
                "as soon as space is freed (retried every %.0f s). Meanwhile log() does not wait: once %d rows "
                "are waiting, new rows are not stored until then (counted)"
            )
            args = (self.run_id, exc, DISK_FULL_RETRY_S, self._settings.queue_max_rows)
            if "disk-full" in self._warn.seen:  # a disk that fills up again: warned once per run already
                _logger.info("swanlab_client: " + message, *args)
            else:
                self._warn.once("disk-full", message, *args)
        self.disk_full = str(exc)

    def _space_again(self) -> None:
        """A write worked after a "disk full" episode: say how many rows log() refused meanwhile."""
        refused = self.refused - self._refused_before
        self.disk_full = None
        self.refusing = False
        if refused:
            _logger.warning(
                "swanlab_client: run %s is stored again: every row kept meanwhile is sent; %d rows logged while "
                "the disk was full were not stored",
                self.run_id,
                refused,
            )
        else:
            _logger.info(
                "swanlab_client: run %s is stored again; nothing was lost while its disk was full", self.run_id
            )

    def _shrink_request(self) -> None:
        """After RESOURCE_EXHAUSTED: send fewer records per request, or cut the first record in two."""
        if self._sent > 1:
            self._request_records = max(1, self._sent // 2)
            return
        head = self.unacked[0]
        halves = _halve(head)
        if halves is None:
            if head.ByteSize() < DAEMON_MAX_MESSAGE_BYTES:
                return  # it fits the daemon's limit: refused for another reason, retried with backoff
            self._warn.once(
                "dropped",
                "a %s record of %d bytes is larger than swanlabd accepts; it is dropped",
                head.WhichOneof("kind"),
                head.ByteSize(),
            )
            halves = []
        # Nothing from the refused request was stored, so the records from the head on can be
        # renumbered: the stream continues without a gap.
        cs = head.client_seq
        self.unacked[:1] = halves
        for record in self.unacked:
            record.client_seq = cs
            cs += 1
        self.next_cs = cs


class _Expired(Exception):
    """Stop trying to connect: the finish deadline passed, or the run is already finished."""


def _halve(record: pb.Record) -> list[pb.Record] | None:
    """The record cut into two of the same kind (console lines, key defs, scalar rows), or None."""
    kind = record.WhichOneof("kind")
    first, second = type(record)(), type(record)()
    first.CopyFrom(record)
    second.CopyFrom(record)
    if kind == "console" and len(record.console.lines) > 1:
        half = len(record.console.lines) // 2
        del first.console.lines[half:]
        del second.console.lines[:half]
    elif kind == "keys" and len(record.keys.keys) > 1:
        half = len(record.keys.keys) // 2
        del first.keys.keys[half:]
        del second.keys.keys[:half]
    elif kind == "scalars" and len(record.scalars.steps) > 1:
        rows = record.scalars
        half = len(rows.steps) // 2
        cut = sum(rows.row_sizes[:half])
        for part, keep in ((first.scalars, slice(None, half)), (second.scalars, slice(half, None))):
            values = slice(None, cut) if keep.start is None else slice(cut, None)
            part.steps[:] = rows.steps[keep]
            part.row_sizes[:] = rows.row_sizes[keep]
            part.time_deltas_ms[:] = rows.time_deltas_ms[keep]
            part.key_ids[:] = rows.key_ids[values]
            part.values[:] = rows.values[values]
    else:
        return None
    return [first, second]


def to_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]  # a number log() accepted (_validate.number)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")  # type: ignore[operator]  # only an int overflows


def pending(sender: Sender | None, queue: Sequence) -> int:
    """Rows and records not yet durable (queued + unacked), for finish()'s warning."""
    if sender is None:
        return len(queue)
    journal = sender.journal
    taken = 1 if journal is not None and journal.pos > journal.sent else 0  # rows not yet shipped
    return len(queue) + len(sender.unacked) + taken
