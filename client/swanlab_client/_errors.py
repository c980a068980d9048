"""Every exception swanlab_client raises, and the one place gRPC errors become ours.

    SwanlabClientError                  base of everything below
    ├── UsageError (RuntimeError)       the API was called at the wrong moment (init() with a run active)
    │   ├── NotInitializedError         log(), get_run(), save()... with no run
    │   └── RunFinishedError            log() after finish()
    ├── InvalidKeyError (ValueError)    not raised by log() any more (it warns); kept for scripts that catch it
    ├── InvalidValueError (TypeError)   not raised by log() any more (it warns); kept for scripts that catch it
    ├── InvalidNameError (ValueError)   a bad project / experiment name, mode or init() argument
    ├── LoginRequiredError (RuntimeError)  mode="cloud" with no API key anywhere
    ├── LoginError (RuntimeError)       login() failed: a bad host, or the key could not be saved
    │   └── AuthenticationError         login(): no key found, or the server refused it or could not be asked
    ├── SyncError (RuntimeError)        sync(): no daemon reachable or startable, or it refused the request
    │   └── SyncIncomplete              sync() returned before every run was on the server (carries .runs)
    └── DaemonError                     what the daemon or its socket did (carries .code)
        ├── DaemonUnavailableError      nothing answers on the socket, or it went away
        ├── DaemonTimeoutError          the daemon did not answer in time
        ├── DaemonRejectedError         the daemon refused the request (bad data, unknown run...)
        └── DaemonInternalError         the daemon failed (e.g. the run's file cannot be trusted)

What a training script can see: the usage errors and init()'s validation errors, raised at the
call that made them. log() never raises for a bad key, value or step: it leaves them out with a
warning, as the official SDK does. Daemon trouble never leaves log(), init() or finish(): the client
warns once, reconnects, starts a daemon, or writes the run folder itself: the logger never stops training.
login() raises only LoginError (AuthenticationError, the official SDK's name, for the key
itself), sync() only SyncError; _sync.py translates what swanlabd.local raises into them.

gRPC is not imported here: `map_rpc_errors` imports it when first used, which is never before
init() has loaded the transport.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator


class RPCStatusCode(enum.IntEnum):
    """gRPC status codes, so callers can branch on them without importing grpc."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class SwanlabClientError(Exception):
    """Base of every exception this package raises."""


class UsageError(SwanlabClientError, RuntimeError):
    """The API was used in a way that cannot work (wrong order of calls)."""


class NotInitializedError(UsageError):
    def __init__(self, what: str) -> None:
        super().__init__(f"call swanlab_client.init() before {what}()")


class RunFinishedError(UsageError):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} is finished; call init() to start a new run before logging again")


class InvalidKeyError(SwanlabClientError, ValueError):
    """A metric key that cannot be stored (the message says which rule it breaks)."""

    def __init__(self, key: object, reason: str) -> None:
        self.key = key
        super().__init__(f"invalid metric key {key!r}: {reason}")


class InvalidValueError(SwanlabClientError, TypeError):
    """A logged value that is not a number."""

    def __init__(self, key: str, value: object, reason: str = "") -> None:
        self.key = key
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(
            f"value of {key!r} is {type(value).__name__} ({shown}): "
            + (reason or "log() takes int, float, bool, NumPy scalars and 0-d arrays/tensors")
        )


class InvalidNameError(SwanlabClientError, ValueError):
    """A bad project / experiment name or another init() argument."""


class LoginRequiredError(SwanlabClientError, RuntimeError):
    """mode="cloud" and no API key was found."""


class LoginError(SwanlabClientError, RuntimeError):
    """login() failed: the host is not usable, or the checked key could not be saved (netrc)."""


class AuthenticationError(LoginError):
    """No API key was given or found, or the server refused it or could not be asked (as the SDK's
    `AuthenticationError`)."""


class SyncError(SwanlabClientError, RuntimeError):
    """sync() could not hand the runs to a daemon: none answers and none could be started, or it
    refused the request (an unknown run id, a folder it cannot adopt), or a host is not usable."""


class SyncIncomplete(SyncError):
    """sync() returned before every run was on the server; `.runs` maps run id -> reason."""

    def __init__(self, runs: dict[str, str]) -> None:
        self.runs = runs
        super().__init__("not uploaded: " + "; ".join(f"{run}: {why}" for run, why in runs.items()))


class DaemonError(SwanlabClientError):
    """The daemon (or its socket) failed a request; `code` is the gRPC status."""

    def __init__(self, message: str, code: RPCStatusCode = RPCStatusCode.UNKNOWN) -> None:
        self.code = code
        super().__init__(message)


class DaemonUnavailableError(DaemonError):
    """Nothing answers on the socket, or the connection broke (the client reconnects)."""


class DaemonTimeoutError(DaemonError):
    """The daemon did not answer within the deadline."""


class DaemonRejectedError(DaemonError):
    """The daemon refused the request: malformed data, unknown run, sequence gap, finished run."""


class DaemonInternalError(DaemonError):
    """The daemon failed on its side (storage failure, bug); see its log."""


# Every gRPC status code and the error it becomes (tests/client/test_errors.py checks that
# grpc.StatusCode has no member missing here).
_STATUS_ERRORS: dict[RPCStatusCode, type[DaemonError]] = {
    RPCStatusCode.OK: DaemonError,  # an RpcError never carries OK; mapped so the table is total
    RPCStatusCode.CANCELLED: DaemonUnavailableError,  # we cancel a stream only to drop the connection
    RPCStatusCode.UNKNOWN: DaemonInternalError,
    RPCStatusCode.INVALID_ARGUMENT: DaemonRejectedError,
    RPCStatusCode.DEADLINE_EXCEEDED: DaemonTimeoutError,
    RPCStatusCode.NOT_FOUND: DaemonRejectedError,
    RPCStatusCode.ALREADY_EXISTS: DaemonRejectedError,
    RPCStatusCode.PERMISSION_DENIED: DaemonRejectedError,
    RPCStatusCode.RESOURCE_EXHAUSTED: DaemonRejectedError,  # e.g. a message over the size limit
    RPCStatusCode.FAILED_PRECONDITION: DaemonRejectedError,
    RPCStatusCode.ABORTED: DaemonUnavailableError,
    RPCStatusCode.OUT_OF_RANGE: DaemonRejectedError,
    RPCStatusCode.UNIMPLEMENTED: DaemonRejectedError,  # an older daemon than this client
    RPCStatusCode.INTERNAL: DaemonInternalError,
    RPCStatusCode.UNAVAILABLE: DaemonUnavailableError,
    RPCStatusCode.DATA_LOSS: DaemonInternalError,
    RPCStatusCode.UNAUTHENTICATED: DaemonRejectedError,
}


# How every "disk full" refusal reads, the daemon's (storage/errors.py DiskFull, RESOURCE_EXHAUSTED)
# and the fallback file's: RESOURCE_EXHAUSTED without it is a request over the size limit, or
# another limit of the daemon's.
DISK_FULL = "disk full at "


def is_disk_full(exc: DaemonError) -> bool:
    """True if the run's data could not be written for lack of space (nothing of it was stored)."""
    return exc.code == RPCStatusCode.RESOURCE_EXHAUSTED and DISK_FULL in str(exc)


def error_for(code: RPCStatusCode, details: str) -> DaemonError:
    """The DaemonError for a status code and the server's message."""
    return error_class(code)(f"swanlabd: {code.name}: {details}", code)


def error_class(code: RPCStatusCode) -> type[DaemonError]:
    return _STATUS_ERRORS[code]


@contextlib.contextmanager
def map_rpc_errors(what: str) -> Iterator[None]:
    """Turn a grpc.RpcError raised inside into the matching DaemonError (original chained)."""
    import grpc

    try:
        yield
    except grpc.RpcError as exc:
        status = exc.code() if hasattr(exc, "code") else None
        code = RPCStatusCode(status.value[0]) if status is not None else RPCStatusCode.UNKNOWN
        details = exc.details() if hasattr(exc, "details") else str(exc)
        raise error_for(code, f"{what}: {details}") from exc
