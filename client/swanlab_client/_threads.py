"""The client's threads take no process signals: SIGTERM, SIGINT and the rest go to the script's.

The kernel delivers a signal sent to a process to any one thread that does not block it. CPython
runs the Python handler in the main thread, but only once that thread next runs bytecode; the C
call it sleeps in (time.sleep, a socket read) is cut short only if the signal was delivered to it.
So a SIGTERM the kernel gave to the sender thread left a script in `time.sleep(3600)` asleep,
its handler (finish the run as ABORTED, then die) waiting the hour. Every thread the client
starts for its own work blocks the asynchronous signals from its first instruction on (a new
thread inherits its creator's mask), and so does every thread it starts in turn: gRPC's,
started by the sender. Faults (SIGSEGV and the like) stay unblocked: they are the faulting
thread's own. async_log()'s pools run the user's function, and what it starts (a subprocess
keeps the mask too): they are left as Python makes them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_FAULTS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT, signal.SIGTRAP, signal.SIGSYS}
ASYNC_SIGNALS = frozenset(signal.valid_signals()) - _FAULTS - {signal.SIGKILL, signal.SIGSTOP}


@contextlib.contextmanager
def blocked() -> Iterator[None]:
    """Block ASYNC_SIGNALS in this thread meanwhile: a thread started inside inherits the mask
    and keeps it (`threading.Thread.start`, or a pool's `submit`, which starts its threads)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start(thread: threading.Thread) -> None:
    """`thread.start()`, the thread blocking ASYNC_SIGNALS from its first instruction."""
    with blocked():
        thread.start()
