"""The daemon's own log: structured lines to stderr (journald) or a file, secrets redacted.

Line formats (`log_format`):

- `text`, logfmt: `ts=2026-11-24T03:10:00.123Z level=info logger=swanlabd.ingest.server msg="run started" run_id=ab12`.
  Under systemd (`JOURNAL_STREAM` names our stderr) the timestamp is left out, because journald
  stamps each line, and the line starts with a `<N>` syslog priority, which journald turns into
  the entry's priority.
- `json`: one object per line with the same fields.

Fields passed as `logger.info("...", extra={"run_id": ...})` become `key=value` pairs.

Redaction: every part of a line (message, fields and traceback) goes through `redact()` before
it is written, so an API key never reaches a log even from a library's exception text. It replaces
values that follow a credential name (`api_key=`, `"api_key": "`, `authorization: `, `Bearer `,
`sid=`, `password=`, ...) and any string registered with `register_secret()` (the daemon
registers every API key it receives); both live in swanlabd/local/redaction.py.

SIGHUP: `LogSetup.reopen()` reopens the log file (for logrotate); the daemon calls it from its
SIGHUP handler on the event loop.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from swanlabd.local.redaction import redact
from swanlabd.service.errors import StartupError

if TYPE_CHECKING:
    # Only for annotations: importing this module must not import pydantic.
    from swanlabd.service.config import DaemonConfig

# LogRecord attributes that are not user fields (what `extra=` may add beyond them).
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class StructuredFormatter(logging.Formatter):
    """logfmt or JSON lines, redacted; see the module docstring."""

    def __init__(self, fmt: str = "text", *, journald: bool = False) -> None:
        super().__init__()
        self.fmt = fmt
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {}
        if not self.journald:
            fields["ts"] = (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
            )
        fields["level"] = record.levelname.lower()
        fields["logger"] = record.name
        fields["msg"] = record.getMessage()
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                fields[key] = value
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        # Redact each value before quoting or JSON escaping, which would hide a value's quotes.
        fields = {key: _redact_value(value) for key, value in fields.items()}
        if self.fmt == "json":
            line = json.dumps(fields, default=str, ensure_ascii=False)
        else:
            line = " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())
        if self.journald:
            line = f"<{_SYSLOG_PRIORITY.get(record.levelno, 6)}>{line}"
        return line


def _redact_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return redact(value if isinstance(value, str) else str(value))


def _logfmt_value(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' ="\n\\'):
        return text
    # Newlines (tracebacks) are escaped so one event stays one line for journald and grep.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class ReopenableFileHandler(logging.StreamHandler[IO[str]]):
    """Appends to a file; `reopen()` closes and reopens it by path (after logrotate moved it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(self._open())

    def _open(self) -> IO[str]:
        # Never through a symlink, and never into a file another user made first (it would
        # read every line we write): such a log file is a start-up error naming it.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        owner = os.fstat(fd).st_uid
        if owner != os.getuid():
            os.close(fd)
            raise StartupError(
                f"log file {self.path} belongs to uid {owner}, not to us ({os.getuid()}): "
                "remove it or set another log_file"
            )
        return os.fdopen(fd, "a", encoding="utf-8", buffering=1)

    def reopen(self) -> None:
        new = self._open()
        with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
            old, self.stream = self.stream, new
        old.close()

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
            self.stream.close()
        super().close()


def _stderr_is_journal() -> bool:
    # systemd sets JOURNAL_STREAM=<dev>:<inode> of the stream it connected to stdout/stderr.
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


class LogSetup:
    """The installed handler; `reopen()` for SIGHUP, `close()` at exit."""

    def __init__(self, handler: logging.Handler) -> None:
        self.handler = handler

    def reopen(self) -> None:
        """Reopen the log file (no-op when logging to stderr)."""
        if isinstance(self.handler, ReopenableFileHandler):
            self.handler.reopen()
            logging.getLogger("swanlabd").info("log file reopened", extra={"path": str(self.handler.path)})

    def close(self) -> None:
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()


def configure(config: DaemonConfig) -> LogSetup:
    """Send every logger's records (ours and libraries') through one redacting handler."""
    handler: logging.Handler
    if config.log_file is not None:
        handler = ReopenableFileHandler(config.log_file)
        handler.setFormatter(StructuredFormatter(config.log_format))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(StructuredFormatter(config.log_format, journald=_stderr_is_journal()))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.log_level.upper())
    if config.log_level != "debug":
        # httpx logs every request at INFO; the uploader reports what matters itself.
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return LogSetup(handler)
