"""An in-memory stand-in for swanlabd, to test the sender's policy without sockets.

`MemoryDaemon` keeps the records of each (run, writer) with the daemon's rules
(docs/daemon.md): client_seq contiguous, duplicates dropped, gaps refused, key ids defined before use.
`MemoryTransport` is one connection to it and can be told to break: before a batch reaches the
daemon, or after it was appended but before the ack (the two cases replay must handle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from swanlab_client._errors import DaemonError, DaemonRejectedError, DaemonUnavailableError, RPCStatusCode
from swanlab_client._journal import Journal
from swanlab_client._run import Run
from swanlab_client._sender import Sender, Warner
from swanlab_client._settings import Settings
from swanlabd.format import journal
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc


class MemoryDaemon:
    def __init__(self) -> None:
        self.records: dict[tuple[str, int], list[pb.Record]] = {}
        self.defined: dict[tuple[str, int], set[int]] = {}
        self.next_writer: dict[str, int] = {}
        self.finished: dict[tuple[str, int], pb.Finish] = {}
        self.starts: list[svc.StartRunRequest] = []

    def held(self, run_id: str, writer: int) -> int:
        recs = self.records.get((run_id, writer))
        return recs[-1].client_seq if recs else 0

    def start(self, req: svc.StartRunRequest) -> svc.StartRunReply:
        self.starts.append(svc.StartRunRequest.FromString(req.SerializeToString()))
        run_id = req.start.run_id
        if not req.attach:
            if run_id in self.next_writer:
                raise DaemonRejectedError("exists", RPCStatusCode.ALREADY_EXISTS)
            self.next_writer[run_id] = 2
            self.records[(run_id, 1)] = []
            self.defined[(run_id, 1)] = set()
            return svc.StartRunReply(run_id=run_id, run_dir=f"/mem/{run_id}", writer=1)
        if run_id not in self.next_writer:
            raise DaemonRejectedError("unknown run", RPCStatusCode.NOT_FOUND)
        writer = req.writer
        if writer == 0:
            writer = self.next_writer[run_id]
            self.next_writer[run_id] += 1
            self.records[(run_id, writer)] = []
            self.defined[(run_id, writer)] = set()
        return svc.StartRunReply(
            run_id=run_id, run_dir=f"/mem/{run_id}", writer=writer, durable_client_seq=self.held(run_id, writer)
        )

    def append(self, run_id: str, writer: int, records: Sequence[pb.Record]) -> int:
        held = self.held(run_id, writer)
        if records and records[0].client_seq > held + 1:
            raise DaemonRejectedError(
                f"gap: expected {held + 1}, got {records[0].client_seq}", RPCStatusCode.FAILED_PRECONDITION
            )
        defined = self.defined[(run_id, writer)]
        for r in records:
            if r.client_seq <= held:
                continue
            assert r.writer == writer, (r.writer, writer)
            if r.HasField("journal"):
                r = journal.to_record(r)  # as the daemon stores a journal range
            kind = r.WhichOneof("kind")
            if kind == "keys":
                defined.update(k.id for k in r.keys.keys)
            elif kind == "scalars":
                missing = set(r.scalars.key_ids) - defined
                if missing:
                    raise DaemonRejectedError(f"undefined key ids {missing}", RPCStatusCode.INVALID_ARGUMENT)
            copy = pb.Record()
            copy.CopyFrom(r)
            self.records[(run_id, writer)].append(copy)
            held = r.client_seq
        return held

    def rows(self, run_id: str, writer: int = 1) -> list[tuple[int, dict[str, float]]]:
        """(step, {key: value}) for every scalar row this writer stored, in order."""
        names: dict[int, str] = {}
        out = []
        for r in self.records[(run_id, writer)]:
            if r.HasField("keys"):
                names.update((k.id, k.name) for k in r.keys.keys)
            elif r.HasField("scalars"):
                s = r.scalars
                i = 0
                for step, size in zip(s.steps, s.row_sizes, strict=True):
                    keys, values = s.key_ids[i : i + size], s.values[i : i + size]
                    out.append((step, {names[k]: v for k, v in zip(keys, values, strict=True)}))
                    i += size
        return out


class MemoryTransport:
    """One connection. `breaks(n_sends)` returns "before", "after" or None for each send."""

    def __init__(self, daemon: MemoryDaemon, breaks: Callable[[int], str | None] = lambda n: None) -> None:
        self.daemon = daemon
        self.breaks = breaks
        self.sends = 0
        self.run: tuple[str, int] | None = None
        self.closed = False

    def start(self, request: svc.StartRunRequest) -> svc.StartRunReply:
        reply = self.daemon.start(request)
        self.run = (reply.run_id, reply.writer)
        return reply

    def send(self, records: Sequence[pb.Record]) -> int:
        assert self.run is not None and not self.closed
        self.sends += 1
        how = self.breaks(self.sends)
        if how == "before":
            raise DaemonUnavailableError("connection reset", RPCStatusCode.UNAVAILABLE)
        durable = self.daemon.append(*self.run, records)
        if how == "after":
            raise DaemonUnavailableError("connection reset after append", RPCStatusCode.UNAVAILABLE)
        return durable

    def finish(self, request: svc.FinishRunRequest) -> int:
        assert request.last_client_seq <= self.daemon.held(request.run_id, request.writer)
        self.daemon.finished[(request.run_id, request.writer)] = request.finish
        return self.daemon.held(request.run_id, request.writer)

    def close(self) -> None:
        self.closed = True


class MemoryConnector:
    """Hands out MemoryTransports; `down` makes the daemon unreachable (fallback or wait)."""

    def __init__(self, memory: MemoryDaemon, breaks: Callable[[int], str | None] = lambda n: None) -> None:
        self.memory = memory
        self.breaks = breaks
        self.down = False
        self.connects = 0
        self.spawns = 0
        self.fallback_memory: MemoryDaemon | None = None

    def daemon(self) -> MemoryTransport:
        self.connects += 1
        if self.down:
            return _Refusing()  # type: ignore[return-value]  # refuses at start(), so needs nothing else
        return MemoryTransport(self.memory, self.breaks)

    def spawn(self) -> bool:
        self.spawns += 1
        return False

    def fallback(self, run_dir: str) -> MemoryTransport | None:
        if self.fallback_memory is None:
            return None
        return MemoryTransport(self.fallback_memory)


class _Refusing:
    def start(self, request: svc.StartRunRequest) -> svc.StartRunReply:
        raise DaemonUnavailableError("connection refused", RPCStatusCode.UNAVAILABLE)

    def close(self) -> None:
        pass


# journal_interval_s=0: every turn ships the journal too (test_journal_ring.py tests the interval).
SETTINGS = Settings(flush_interval_s=0.001, journal_interval_s=0, batch_max_values=64, autostart=False, hooks=False)


def make_run(connector: MemoryConnector, settings: Settings = SETTINGS) -> Run:
    """A Run wired to the in-memory daemon; its sender is stepped by hand (no thread)."""
    request = svc.StartRunRequest(start=pb.RunStart(run_id="r1", project="p"))
    run = Run(
        run_id="r1", project="p", workspace="", experiment_name="e", mode="offline", settings=settings, request=request
    )
    run.sender = Sender(
        queue=run._queue,
        tables=run._tables,
        start_request=lambda create: svc.StartRunRequest.FromString(request.SerializeToString()),
        connector=connector,
        settings=settings,
        warner=Warner(),
    )
    run.sender.run_id = "r1"
    return run


def make_journal_run(connector: MemoryConnector, directory: Path, capacity: int, settings: Settings = SETTINGS) -> Run:
    """make_run with a journal of `capacity` bytes under `directory` (in socket/journals, as the
    client makes it next to the daemon's socket), owned by the first thread that logs."""
    run = make_run(connector, settings)
    run._journal = Journal.create(directory / "socket" / "journals", run.run_id, capacity)
    assert run.sender is not None
    run.sender.journal = run._journal
    run._journal.doorbell = run.sender.urge  # as Sender.__init__ wires it
    return run


def drain(run: Run) -> None:
    turn(run.sender)


def turn(sender: Sender) -> None:
    """What the sender thread does, until the queue is empty and everything is acked."""
    journal = sender.journal

    def unshipped() -> bool:
        return journal is not None and journal.sent < journal.pos

    while sender.queue or sender.unacked or sender.transport is None or unshipped():
        try:
            sender.step()
        except DaemonError as exc:
            sender._lost(exc)
