"""The daemon's log: structured lines, file reopen on SIGHUP, and no API key in any line."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlabd.local.redaction import redact, register_secret
from swanlabd.service import logging_setup
from swanlabd.service.config import DaemonConfig
from swanlabd.service.logging_setup import StructuredFormatter

KEY = "sk-Zq81hT0pLmW4vRc9XyB2"  # shaped like a real key, registered nowhere


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """configure() replaces the root handlers: give them back to pytest afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield root
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            if h not in handlers:
                h.close()
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)


@pytest.mark.parametrize(
    "text",
    [
        f"api_key={KEY}",
        f"SWANLAB_API_KEY={KEY} python train.py",
        f'{{"api_key": "{KEY}", "api_host": "h"}}',
        f"{{'api_key': '{KEY}'}}",
        f'cloud {{ api_key: "{KEY}" }}',
        f"authorization: {KEY}",
        f"Authorization: Bearer {KEY}",
        f"headers={{'Authorization': '{KEY}'}}",
        f"Cookie: sid={KEY}; Path=/",
        f"machine api.swanlab.cn login u password {KEY}",
        f"x-api-key: {KEY}",
        f"token={KEY}",
    ],
)
def test_credentials_are_redacted_wherever_they_are_named(text: str) -> None:
    out = redact(text)
    assert KEY not in out
    assert "***" in out


@pytest.mark.parametrize(
    "text",
    [
        "inside the loop",
        "key=train/loss step=5",
        "run ab12 finished, 300 records",
        "max_tokens exceeded",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_a_registered_secret_is_redacted_anywhere() -> None:
    secret = "unlabelled-" + KEY
    register_secret(secret)
    assert redact(f"GET https://h/x?{secret} failed") == "GET https://h/x?*** failed"
    register_secret("short")  # too short to redact safely: ignored
    assert redact("a short word") == "a short word"


def make_record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"login failed: authorization: {KEY}")
        except RuntimeError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("swanlabd.test", logging.WARNING, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_text_lines_are_logfmt_and_redact_message_fields_and_traceback() -> None:
    line = StructuredFormatter("text").format(
        make_record('retrying with api_key="%s"', KEY, exc=True, run_id="ab12", cloud={"api_key": KEY})
    )
    assert KEY not in line
    assert "\n" not in line
    assert line.startswith("ts=")
    assert " level=warning logger=swanlabd.test msg=" in line
    assert " run_id=ab12 " in line
    assert "RuntimeError" in line


def test_json_lines_parse_and_are_redacted() -> None:
    line = StructuredFormatter("json").format(make_record("token=%s", KEY, run_id="ab12", exc=True))
    fields = json.loads(line)
    assert KEY not in line
    assert fields["level"] == "warning" and fields["run_id"] == "ab12" and "RuntimeError" in fields["exc"]


def test_journald_lines_carry_priority_and_no_timestamp() -> None:
    line = StructuredFormatter("text", journald=True).format(make_record("hello"))
    assert line.startswith("<4>level=warning ")


def test_journal_stream_detection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    f = open(tmp_path / "stderr", "w")
    try:
        st = os.fstat(f.fileno())
        monkeypatch.setattr(sys, "stderr", f)
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert logging_setup._stderr_is_journal()
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino + 1}")
        assert not logging_setup._stderr_is_journal()
    finally:
        f.close()


def test_level_from_config(root_logger: logging.Logger, tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    setup = logging_setup.configure(DaemonConfig(log_file=path, log_level="warning"))
    logging.getLogger("swanlabd.x").info("not written")
    logging.getLogger("swanlabd.x").warning("written")
    setup.close()
    text = path.read_text()
    assert "written" in text and "not written" not in text


def test_log_file_is_private_and_reopens_after_rotation(root_logger: logging.Logger, tmp_path: Path) -> None:
    path = tmp_path / "logs" / "swanlabd.log"
    setup = logging_setup.configure(DaemonConfig(log_file=path, log_level="info"))
    log = logging.getLogger("swanlabd.x")
    log.info("before rotation")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.rename(path.with_suffix(".log.1"))
    log.info("still the old file")
    setup.reopen()
    log.info("after rotation")
    setup.close()
    old = path.with_suffix(".log.1").read_text()
    new = path.read_text()
    assert "before rotation" in old and "still the old file" in old
    assert "after rotation" in new and "log file reopened" in new and "before rotation" not in new


# -- the real daemon ---------------------------------------------------------------------------


def test_daemon_sighup_reopens_its_log_file_and_never_logs_the_api_key() -> None:
    from swanlabd_pb import records_pb2 as pb
    from swanlabd_pb import service_pb2

    d = DaemonProcess(env={"SWANLABD_LOG_LEVEL": "debug", "SWANLABD_UPLOAD": "true"})
    log_file = d.root / "swanlabd.log"
    d.env["SWANLABD_LOG_FILE"] = str(log_file)
    try:
        d.start()
        # A cloud run against an API host that refuses connections: the uploader retries and
        # logs, with the key in hand.
        reply = d.stub().StartRun(
            service_pb2.StartRunRequest(
                start=pb.RunStart(project="p", experiment_name="e", mode=pb.MODE_CLOUD),
                cloud=service_pb2.Cloud(api_host="http://127.0.0.1:9", web_host="http://127.0.0.1:9", api_key=KEY),
                pid=os.getpid(),
            ),
            timeout=10,
        )
        assert reply.run_id
        time.sleep(1.5)
        log_file.rename(d.root / "swanlabd.log.1")
        os.kill(d.pid, signal.SIGHUP)
        wait_for(log_file.exists, 10, "the log file to be reopened")
        assert d.stop() == 0
        everything = log_file.read_text() + (d.root / "swanlabd.log.1").read_text() + d.output()
        assert "log file reopened" in log_file.read_text()
        assert "swanlabd serving" in (d.root / "swanlabd.log.1").read_text()
        assert KEY not in everything
    finally:
        d.close()


def test_keys_stored_or_loaded_by_the_state_db_are_redacted(tmp_path: Path) -> None:
    from swanlabd.storage.state import State

    stored, loaded = "stored-" + KEY, "loaded-" + KEY
    state = State(tmp_path / "state")
    try:
        state.put_cloud("run-a", {"api_host": "h", "web_host": "w", "api_key": stored})
        state.creds_db.put(b"run-b", json.dumps({"api_key": loaded}).encode())  # as left by an earlier daemon
        assert state.get_cloud("run-b") == {"api_key": loaded}
    finally:
        state.close()
    assert redact(f"upload of {stored} and {loaded}") == "upload of *** and ***"
