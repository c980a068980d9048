"""The daemon's exceptions, and the gRPC status code each one crosses the socket as.

    SwanlabdError                      (base; never reaches a training script as such)
    ├── RequestError                   INVALID_ARGUMENT: the client sent something malformed
    │   └── MalformedBatch             a Stream batch we refuse whole (wrong kind, bad columns...)
    ├── RunNotFound                    NOT_FOUND: no run with that id (or writer) is known
    ├── RunExists                      ALREADY_EXISTS: StartRun with resume="never" on a known id
    ├── PreconditionFailed             FAILED_PRECONDITION: valid request, wrong moment
    │   ├── SequenceGap                a batch starts past the next client_seq we expect
    │   ├── RunClosed                  the run is finished (or crashed) and takes no more records
    │   └── DamagedRunEntry            the run's entry in the state DB cannot be read: skipped
    ├── TooManyOpenRuns                RESOURCE_EXHAUSTED: a new run would leave the daemon short
    │                                  of file descriptors; finish runs or raise the limit
    ├── ShuttingDown                   UNAVAILABLE: the daemon is stopping; reconnect and replay
    ├── StorageFailure                 INTERNAL: the run's file failed (fsync, write); nothing past
    │                                  the failure is acked and the file takes no more writes
    └── DiskFull                       RESOURCE_EXHAUSTED: no space for a write (ENOSPC, EDQUOT);
                                       nothing of it is stored, the run is not broken: resend later

Start-up failures are the service layer's (swanlabd/service/errors.py): they never cross the socket.

The server maps these to status codes in one place (`server.translate_errors`). The client
library turns those codes into its own errors; a training script never sees a daemon exception:
`log()` warns and keeps going. Every exception carries the ids it is about.
"""

from __future__ import annotations

from pathlib import Path

from swanlabd.format import backup


class SwanlabdError(Exception):
    """Base of every error the daemon raises on purpose."""


class RequestError(SwanlabdError, ValueError):
    """A request the client should never have sent (a bug in the client, or a foreign client)."""


class MalformedBatch(RequestError):
    """A Stream batch that breaks the protocol; none of its records is written."""

    def __init__(self, run_id: str, writer: int, client_seq: int, reason: str) -> None:
        self.run_id, self.writer, self.client_seq, self.reason = run_id, writer, client_seq, reason
        super().__init__(f"run {run_id} writer {writer}: record client_seq={client_seq}: {reason}")


class RunNotFound(SwanlabdError, LookupError):
    def __init__(self, run_id: str, detail: str = "") -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id!r} is not known to this daemon" + (f" ({detail})" if detail else ""))


class RunExists(SwanlabdError):
    def __init__(self, run_id: str, detail: str = "resume='never'; pass resume='allow' to continue it") -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id!r} already exists ({detail})")


class PreconditionFailed(SwanlabdError):
    """A well-formed request the run's current state does not allow."""


class SequenceGap(PreconditionFailed):
    """The batch does not continue where this writer's records end: the client lost a batch."""

    def __init__(self, run_id: str, writer: int, expected: int, got: int) -> None:
        self.run_id, self.writer, self.expected, self.got = run_id, writer, expected, got
        super().__init__(
            f"run {run_id} writer {writer}: sequence gap: daemon holds client_seq up to {expected - 1}, "
            f"batch starts at {got}; replay from {expected}"
        )


class RunClosed(PreconditionFailed):
    def __init__(self, run_id: str, state: str) -> None:
        self.run_id, self.state = run_id, state
        super().__init__(f"run {run_id} is {state} and takes no more records")


class DamagedRunEntry(PreconditionFailed):
    """The run's entry in the state DB cannot be read (storage/state.py): the daemon skips the run.

    `run_dir`: the folder the entry names, if that much of it could be read ("" otherwise).
    """

    def __init__(self, run_id: str, reason: str, run_dir: str = "") -> None:
        self.run_id, self.reason, self.run_dir = run_id, reason, run_dir
        super().__init__(f"run {run_id}: its entry in the state DB is damaged ({reason}); the daemon skips this run")


class TooManyOpenRuns(SwanlabdError):
    """StartRun of a new run while the daemon's file descriptors are nearly all in use (service/fdlimit.py)."""

    def __init__(self, open_runs: int, fds_in_use: int, fd_limit: int, headroom: int) -> None:
        self.open_runs, self.fds_in_use, self.fd_limit = open_runs, fds_in_use, fd_limit
        super().__init__(
            f"too many open runs: {open_runs} runs open, {fds_in_use} of the fd limit {fd_limit} in use "
            f"(swanlabd keeps {headroom} free for itself); finish runs, or raise `ulimit -n` "
            "(LimitNOFILE= under systemd) and restart swanlabd"
        )


class ShuttingDown(SwanlabdError):
    def __init__(self) -> None:
        super().__init__("swanlabd is shutting down; reconnect and replay unacked records")


class StorageFailure(SwanlabdError, OSError):
    """The run's backup file can no longer be trusted (e.g. a failed fsync): it is closed for writes."""

    def __init__(self, run_id: str, path: Path, cause: BaseException | str) -> None:
        self.run_id, self.path = run_id, path
        super().__init__(f"run {run_id}: backup {path} failed: {cause}; nothing past this point is acked")


# Every DiskFull message starts so: the client tells a full disk from other RESOURCE_EXHAUSTED
# refusals by it (swanlab_client._errors.DISK_FULL), and a run's stale `last_error` by it.
DISK_FULL = "disk full at "


class DiskFull(SwanlabdError, OSError):
    """No space for a write (ENOSPC, or EDQUOT: a quota). Nothing of it was stored and nothing
    is broken: once space is freed the same write works. For a client batch, the client keeps
    the rows and resends them; for the state DB, the daemon keeps the entries and saves them."""

    def __init__(self, path: Path, cause: BaseException | str, consequence: str) -> None:
        self.path = path
        super().__init__(f"{DISK_FULL}{path}: {cause}; {consequence}")


def is_disk_full(exc: BaseException | None) -> bool:
    """True if `exc`, or an exception it was raised from, is a full disk or an exhausted quota."""
    while exc is not None:
        if isinstance(exc, backup.DiskFull | DiskFull):
            return True
        if isinstance(exc, OSError) and exc.errno in backup.DISK_FULL_ERRNOS:
            return True
        exc = exc.__cause__
    return False
