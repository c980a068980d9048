"""The test cloud's state: an sqlite3 database that outlives the server process.

One connection, serialised by a lock: the HTTP handler threads are few and every request is
one short transaction, so a pool would buy nothing. WAL mode lets a test (or `sqlite3 PATH`)
read the file while the server writes it.

Metric points are keyed by (experiment, kind, key, step); a point that arrives again keeps its
first value and bumps `dup_count`, which is how the referee counts duplicates. The `metrics`
view shows them that way; they are stored as (series, step) in `points`.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, api_key TEXT UNIQUE NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    sid TEXT PRIMARY KEY, username TEXT NOT NULL, expires_at REAL NOT NULL,
    revoked TEXT);  -- NULL while valid, else why: 'finished', 'expired'
CREATE TABLE IF NOT EXISTS projects (
    cuid TEXT PRIMARY KEY, username TEXT NOT NULL, name TEXT NOT NULL,
    visibility TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (username, name));
CREATE TABLE IF NOT EXISTS experiments (
    cuid TEXT PRIMARY KEY, project_cuid TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
    created_at TEXT NOT NULL, create_calls INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'RUNNING', finished_at TEXT, state_calls INTEGER NOT NULL DEFAULT 0,
    heartbeats INTEGER NOT NULL DEFAULT 0, last_heartbeat REAL);
CREATE TABLE IF NOT EXISTS profiles (
    experiment_cuid TEXT NOT NULL, kind TEXT NOT NULL, content TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (experiment_cuid, kind));
CREATE TABLE IF NOT EXISTS columns (
    project_cuid TEXT NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (project_cuid, key));
-- A point is keyed by (series, step): a small integer key keeps the B-tree of a million points
-- compact (the text (experiment, kind, key) per point made inserts 1.7x slower).
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, experiment_cuid TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    UNIQUE (experiment_cuid, kind, key));
-- value has no type affinity: a scalar is stored as the number it was (REAL keeps a float's
-- 64 bits exactly), anything else as JSON text ('"nan"', an int beyond 64 bits, media, log).
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL, step INTEGER NOT NULL, value NOT NULL, create_time TEXT NOT NULL,
    dup_count INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (series, step)) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS metrics AS
    SELECT s.experiment_cuid, s.kind, s.key, p.step, p.value, p.create_time, p.dup_count
    FROM points p JOIN series s ON s.id = p.series;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('duplicates', 0);
-- A trigger keeps the total O(1) per point: summing dup_count per request would rescan the run.
CREATE TRIGGER IF NOT EXISTS count_duplicates AFTER UPDATE OF dup_count ON points BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'duplicates'; END;
CREATE TABLE IF NOT EXISTS upload_urls (
    token TEXT PRIMARY KEY, experiment_cuid TEXT NOT NULL, path TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    experiment_cuid TEXT NOT NULL, path TEXT NOT NULL, content_type TEXT NOT NULL,
    data BLOB NOT NULL, puts INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (experiment_cuid, path));
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER, sdk_version TEXT, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL);
"""


class OldDatabase(Exception):
    """The database file has an older schema this test cloud cannot use."""


@dataclass(frozen=True)
class Session:
    sid: str
    username: str
    expires_at: float


def new_cuid() -> str:
    """A random id shaped like the cloud's cuids (lowercase letters and digits)."""
    return "c" + secrets.token_hex(10)


def iso_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Store:
    """Everything the test cloud knows. Thread-safe; each public method is one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # The test cloud holds no data anyone needs after a power cut.
        self._db.execute("PRAGMA synchronous=OFF")
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'metrics' AND type = 'table'").fetchone():
            raise OldDatabase(f"{self.path} was made by an older test cloud (a metrics table); use a new file")
        self._db.executescript(SCHEMA)
        self._series: dict[tuple[str, str, str], int] = {}  # (experiment, kind, key) -> series id

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, tuple(args))]

    # ---- users and sessions ----

    def add_user(self, api_key: str, username: str, name: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO users (username, api_key, name) VALUES (?, ?, ?)"
                " ON CONFLICT (username) DO UPDATE SET api_key = excluded.api_key",
                (username, api_key, name or username),
            )

    def user_by_key(self, api_key: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM users WHERE api_key = ?", (api_key,))
        return rows[0] if rows else None

    def user_exists(self, username: str) -> bool:
        return bool(self._rows("SELECT 1 FROM users WHERE username = ?", (username,)))

    def create_session(self, username: str, ttl_s: float) -> Session:
        session = Session(secrets.token_urlsafe(24), username, time.time() + ttl_s)
        with self._tx() as db:
            db.execute(
                "INSERT INTO sessions (sid, username, expires_at) VALUES (?, ?, ?)",
                (session.sid, session.username, session.expires_at),
            )
        return session

    def session(self, sid: str) -> tuple[Session | None, str]:
        """The live session for `sid`, or None and why not ('unknown', 'expired', 'finished')."""
        rows = self._rows("SELECT * FROM sessions WHERE sid = ?", (sid,))
        if not rows:
            return None, "unknown"
        row = rows[0]
        if row["revoked"]:
            return None, row["revoked"]
        if row["expires_at"] <= time.time():
            return None, "expired"
        return Session(row["sid"], row["username"], row["expires_at"]), ""

    def revoke_session(self, sid: str, why: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE sessions SET revoked = ? WHERE sid = ? AND revoked IS NULL", (why, sid))

    def expire_sessions(self) -> int:
        """Expire every live session now; returns how many."""
        with self._tx() as db:
            return db.execute("UPDATE sessions SET revoked = 'expired' WHERE revoked IS NULL").rowcount

    # ---- projects and experiments ----

    def project(self, username: str, name: str) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT p.*, (SELECT count(*) FROM experiments e WHERE e.project_cuid = p.cuid) AS experiments"
            " FROM projects p WHERE username = ? AND name = ?",
            (username, name),
        )
        return rows[0] if rows else None

    def project_by_cuid(self, cuid: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM projects WHERE cuid = ?", (cuid,))
        return rows[0] if rows else None

    def create_project(self, username: str, name: str, visibility: str) -> bool:
        """Create the project; False if it already existed."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO projects (cuid, username, name, visibility, created_at) VALUES (?, ?, ?, ?, ?)",
                (new_cuid(), username, name, visibility, iso_now()),
            )
            return cursor.rowcount == 1

    def create_experiment(self, project_cuid: str, cuid: str, name: str, body: dict[str, Any]) -> tuple[dict, bool]:
        """Create the experiment with this cuid, or reopen it if it exists: (row, created).

        Reopening is what the cloud does for the official SDK's resume: a finished experiment is
        RUNNING again (it takes metrics) until the next PUT state.
        """
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO experiments (cuid, project_cuid, name, body, created_at) VALUES (?, ?, ?, ?, ?)",
                (cuid, project_cuid, name, json.dumps(body), iso_now()),
            )
            created = cursor.rowcount == 1
            if not created:
                db.execute(
                    "UPDATE experiments SET create_calls = create_calls + 1, state = 'RUNNING', finished_at = NULL"
                    " WHERE cuid = ?",
                    (cuid,),
                )
            row = dict(db.execute("SELECT * FROM experiments WHERE cuid = ?", (cuid,)).fetchone())
        return row, created

    def experiment(self, cuid: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM experiments WHERE cuid = ?", (cuid,))
        return rows[0] if rows else None

    def experiments(self, project_cuid: str | None = None) -> list[dict[str, Any]]:
        if project_cuid is None:
            return self._rows("SELECT * FROM experiments ORDER BY created_at")
        return self._rows("SELECT * FROM experiments WHERE project_cuid = ? ORDER BY created_at", (project_cuid,))

    def heartbeat(self, cuid: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE experiments SET heartbeats = heartbeats + 1, last_heartbeat = ? WHERE cuid = ?",
                (time.time(), cuid),
            )

    def set_state(self, cuid: str, state: str, finished_at: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE experiments SET state = ?, finished_at = ?, state_calls = state_calls + 1 WHERE cuid = ?",
                (state, finished_at, cuid),
            )

    # ---- profile and columns ----

    def put_profile(self, cuid: str, kind: str, content: Any) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO profiles (experiment_cuid, kind, content) VALUES (?, ?, ?)"
                " ON CONFLICT DO UPDATE SET content = excluded.content, calls = calls + 1",
                (cuid, kind, json.dumps(content)),
            )

    def profile(self, cuid: str) -> dict[str, Any]:
        rows = self._rows("SELECT kind, content FROM profiles WHERE experiment_cuid = ?", (cuid,))
        return {row["kind"]: json.loads(row["content"]) for row in rows}

    def put_columns(self, project_cuid: str, columns: list[dict[str, Any]]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT INTO columns (project_cuid, key, type, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET type = excluded.type, body = excluded.body, calls = calls + 1",
                [(project_cuid, c["key"], c["type"], json.dumps(c)) for c in columns],
            )

    def columns(self, project_cuid: str) -> dict[str, dict[str, Any]]:
        rows = self._rows("SELECT key, body FROM columns WHERE project_cuid = ?", (project_cuid,))
        return {row["key"]: json.loads(row["body"]) for row in rows}

    def missing_columns(self, project_cuid: str, keys: set[str]) -> set[str]:
        with self._lock:
            known = {
                key for (key,) in self._db.execute("SELECT key FROM columns WHERE project_cuid = ?", (project_cuid,))
            }
        return keys - known

    # ---- metrics ----

    def add_metrics(
        self, cuid: str, kind: str, keys: list[str], steps: list[int], values: list[Any], times: list[str]
    ) -> int:
        """Store points given as columns (key, step, value, create_time); returns how many were duplicates.

        A value is a number (scalars) or JSON text. The common case, no point seen before, is one
        INSERT OR IGNORE; if it ignored any, the batch is redone point by point in SQL so that
        every repeat (also within the batch) is counted exactly.
        """
        ids = self._series_ids(cuid, kind, set(keys))
        with self._tx() as db:
            rows = zip(map(ids.__getitem__, keys), steps, values, times, strict=True)
            db.execute("SAVEPOINT batch")
            inserted = db.executemany(
                "INSERT OR IGNORE INTO points (series, step, value, create_time) VALUES (?, ?, ?, ?)", rows
            ).rowcount
            if inserted == len(keys):
                db.execute("RELEASE batch")
                return 0
            db.execute("ROLLBACK TO batch")
            db.execute("RELEASE batch")
            before = db.execute("SELECT value FROM counters WHERE name = 'duplicates'").fetchone()[0]
            db.executemany(
                "INSERT INTO points (series, step, value, create_time) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET dup_count = dup_count + 1",
                zip(map(ids.__getitem__, keys), steps, values, times, strict=True),
            )
            after = db.execute("SELECT value FROM counters WHERE name = 'duplicates'").fetchone()[0]
        return after - before

    def _series_ids(self, cuid: str, kind: str, keys: set[str]) -> dict[str, int]:
        """Series id per key, made if new. Committed on its own: an id in the cache is always in the file."""
        missing = {key for key in keys if (cuid, kind, key) not in self._series}
        if missing:
            with self._tx() as db:
                db.executemany(
                    "INSERT OR IGNORE INTO series (experiment_cuid, kind, key) VALUES (?, ?, ?)",
                    [(cuid, kind, key) for key in missing],
                )
                made = {
                    key: db.execute(
                        "SELECT id FROM series WHERE experiment_cuid = ? AND kind = ? AND key = ?", (cuid, kind, key)
                    ).fetchone()[0]
                    for key in missing
                }
            for key, sid in made.items():
                self._series[(cuid, kind, key)] = sid
        return {key: self._series[(cuid, kind, key)] for key in keys}

    def metrics(self, cuid: str, kind: str = "scalar") -> dict[str, dict[int, Any]]:
        """{key: {step: value}} of one experiment and kind (log lines: key '', step = epoch)."""
        rows = self._rows(
            "SELECT key, step, value FROM metrics WHERE experiment_cuid = ? AND kind = ? ORDER BY key, step",
            (cuid, kind),
        )
        result: dict[str, dict[int, Any]] = {}
        for row in rows:
            value = row["value"]
            result.setdefault(row["key"], {})[row["step"]] = json.loads(value) if isinstance(value, str) else value
        return result

    def summaries(self, cuid: str) -> dict[str, list[dict[str, Any]]]:
        # max(step) of one series is a seek to the end of its part of the points key.
        rows = self._rows(
            "SELECT kind, key, step FROM (SELECT s.kind, s.key, (SELECT max(step) FROM points WHERE series = s.id)"
            " AS step FROM series s WHERE s.experiment_cuid = ?) WHERE step IS NOT NULL ORDER BY kind, key",
            (cuid,),
        )
        result: dict[str, list[dict[str, Any]]] = {"scalar": [], "media": [], "log": []}
        for row in rows:
            result[row["kind"]].append({"key": row["key"], "step": row["step"]})
        return result

    def point_count(self, cuid: str | None = None) -> int:
        if cuid is None:
            return self._rows("SELECT count(*) AS n FROM metrics")[0]["n"]
        return self._rows("SELECT count(*) AS n FROM metrics WHERE experiment_cuid = ?", (cuid,))[0]["n"]

    def duplicates(self) -> list[dict[str, Any]]:
        """Every (experiment, kind, key, step) received more than once, with how many extra times."""
        return self._rows(
            "SELECT experiment_cuid, kind, key, step, dup_count FROM metrics WHERE dup_count > 0"
            " ORDER BY experiment_cuid, kind, key, step"
        )

    def duplicate_count(self) -> int:
        return self._rows("SELECT value FROM counters WHERE name = 'duplicates'")[0]["value"]

    # ---- media objects ----

    def presign(self, cuid: str, paths: list[str]) -> list[str]:
        tokens = [secrets.token_urlsafe(16) for _ in paths]
        with self._tx() as db:
            db.executemany(
                "INSERT INTO upload_urls (token, experiment_cuid, path) VALUES (?, ?, ?)",
                [(token, cuid, path) for token, path in zip(tokens, paths, strict=True)],
            )
        return tokens

    def upload_path(self, token: str) -> str | None:
        """The object path a presigned token was issued for, or None if unknown."""
        rows = self._rows("SELECT path FROM upload_urls WHERE token = ?", (token,))
        return rows[0]["path"] if rows else None

    def put_object(self, token: str, content_type: str, data: bytes) -> bool:
        """Store the bytes for a presigned token; False if the token is unknown."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM upload_urls WHERE token = ?", (token,)).fetchone()
            if row is None:
                return False
            db.execute(
                "INSERT INTO objects (experiment_cuid, path, content_type, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET data = excluded.data, content_type = excluded.content_type,"
                " puts = puts + 1",
                (row["experiment_cuid"], row["path"], content_type, data),
            )
        return True

    def objects(self, cuid: str) -> dict[str, bytes]:
        rows = self._rows("SELECT path, data FROM objects WHERE experiment_cuid = ?", (cuid,))
        return {row["path"]: bytes(row["data"]) for row in rows}

    # ---- request log and errors ----

    def log_request(self, method: str, path: str, status: int | None, sdk_version: str | None, outcome: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO requests (at, method, path, status, sdk_version, outcome) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), method, path, status, sdk_version, outcome),
            )

    def log_error(self, method: str, path: str, status: int, code: str, message: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO errors (at, method, path, status, code, message) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), method, path, status, code, message),
            )

    def requests(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM requests ORDER BY id")

    def errors(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM errors ORDER BY id")
