"""Faults a test switches on at run time, each scoped to a path prefix, a count and a duration.

A fault matches a request by method (optional), path prefix (the full request path, e.g.
"/api/house/metrics") and path suffix (optional, e.g. "/state"); it fires at most `count` times
(None: no limit) and only until `duration_s` has passed since it was added (None: until
removed). The first matching live fault decides what happens to a request. "Down" (connection
refused) is not a fault of a request: the server closes its listening socket
(`CloudServer.go_down`).

Kinds:
    STATUS      answer `status` (default 503) with an error body, before touching any state
    RATE_LIMIT  answer 429 with `Retry-After: retry_after_s`
    SLOW        sleep `delay_s`, then handle the request normally
    HOLD        wait until the test calls `release()` (at most `delay_s`), then handle it normally:
                a request held in flight while the test makes something happen
    RESET       read the request, then reset the connection (RST) without handling it
    DROP        handle the request (its effects are committed), then close without answering
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, field


class FaultKind(enum.Enum):
    STATUS = "status"
    RATE_LIMIT = "rate_limit"
    SLOW = "slow"
    HOLD = "hold"
    RESET = "reset"
    DROP = "drop"


@dataclass
class Fault:
    """One switched-on fault. `fired` counts the requests it has hit so far."""

    kind: FaultKind
    path_prefix: str = "/api"
    method: str | None = None
    count: int | None = None
    duration_s: float | None = None
    status: int = 503
    retry_after_s: int = 1
    delay_s: float = 2.0
    path_suffix: str = ""
    fired: int = 0
    added_at: float = field(default_factory=time.monotonic)
    released: threading.Event = field(default_factory=threading.Event)

    def live(self, now: float) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        return self.duration_s is None or now - self.added_at < self.duration_s

    def matches(self, method: str, path: str) -> bool:
        return (
            path.startswith(self.path_prefix)
            and path.endswith(self.path_suffix)
            and (self.method is None or self.method == method)
        )

    def release(self) -> None:
        """HOLD: let the held request (and any later one this fault takes) through."""
        self.released.set()


class FaultBoard:
    """The faults currently switched on. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first live fault matching this request, counted as fired; None if none applies."""
        now = time.monotonic()
        with self._lock:
            for fault in self._faults:
                if fault.live(now) and fault.matches(method, path):
                    fault.fired += 1
                    return fault
        return None
