"""Transports: the I/O under the sender. The sender owns policy; a transport owns one connection.

    class Transport(Protocol):
        start(StartRunRequest) -> StartRunReply      create / attach (learn durable_client_seq)
        send(records) -> int                          one batch; returns durable_client_seq
        finish(FinishRunRequest) -> int               Finish record + fsync (primary writer) or detach
        close()

`GrpcTransport` talks to swanlabd over its Unix socket, once it has checked that only this user
can have made that socket; this is the only module that imports grpc (`_errors.map_rpc_errors`
only catches its errors), and only once a GrpcTransport starts: in the sender thread after
init(), never at `import swanlab_client`. `FileTransport`
writes the run folder itself (swanlabd.local.runfolder, as the daemon does) when no daemon can
be reached or started (a daemon adopts the folder later: docs/client.md). A
forked child talks through `_relay.RelayTransport` instead (see _relay.py for why).

Every failure surfaces as a `DaemonError` (translated in `_errors.map_rpc_errors`); the sender
treats any of them as "this connection is gone".
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from swanlab_client._errors import (
    DISK_FULL,
    DaemonError,
    DaemonRejectedError,
    DaemonTimeoutError,
    DaemonUnavailableError,
    RPCStatusCode,
    error_for,
    map_rpc_errors,
)
from swanlab_client._settings import DAEMON_MAX_MESSAGE_BYTES
from swanlabd.local import paths
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

if TYPE_CHECKING:
    from swanlabd.format.backup import BackupWriter

_logger = logging.getLogger("swanlab_client")
_END = object()
# The fallback file's group commit, as the daemon's default fsync_interval_ms: what was written
# is fsynced within this time.
SYNC_INTERVAL_S = 1.0


class Transport(Protocol):
    def start(self, request: svc.StartRunRequest) -> svc.StartRunReply: ...

    def send(self, records: Sequence[pb.Record]) -> int: ...

    def finish(self, request: svc.FinishRunRequest) -> int: ...

    def close(self) -> None: ...


def _grpc():  # -> the grpc module
    """Import grpc on first use, which is in the sender thread, never at init() itself.

    A fork() may land while this import is half done; the child then sees "grpc" in
    sys.modules and talks through a relay instead (_run._after_fork_in_child), so it never
    touches the half-imported module.
    """
    # Its fork handlers log one INFO line per fork() while a stream is open, which would print
    # on every DataLoader worker start. A user's own setting wins.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    import grpc

    return grpc


_warned_sockets: set[Path] = set()


def _check_socket(socket: Path) -> None:
    """Raise DaemonUnavailableError (UNAVAILABLE, as gRPC would) unless the socket is there and only
    this user can have made it.

    An untrusted socket is warned about once per process and path; the sender then treats it as
    "no daemon": it writes the run folder itself (the fallback), so training goes on.
    """
    try:
        paths.check_socket(socket)
    except FileNotFoundError:
        raise error_for(RPCStatusCode.UNAVAILABLE, f"StartRun: no socket at {socket}") from None
    except paths.UntrustedSocket as exc:
        if socket not in _warned_sockets:
            _warned_sockets.add(socket)
            _logger.warning(
                "swanlab_client: not connecting to swanlabd: %s. Meanwhile runs are written to the data root directly",
                exc,
            )
        raise error_for(RPCStatusCode.UNAVAILABLE, f"StartRun: not connecting to an untrusted socket: {exc}") from None


class GrpcTransport:
    """One channel and at most one open Stream to the daemon. Used by the sender thread only.

    Nothing reaches the socket before `start` has checked that only this user can have made it
    (`paths.check_socket`): StartRun carries the API key.
    """

    def __init__(self, socket: Path, *, connect_timeout_s: float, ack_timeout_s: float) -> None:
        self.socket = socket
        self.target = f"unix:{socket}"
        self._connect_timeout = connect_timeout_s
        self._ack_timeout = ack_timeout_s
        self._channel: Any = None  # a grpc.Channel, made by start() once the socket passed the check
        self._stub: Any = None
        self._run: tuple[str, int] | None = None
        self._requests: queue.SimpleQueue[object] | None = None
        self._replies: queue.SimpleQueue[int | DaemonError] | None = None
        self._call = None  # the open Stream call (a grpc.Future)

    def start(self, request: svc.StartRunRequest) -> svc.StartRunReply:
        if self._stub is None:
            _check_socket(self.socket)
            self._connect()
        with map_rpc_errors("StartRun"):
            reply = self._stub.StartRun(request, timeout=self._connect_timeout)
        self._run = (reply.run_id, reply.writer)
        return reply

    def _connect(self) -> None:
        grpc = _grpc()
        from swanlabd_pb import service_pb2_grpc

        self._channel = grpc.insecure_channel(
            self.target,
            options=[
                # The daemon's limit: the sender's requests stay far below it (REQUEST_MAX_BYTES).
                ("grpc.max_send_message_length", DAEMON_MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", DAEMON_MAX_MESSAGE_BYTES),
                # Reconnect quickly after a daemon restart instead of backing off for seconds.
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000),
            ],
        )
        self._stub = service_pb2_grpc.SwanlabdStub(self._channel)

    def send(self, records: Sequence[pb.Record]) -> int:
        if self._run is None:
            raise DaemonRejectedError("send() before start()")
        if self._requests is None:
            self._open_stream()
            first = svc.StreamRequest(run_id=self._run[0], writer=self._run[1], records=records)
        else:
            first = svc.StreamRequest(records=records)
        assert self._requests is not None and self._replies is not None
        self._requests.put(first)
        want = records[-1].client_seq if records else 0
        deadline = time.monotonic() + self._ack_timeout
        while True:
            try:
                item = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._drop_stream()
                raise DaemonTimeoutError(f"no ack for client_seq {want} within {self._ack_timeout}s") from None
            if isinstance(item, DaemonError):
                self._drop_stream()
                raise item
            if item >= want:
                return item

    def finish(self, request: svc.FinishRunRequest) -> int:
        self._end_stream()
        with map_rpc_errors("FinishRun"):
            return self._stub.FinishRun(request, timeout=self._ack_timeout).durable_client_seq

    def close(self) -> None:
        self._end_stream()
        if self._channel is not None:
            self._channel.close()

    def _open_stream(self) -> None:
        requests: queue.SimpleQueue[object] = queue.SimpleQueue()
        replies: queue.SimpleQueue[int | DaemonError] = queue.SimpleQueue()
        call = self._stub.Stream(iter(requests.get, _END))

        def read() -> None:
            try:
                with map_rpc_errors("Stream"):
                    for reply in call:
                        replies.put(reply.durable_client_seq)
                replies.put(DaemonUnavailableError("the daemon ended the stream"))
            except DaemonError as exc:
                replies.put(exc)

        threading.Thread(target=read, name="swanlab-acks", daemon=True).start()
        self._requests, self._replies, self._call = requests, replies, call

    def _end_stream(self) -> None:
        """Half-close the stream politely (the daemon sees EOF) and forget it."""
        if self._requests is not None:
            self._requests.put(_END)
        self._requests = self._replies = self._call = None

    def _drop_stream(self) -> None:
        call = self._call
        self._end_stream()
        if call is not None:
            call.cancel()


class FileTransport:
    """Writes the run folder directly (no daemon). Holds the backup's flock until close().

    Records go in exactly as the daemon would write them: a new folder is made by the daemon's
    own code (`runfolder.create`: side files, FileHeader, RunStart, Config, Metadata and
    Requirements as writer-0 records, renamed into place whole), then come the client's batches
    with their writer and client_seq, then the Finish record. `swanlabd` adopts the
    folder at its next start (or `swanlabctl sync PATH`).

    Only the run's primary writer ever writes the file itself: the process that called init(),
    which is writer 1 or, for a resumed run, the new writer the daemon gave it (a forked child
    gets no fallback, `DaemonConnector.fallback`). So finish() always writes the Finish record,
    under this writer's id, as FinishRun does for the primary writer.

    Group commit as the daemon does it: a "swanlab-fsync" thread fsyncs the file every
    SYNC_INTERVAL_S while there are unsynced appends; finish() and close() fsync too. The
    BackupWriter is not thread-safe, so appends and fsyncs take `_lock`.
    """

    def __init__(self, data_root: Path, run_dir: str = "", log_dir: str = "") -> None:
        self.runs = Path(log_dir) if log_dir else data_root / "runs"  # init(log_dir=...), as the daemon
        self.run_dir = Path(run_dir) if run_dir else None
        self._writer: BackupWriter | None = None
        self._writer_id = 1
        self._lock = threading.Lock()
        self._dirty = False
        self._stop = threading.Event()

    def start(self, request: svc.StartRunRequest) -> svc.StartRunReply:
        from swanlabd.format import backup
        from swanlabd.local import runfolder

        run_id = request.start.run_id
        self._writer_id = request.writer or 1
        if self.run_dir is None:
            # The daemon may have created the folder and died before answering.
            self.run_dir = runfolder.find_run_folder(self.runs, run_id)
        try:
            if self.run_dir is not None and (self.run_dir / backup.BACKUP_FILENAME).exists():
                writer = backup.BackupWriter.open(self.run_dir / backup.BACKUP_FILENAME)
            else:
                start = runfolder.new_run_start(request, run_id, self._writer_id)
                self.run_dir = self.runs / runfolder.run_folder_name(run_id, start.start_time_ms)
                paths.make_private_dir(self.runs)  # no daemon may ever have run here
                writer = runfolder.create(self.run_dir, start, request)
        except backup.BackupLocked as exc:
            raise DaemonUnavailableError(f"{exc}: a daemon still holds the run's file") from exc
        except (OSError, backup.BackupError) as exc:
            if _disk_full(exc):
                raise _disk_full_error(self.runs, exc) from exc
            raise DaemonUnavailableError(f"cannot write the run folder itself: {exc}") from exc
        self._writer = writer
        if not request.writer and writer.client_seqs:
            # A new writer on a file that has some: a resumed run, which writes as a writer of its
            # own (as the daemon gives it), or its rows would be dropped as writer 1's replays.
            self._writer_id = max(writer.client_seqs) + 1
        next_step, last_start = -1, None
        for rec, _ in backup.read_records(writer.path, 0):
            next_step = max(next_step, runfolder.highest_step(rec))
            if rec.WhichOneof("kind") == "run_start":
                last_start = rec.run_start
        try:
            self._name_primary(request, last_start)
        except (OSError, backup.BackupError) as exc:
            self.close()
            if _disk_full(exc):
                raise _disk_full_error(writer.path.parent, exc) from exc
            raise DaemonUnavailableError(f"cannot write the run folder itself: {exc}") from exc
        threading.Thread(target=self._group_commit, name="swanlab-fsync", daemon=True).start()
        durable = writer.client_seqs.get(self._writer_id, 0)
        return svc.StartRunReply(
            run_id=run_id,
            run_dir=str(self.run_dir),
            writer=self._writer_id,
            durable_client_seq=durable,
            next_step=next_step + 1,
        )

    def _name_primary(self, request: svc.StartRunRequest, last: pb.RunStart | None) -> None:
        """Make the file's last RunStart name this process, its writer id and its journal (a
        daemon adopting the folder reads that journal's tail if this process dies: docs/journal.md):
        append one, the last one's copy, when it names another (a folder the daemon made, or an
        earlier process's, that this one goes on with)."""
        assert self._writer is not None
        if last is None:
            return  # not a folder of ours (no RunStart): nothing to go on from
        named = (last.primary_writer or 1, last.journal, last.pid)
        if named == (self._writer_id, request.journal, request.pid):
            return
        start = pb.RunStart()
        start.CopyFrom(last)
        start.pid = request.pid
        start.journal = request.journal
        start.primary_writer = self._writer_id if self._writer_id != 1 else 0
        self._writer.append([pb.Record(time_ms=int(time.time() * 1000), run_start=start)])
        self._writer.sync()

    def send(self, records: Sequence[pb.Record]) -> int:
        from swanlabd.format import backup

        if self._writer is None:
            raise DaemonRejectedError("send() before start()")
        from swanlabd.format import journal

        held = self._writer.client_seqs.get(self._writer_id, 0)
        # Journal ranges go in as the scalars records the daemon would make of them.
        fresh = [journal.to_record(r) if r.HasField("journal") else r for r in records if r.client_seq > held]
        try:
            if fresh:
                with self._lock:
                    self._writer.append(fresh)
                    self._dirty = True
        except backup.DiskFull as exc:
            raise _disk_full_error(self._writer.path.parent, exc) from exc
        except backup.StorageError as exc:
            raise DaemonError(f"fallback file: {exc}") from exc
        return self._writer.client_seqs.get(self._writer_id, 0)

    def finish(self, request: svc.FinishRunRequest) -> int:
        from swanlabd.format import backup

        if self._writer is None:
            raise DaemonRejectedError("finish() before start()")
        done = pb.Finish()
        done.CopyFrom(request.finish)
        done.finish_time_ms = done.finish_time_ms or int(time.time() * 1000)
        try:
            self._stop.set()
            with self._lock:
                self._writer.append([pb.Record(time_ms=done.finish_time_ms, writer=self._writer_id, finish=done)])
                self._writer.close()
        except backup.DiskFull as exc:
            raise _disk_full_error(self._writer.path.parent, exc) from exc
        except backup.StorageError as exc:
            raise DaemonError(f"fallback file: {exc}") from exc
        return request.last_client_seq

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._writer is not None:
                try:
                    self._writer.close()
                except Exception:  # noqa: BLE001 - closing after a failure: the failure was reported
                    pass
                self._writer = None

    def _group_commit(self) -> None:
        from swanlabd.format import backup

        while not self._stop.wait(SYNC_INTERVAL_S):
            with self._lock:
                if not self._dirty or self._writer is None:
                    continue
                self._dirty = False
                try:
                    self._writer.sync()
                except backup.StorageError:
                    return  # the writer now refuses every call: the next send() reports it


def _disk_full(exc: BaseException) -> bool:
    from swanlabd.format import backup

    return isinstance(exc, backup.DiskFull) or (isinstance(exc, OSError) and exc.errno in backup.DISK_FULL_ERRNOS)


def _disk_full_error(folder: Path, exc: BaseException) -> DaemonError:
    """A full disk under the fallback file, as the daemon reports its own: nothing was written."""
    return DaemonError(f"fallback file: {DISK_FULL}{folder}: {exc}; free space there", RPCStatusCode.RESOURCE_EXHAUSTED)
