"""The retry policy: how long an upload step waits after a failure, and what the failure means.

Every step of an upload (setup, a lane's batch, the final state) retries forever
(docs/upload.md, "Retry policy"). `failure` reads one exception as the policy sees it:

    RateLimited (429)                      wait Retry-After (backoff if absent)
    Unauthorized, Rejected, NeedsUser      blocked: only the user can fix it; slow backoff
    other CloudError                       backoff; `maybe_committed`: ask the server's summaries
    OSError                                blocked: the run folder is gone or unreadable
    anything else                          a bug: blocked, slow backoff, logged with its traceback

Lanes record a 4xx on data as a rejection before it gets here, so a 4xx here is setup's or the
final state's. A bug is retried like the rest, never left to kill its task: it may pass (a
state it met once), and if not, the run waits, shown as blocked, for a fixed daemon.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from swanlabd.upload.cloudapi import CloudError, RateLimited, Rejected, Unauthorized

__all__ = ["Failure", "NeedsUser", "RetryPolicy", "failure"]


class NeedsUser(Exception):
    """Trouble on our side that only the user can fix (no API key, a run without its RunStart)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter: attempt n waits U(d/2, d), d = min(cap, base * 2**n).

    `blocked_cap_s` bounds the wait for trouble only the user can fix (a wrong key, a 403 on the
    project): the run keeps trying, slowly, and `swanlabctl sync` wakes it at once.
    """

    base_s: float = 0.5
    cap_s: float = 10.0
    blocked_cap_s: float = 60.0

    def delay(self, attempt: int, *, blocked: bool = False) -> float:
        cap = self.blocked_cap_s if blocked else self.cap_s
        d = min(cap, self.base_s * (2 ** min(attempt, 30)))
        return random.uniform(d / 2, d)


@dataclass(frozen=True)
class Failure:
    """One failed attempt of the step `where`: how long to wait and what to show."""

    delay: float
    message: str
    blocked: bool = False  # only the user can fix it (shown; `swanlabctl sync` stops waiting for it)
    maybe_committed: bool = False  # the server may have stored the data: ask its summaries first
    bug: bool = False  # an exception none of the above: log its traceback, the evidence a fix needs


def failure(exc: Exception, where: str, attempt: int, policy: RetryPolicy, path: Path) -> Failure:
    """What failed attempt number `attempt` (from 0) means.

    `path`: the run's backup file, named when it cannot be read.
    """
    if isinstance(exc, RateLimited):
        delay = exc.retry_after if exc.retry_after is not None else policy.delay(attempt)
        return Failure(delay, f"{where}: rate limited by the server, waiting as it asks ({exc.server_message})")
    if isinstance(exc, Unauthorized | Rejected | NeedsUser):
        return Failure(policy.delay(attempt, blocked=True), f"{where}: {exc}", blocked=True)
    if isinstance(exc, CloudError):
        return Failure(policy.delay(attempt), f"{where}: {exc}; retrying", maybe_committed=exc.maybe_committed)
    if isinstance(exc, OSError):
        return Failure(policy.delay(attempt, blocked=True), f"{where}: cannot read {path}: {exc}", blocked=True)
    message = f"{where}: internal error: {exc!r} (a bug; see the daemon log); retrying"
    return Failure(policy.delay(attempt, blocked=True), message, blocked=True, bug=True)
