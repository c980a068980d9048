"""How hard the uploader pushes and how long it waits: `Tuning`, one frozen set of numbers.

The defaults are the numbers docs/upload.md gives; tests shorten the waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from swanlabd.upload import cloudapi
from swanlabd.upload.retry import RetryPolicy

__all__ = ["Tuning"]


@dataclass(frozen=True)
class Tuning:
    """The uploader's limits and timings.

    max_inflight: requests in flight to one api host, every run together.
    per_run_inflight: of those, at most this many for one run (at least 1, at most max_inflight),
        so a run with a huge backlog or slow answers leaves the rest to the others.
    retry: the backoff after a failed request.
    heartbeat_s: a heartbeat this often while the run is live or has a backlog.
    poll_s: an idle lane reads its file again this often with no append heard (files the daemon
        does not write itself).
    linger_s: after an append wakes an idle lane of a live run, wait this long more, so a burst of
        appends makes one batch.
    timeout: the HTTP timeouts of every request.
    """

    max_inflight: int = 8
    per_run_inflight: int = 4
    retry: RetryPolicy = RetryPolicy()
    heartbeat_s: float = 600.0
    poll_s: float = 2.0
    linger_s: float = 0.1
    timeout: httpx.Timeout = field(default_factory=lambda: cloudapi.DEFAULT_TIMEOUT)

    @property
    def run_inflight(self) -> int:
        """`per_run_inflight` within its bounds."""
        return max(1, min(self.per_run_inflight, self.max_inflight))
