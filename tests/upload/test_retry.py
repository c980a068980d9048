"""The retry policy: what each failure means (docs/upload.md, "Retry policy") and how long it waits."""

from __future__ import annotations

from pathlib import Path

import pytest

from swanlabd.upload.cloudapi import RateLimited, Rejected, ServerError, TransportError, Unauthorized
from swanlabd.upload.retry import RetryPolicy, failure
from swanlabd.upload.uploader import MissingCredentials, MissingRunStart

POLICY = RetryPolicy(base_s=1.0, cap_s=8.0, blocked_cap_s=60.0)
PATH = Path("/runs/r1/backup.swanlab")


def test_backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() -> None:
    for attempt, d in [(0, 1.0), (1, 2.0), (3, 8.0), (10, 8.0), (1000, 8.0)]:
        assert all(d / 2 <= POLICY.delay(attempt) <= d for _ in range(20))
    assert all(30.0 <= POLICY.delay(10, blocked=True) <= 60.0 for _ in range(20))


def test_429_waits_as_the_server_asks_else_backs_off() -> None:
    asked = failure(
        RateLimited("POST /house/metrics", 429, "", "slow down", "", retry_after=7.5), "scalar0", 0, POLICY, PATH
    )
    assert asked.delay == 7.5 and not asked.blocked and not asked.maybe_committed
    assert "slow down" in asked.message
    silent = failure(RateLimited("POST /house/metrics", 429, "", "", "", retry_after=None), "scalar0", 3, POLICY, PATH)
    assert 4.0 <= silent.delay <= 8.0


@pytest.mark.parametrize(
    "exc",
    [
        Unauthorized("POST /login", 401, "", "bad key", ""),
        Rejected("POST /project", 403, "", "forbidden", ""),
        MissingCredentials("r1"),
        MissingRunStart("r1", PATH),
    ],
    ids=["401", "4xx", "no key", "no RunStart"],
)
def test_what_only_the_user_can_fix_blocks_and_waits_long(exc: Exception) -> None:
    got = failure(exc, "setup", 10, POLICY, PATH)
    assert got.blocked and 30.0 <= got.delay <= 60.0 and got.message == f"setup: {exc}"


def test_a_failure_where_the_server_may_have_acted_asks_for_summaries() -> None:
    reset = failure(TransportError("POST /house/metrics", "reset", maybe_committed=True), "scalar1", 0, POLICY, PATH)
    refused = failure(
        TransportError("POST /house/metrics", "refused", maybe_committed=False), "scalar1", 0, POLICY, PATH
    )
    server = failure(ServerError("POST /house/metrics", 503, "", "busy", ""), "console", 0, POLICY, PATH)
    assert reset.maybe_committed and not reset.blocked and reset.message.endswith("; retrying")
    assert not refused.maybe_committed
    assert server.maybe_committed


def test_an_unreadable_run_folder_blocks() -> None:
    gone = failure(FileNotFoundError(2, "No such file"), "media", 0, POLICY, PATH)
    assert gone.blocked and not gone.bug and str(PATH) in gone.message


def test_a_bug_is_retried_slowly_shown_as_blocked_and_marked_for_its_traceback() -> None:
    bug = failure(KeyError("cuid"), "setup", 10, POLICY, PATH)
    assert bug.bug and bug.blocked and not bug.maybe_committed and 30.0 <= bug.delay <= 60.0
    assert bug.message == "setup: internal error: KeyError('cuid') (a bug; see the daemon log); retrying"
    assert not failure(ServerError("POST /house/metrics", 503, "", "busy", ""), "console", 0, POLICY, PATH).bug
