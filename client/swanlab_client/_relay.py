"""How a forked child talks to the daemon: through a fresh relay process, never through gRPC.

Why: gRPC's C core is not safe to use in a child forked from a process that used it (grpc/grpc
#13873, #22624, #41768, and doc/fork_support.md: only "use after fork" is supported, i.e. gRPC
objects first created after the fork in a process that never had them). Measured here with
grpcio 1.85.1, a parent streaming on one channel while forking 100 children that each open a new
channel: with the default settings 15 of 100 children failed ("Wrong file descriptor
generation", deadline exceeded); with GRPC_ENABLE_FORK_SUPPORT=true 3-5 hung past their
deadlines; with it false every child hung. A child that merely exists without touching gRPC
was fine in every setting.

So the child never calls into gRPC. When it first logs, it starts
`python -m swanlab_client._relay SOCKET` (fork+exec: a clean process), and its sender uses a
`RelayTransport`: the same four calls as `GrpcTransport`, as length-prefixed frames over the
relay's stdin/stdout. The relay holds the gRPC connection (attached as the child's own writer)
and exits when the child closes the pipe or dies. Cost: one ~0.2 s process start per child
that logs; children that never log (most DataLoader workers) cost nothing.

Frame: 4-byte big-endian length, 1 byte kind, payload. Kinds: S StartRun, R Stream batch
(a StreamRequest), F FinishRun; answers: the reply message, or E (1 byte status code + UTF-8
message) for a DaemonError.
"""

from __future__ import annotations

import os
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from swanlab_client._errors import DaemonError, DaemonTimeoutError, DaemonUnavailableError, RPCStatusCode, error_class
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

if TYPE_CHECKING:
    from google.protobuf.message import Message

_Reply = TypeVar("_Reply", svc.StartRunReply, svc.StreamReply, svc.FinishRunReply)

_HEADER = struct.Struct(">IB")
RELAY_START_TIMEOUT_S = 30.0


def write_frame(out: IO[bytes], kind: bytes, payload: bytes) -> None:
    out.write(_HEADER.pack(len(payload), kind[0]) + payload)
    out.flush()


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks = []
    while n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise DaemonTimeoutError("the relay did not answer in time")
        chunk = os.read(fd, n)
        if not chunk:
            raise DaemonUnavailableError("the relay process ended")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None) -> tuple[bytes, bytes]:
    length, kind = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    return bytes([kind]), _read_exact(fd, length, deadline)


class RelayTransport:
    """The child's side: a Transport that uploads every call to a relay process."""

    def __init__(self, socket: Path, *, connect_timeout_s: float, ack_timeout_s: float) -> None:
        self._ack_timeout = ack_timeout_s
        self._start_timeout = RELAY_START_TIMEOUT_S + connect_timeout_s
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "swanlab_client._relay", str(socket), str(connect_timeout_s), str(ack_timeout_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )

    def _call(self, kind: bytes, message: Message, reply_type: type[_Reply], timeout: float) -> _Reply:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            write_frame(self._proc.stdin, kind, message.SerializeToString())
        except OSError as exc:
            raise DaemonUnavailableError(f"the relay process ended: {exc}") from exc
        got, payload = read_frame(self._proc.stdout.fileno(), time.monotonic() + timeout)
        if got == b"E":  # the relay's DaemonError, message and all
            code = RPCStatusCode(payload[0])
            raise error_class(code)(payload[1:].decode("utf-8", "replace"), code)
        return reply_type.FromString(payload)

    def start(self, request: svc.StartRunRequest) -> svc.StartRunReply:
        return self._call(b"S", request, svc.StartRunReply, self._start_timeout)

    def send(self, records: Sequence[pb.Record]) -> int:
        reply = self._call(b"R", svc.StreamRequest(records=records), svc.StreamReply, self._ack_timeout)
        return reply.durable_client_seq

    def finish(self, request: svc.FinishRunRequest) -> int:
        return self._call(b"F", request, svc.FinishRunReply, self._ack_timeout).durable_client_seq

    def close(self) -> None:
        proc = self._proc
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def main(argv: list[str]) -> int:
    """The relay process: serve frames from stdin with a GrpcTransport until EOF."""
    from swanlab_client._transport import GrpcTransport

    # Started by the sender thread, which blocks the process signals (_threads): a SIGTERM to this
    # process must end it.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    socket, connect_timeout, ack_timeout = Path(argv[0]), float(argv[1]), float(argv[2])
    transport = GrpcTransport(socket, connect_timeout_s=connect_timeout, ack_timeout_s=ack_timeout)
    stdin, out = sys.stdin.buffer.fileno(), sys.stdout.buffer
    try:
        while True:
            try:
                kind, payload = read_frame(stdin)
            except DaemonUnavailableError:
                return 0  # the child closed the pipe (finished, or died)
            reply: Message
            try:
                if kind == b"S":
                    reply = transport.start(svc.StartRunRequest.FromString(payload))
                elif kind == b"R":
                    reply = svc.StreamReply(
                        durable_client_seq=transport.send(svc.StreamRequest.FromString(payload).records)
                    )
                elif kind == b"F":
                    reply = svc.FinishRunReply(
                        durable_client_seq=transport.finish(svc.FinishRunRequest.FromString(payload))
                    )
                else:
                    raise DaemonError(f"relay: unknown frame kind {kind!r}")
            except DaemonError as exc:
                write_frame(out, b"E", bytes([int(exc.code)]) + str(exc).encode())
                continue
            write_frame(out, kind, reply.SerializeToString())
    finally:
        transport.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
