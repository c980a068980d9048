"""The run: init(), log(), finish(), the config object, exit hooks and fork handling.

log() is the hot path. A row whose key tuple was seen before (`tuple(data)` hits
`Run._schema_by_keys`) and whose values are all plain numbers (`FAST_TYPES`) is appended to
the queue as one `(step, schema_id, values, time)` tuple with no other work; everything else
(new keys, nested dicts, NumPy 0-d arrays, tensors, bad input) goes through `_log_slow`, which
validates, interns key ids and schemas, and caches the key tuple for next time. A call either
queues its whole row or raises (nothing half-logged).

Console: init() wraps sys.stdout/sys.stderr (`ConsoleTee`); printed lines go into the same queue
as rows, so the run's console log keeps its order with the metrics.

Exit: atexit finishes the run as FINISHED; sys.excepthook as CRASHED (ABORTED for an uncaught
KeyboardInterrupt); a SIGTERM handler (installed only where SIGTERM had its default action) as
ABORTED, then the signal's usual effect. finish() returns once the daemon (or the fallback file)
holds every row, bounded by Settings.finish_timeout_s.

Fork: `os.register_at_fork` turns the run in a forked child into a new, idle writer of the same
run: the parent's queue, sender and gRPC objects are left untouched (kept referenced, never
closed: their finalizers would call into gRPC). The child's first log() starts its own sender,
which attaches as a new writer through a relay process (_relay.py). A child that never logs
costs nothing.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swanlab_client import _callbacks, _config, _settings, _validate
from swanlab_client._callbacks import Callback
from swanlab_client._errors import (
    InvalidNameError,
    LoginRequiredError,
    NotInitializedError,
    RunFinishedError,
    UsageError,
)
from swanlab_client._journal import CAPACITY, MIN_CAPACITY, Journal
from swanlab_client._metrics import MetricRules
from swanlab_client._sender import CONFIG, CONSOLE, FILE, RunTables, Sender, SendQueue, Warner, pending, to_float
from swanlab_client._settings import Settings
from swanlab_client._validate import FAST_TYPES, MAX_STEP
from swanlab_client.media import _api as _media_api
from swanlab_client.media._queue import take_media
from swanlab_client.media._store import MEDIA, MediaBudget
from swanlabd.format import journal as journal_format
from swanlabd.format.journal import TAG_MAGIC

if TYPE_CHECKING:
    from concurrent.futures import Future

    from swanlab_client._files import FileSaver
    from swanlab_client._tasks import AsyncTasks
    from swanlab_client._transport import Transport

_logger = logging.getLogger("swanlab_client")

MODES = ("cloud", "offline", "disabled")
_MODE_ALIASES = {"online": "cloud", "local": "offline", "cloud-only": "cloud"}
_OFFICIAL_MODES = {"cloud": "online", "offline": "offline", "disabled": "disabled"}
MAX_CACHED_KEY_TUPLES = 4096
MAX_CONSOLE_LINE = 8192  # characters kept of one printed line
_FINISH_STATES = {"success": "FINISHED", "finished": "FINISHED", "crashed": "CRASHED", "aborted": "ABORTED"}
_FINISH_NAMES = {"FINISHED": "success", "CRASHED": "crashed", "ABORTED": "aborted"}
_now = time.time
_thread_id = threading.get_ident

_current: Run | None = None
# Set in a forked child if gRPC was loaded in the parent: such a process must not call into it.
_grpc_inherited = False


Config = _config.Config
config = _config.config


class Run:
    """One run, as returned by init(), with the official SDK's `Run` API.

    Thread-safety: log() may be called from several threads (rows are queued atomically), but
    steps are then only as ordered as the calls. Fork: see the module docstring.
    """

    def __init__(
        self,
        *,
        run_id: str,
        project: str,
        workspace: str,
        experiment_name: str,
        mode: str,
        settings: Settings,
        request: Any,
        official_mode: str | None = None,
        callbacks: Sequence[Callback] = (),
        web_host: str = "",
    ) -> None:
        self.run_id = run_id
        self.project = project
        self.workspace = workspace
        self.experiment_name = experiment_name
        self._mode = mode
        self._official_mode = official_mode or _OFFICIAL_MODES[mode]
        self._web_host = web_host
        self.settings = settings
        self._request = request
        self._tables = RunTables()
        self._key_ids: dict[str, int] = {}
        self._schema_ids: dict[tuple[int, ...], int] = {}
        self._schema_by_keys: dict[tuple, int] = {}
        self._step = 0  # the next automatic step: one more than the highest step logged
        self._last = 0  # the last step logged (a lower one is "going backwards")
        self._warn = Warner()
        self._finished = False
        self._space = threading.Condition()  # notified when the sender takes from a full queue
        self._leftovers: list[object] = []
        self._config: Config = _config.Config()
        self._callbacks = list(callbacks)
        self._metrics = MetricRules()
        self._tasks: AsyncTasks | None = None
        self._saver: FileSaver | None = None
        self.sender: Sender | None = None
        # The primary writer's journal (_journal.py): rows go there as log() returns; None in a
        # forked child, in disabled mode, or where no journal could be made (rows then queue).
        self._journal: Journal | None = None
        if mode == "disabled":
            self._queue = SendQueue(maxlen=0)  # validate, then drop: nothing is stored
            self._limit = sys.maxsize
        else:
            self._queue = SendQueue()
            self._limit = settings.queue_max_rows

    def __repr__(self) -> str:
        state = "finished" if self._finished else "running"
        return (
            f"Run(id={self.run_id!r}, project={self.project!r}, name={self.experiment_name!r}, "
            f"mode={self.mode!r}, {state})"
        )

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            self.finish()
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            self.finish("aborted" if issubclass(exc_type, KeyboardInterrupt) else "crashed", text)

    # -- public ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The run id (pass it to init(id=..., resume="must") to continue this run)."""
        return self.run_id

    @property
    def name(self) -> str:
        """The experiment name."""
        return self.experiment_name

    @property
    def mode(self) -> str:
        """The official SDK's name of the mode: "online", "offline" (or "local"), "disabled"."""
        return self._official_mode

    @property
    def alive(self) -> bool:
        """True until finish(): log() works while the run is alive."""
        return not self._finished

    @property
    def dir(self) -> Path:
        """The run folder (waits, bounded, for the daemon's answer). ValueError if disabled or unknown."""
        run_dir = self.run_dir
        if run_dir is None:
            raise ValueError(f"run {self.run_id} has no folder (mode {self.mode!r}, or no daemon answered in time)")
        return run_dir

    @property
    def path(self) -> str:
        """/<workspace>/<project>/<run id>, as the official SDK gives it in online mode (ValueError otherwise)."""
        if self._mode != "cloud":
            raise ValueError(
                "Run path is unavailable because the current run is not using SwanLab online mode. "
                "Please initialize SwanLab with online mode to access the run path."
            )
        if not self.workspace:
            self.workspace = self._username()
        return f"/{self.workspace}/{self.project}/{self.run_id}"

    def _username(self) -> str:
        """The user's own workspace: the cloud's answer to the key (asked once, only for path/url)."""
        from swanlabd.local import cloudlogin, credentials

        cloud = self._request.cloud
        try:
            return cloudlogin.verify_key(credentials.Credentials(cloud.api_host, cloud.web_host, cloud.api_key))
        except credentials.LoginFailed as exc:
            raise ValueError(
                f"Run path is unavailable: the cloud did not say whose workspace this is ({exc})"
            ) from None

    @property
    def url(self) -> str:
        """The experiment's page on the SwanLab website, in online mode (ValueError otherwise)."""
        _, workspace, project, run_id = self.path.split("/")
        return f"{self._web_host}/@{workspace}/{project}/runs/{run_id}"

    @property
    def run_dir(self) -> Path | None:
        """The run folder (waits, bounded, for the daemon's answer; None if disabled/unknown)."""
        if self.sender is None:
            return None
        self.sender.started.wait(self.settings.connect_timeout_s + self.settings.spawn_timeout_s)
        return Path(self.sender.run_dir) if self.sender.run_dir else None

    @property
    def writer(self) -> int:
        """This process's writer id in the run (1 for the process that called init(), unless it resumed
        a run: then the new writer id the daemon gave it)."""
        return self.sender.writer if self.sender is not None else 0

    @property
    def config(self) -> Config:
        """This run's config (`swanlab_client.config` points to it while the run is active)."""
        return self._config

    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        """Queue one row: {key: number}, nested dicts flattened with '/'. See swanlab_client.log."""
        if step is None:
            step = self._step
            if step > MAX_STEP:
                self._warn.once("step-max", "the next automatic step would be past 2**63-1: rows are left out")
                return
        elif type(step) is not int or not self._last <= step <= MAX_STEP:
            checked = self._check_step(step)
            if checked is None:
                return
            step = checked
        if type(data) is not dict:
            return self._log_slow(data, step)
        sid = self._schema_by_keys.get(tuple(data))
        if sid is None:
            return self._log_slow(data, step)
        if not FAST_TYPES.issuperset(map(type, data.values())):
            return self._log_slow(data, step)
        j = self._journal
        if j is not None and _thread_id() == j.owner:
            # One pack_into writes the row into the journal, its tag last (_journal.py). Only the
            # first thread that logged writes there, so no lock; other threads' rows queue.
            pack, size, kind_n, ids = j.rows[sid]
            p = j.pos
            if p + size <= j.room:  # 0 while another thread's keys wait (Journal.unkeyed)
                try:
                    pack(j.mm, j.base + p, size, kind_n, step, _now(), *ids, *data.values(), p ^ TAG_MAGIC)
                    j.pos = p + size
                except (OverflowError, struct.error):
                    self._journal_row(step, sid, tuple(data.values()))
            else:
                self._journal_row(step, sid, tuple(data.values()))
        else:
            q = self._queue
            if len(q) < self._limit or self._room():
                q.append((step, sid, tuple(data.values()), _now()))
        self._last = step  # a refused row's step counts too: the next row is logged where it happens
        if step >= self._step:
            self._step = step + 1

    def finish(self, state: str = "success", error: str | None = None, async_log_timeout: int | None = None) -> None:
        """Finish the run: see swanlab_client.finish."""
        if self._finished:
            _logger.warning("swanlab_client: run %s has already finished", self.run_id)
            return
        name = _FINISH_STATES.get(str(state).lower())
        if name is None:
            # The official SDK says so and leaves the run running.
            _logger.error(
                "swanlab_client: finish(state=%r): the state must be one of %s; the run is not finished",
                state,
                sorted(_FINISH_STATES),
            )
            return
        if name == "CRASHED" and error is None:
            error = "unknown"
        if self._tasks is not None:
            self._tasks.wait(async_log_timeout)
        self._finish(name, error)

    def define_metric(
        self,
        key: str,
        *,
        x_axis: str | None = None,
        section_name: str | None = None,
        hidden: bool | None = None,
        step_sync: bool | None = None,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> None:
        """Shape the chart of `key` (or of every key matching "prefix*") before it is first logged.

        x_axis: the key whose values are the chart's X axis ("_step", the default, or
        "_relative_time" are the system axes; `step_metric=` is an alias). section_name: the
        section the chart is in. hidden: True puts it in the hidden section. step_sync: with a
        custom x_axis, a row of `key` without the X key gets the X key's latest value (default
        True). overwrite: False merges with an earlier definition of the same key. A definition
        applies to keys not yet logged: a column is created once. Bad input is said in a warning
        and ignored, as in the official SDK.
        """
        self._alive()
        self._metrics.define(
            key,
            x_axis=x_axis,
            section_name=section_name,
            hidden=hidden,
            step_sync=step_sync,
            overwrite=overwrite,
            step_metric=kwargs.pop("step_metric", None),
        )
        if self._metrics.custom:
            self._schema_by_keys = {}  # a custom X axis changes rows (complete()): every row takes the slow path

    def save(
        self,
        glob_str: str | bytes | os.PathLike[str],
        base_path: str | os.PathLike[str] | None = None,
        policy: str = "live",
    ) -> list[str]:
        """Save the files matching `glob_str` into the run (its files/ folder, uploaded with it).

        Paths inside the run are relative to `base_path` (default: the current directory, or the
        parent of the glob's fixed part for an absolute glob). Returns them. policy: "now",
        "end" or "live"; each file is copied when save() is called (see docs/client.md).
        """
        self._alive()
        from swanlab_client._files import save_files

        return save_files(self, glob_str, base_path, policy)

    def async_log(
        self, func: Callable[..., Any], *args: Any, step: int | None = None, mode: str = "threading", **kwargs: Any
    ) -> Future[Any]:
        """Run `func(*args, **kwargs)` in the background and log the dict it returns; returns a Future.

        mode: "threading" (default), "asyncio" (a coroutine function on the running loop) or
        "spawn" (a new process; func, arguments and result must pickle). finish() waits for the
        tasks first. step=None means the next step when the result is logged.
        """
        self._alive()
        if self._tasks is None:
            from swanlab_client._tasks import AsyncTasks  # asyncio and its ssl: 60 ms, not at import

            self._tasks = AsyncTasks()
        return self._tasks.submit(self, func, args, kwargs, step, mode)

    # -- the slow path -----------------------------------------------------------------------

    def _alive(self) -> None:
        if self._finished:
            raise RunFinishedError(self.run_id)

    def _check_step(self, step: object) -> int | None:
        """The step to log at, or None: then the row is left out, with a warning (as the official SDK)."""
        if self._finished:
            raise RunFinishedError(self.run_id)
        try:
            value = _validate.check_step(step)
        except _validate.Dropped as exc:
            self._warn.once(f"step:{exc}", "log() left out a row: %s", exc)
            return None
        if value < self._last:
            self._warn.once(
                "step-backwards",
                "step went backwards (%d after %d) in run %s; the row is stored as logged (warned once per run)",
                value,
                self._last,
                self.run_id,
            )
        return value

    def _dropped(self, key: str, reason: str) -> None:
        self._warn.once(f"key:{key}", "log() left out %r: %s (warned once per key)", key, reason)

    def _log_slow(self, data: object, step: int) -> None:
        """Everything the fast path does not take: cleans keys, converts values, leaves out (with a
        warning) what the official SDK leaves out, and caches the key tuple when that is safe."""
        if self._finished:
            raise RunFinishedError(self.run_id)
        if not isinstance(data, Mapping):
            self._warn.once(
                f"not-a-dict:{type(data).__name__}",
                "log() takes a dict of {key: number}, not %s; the call is ignored",
                type(data).__name__,
            )
            return
        if not data:
            return  # the official SDK refuses an empty dict and takes no step for it
        if self._journal is not None and self._journal.owner is None:
            self._journal.claim()  # the first thread that logs writes the journal
        # A dict takes its step even if nothing of it is kept, as in the official SDK.
        self._last = step
        if step >= self._step:
            self._step = step + 1
        flat = _validate.flatten(data, self._dropped)
        media = take_media(flat, self._warn.once)
        types = self._tables.key_types
        for key in [k for k in flat if types.get(self._key_ids.get(k, 0), "FLOAT") != "FLOAT"]:
            self._key_type_changed(key, "a number", flat.pop(key))
        for key, items in list(media.items()):
            kid = self._key_ids.get(key)
            if kid is not None and types.get(kid, "FLOAT") != items[0].KEY_TYPE:
                self._key_type_changed(key, type(items[0]).__name__, media.pop(key))
        keys: list[str] = []
        values: list[object] = []
        for key, value in flat.items():
            try:
                values.append(_validate.number(key, value))
            except _validate.Dropped as exc:
                self._dropped(key, str(exc))
                continue
            keys.append(key)
        self._metrics.complete(keys, values)
        if not keys and not media:
            return
        q = self._queue
        if keys:
            ids = tuple(self._intern(k) for k in keys)
            sid = self._schema_ids.get(ids)
            if sid is None:
                sid = len(self._tables.schemas)
                self._tables.schemas.append(ids)
                self._schema_ids[ids] = sid
                if self._journal is not None:
                    self._journal.add_schema(sid, ids)
            # The fast path appends data.values() as they are: only when they are this row's values,
            # in this order (nothing nested, dropped, merged, media or added by a define_metric rule).
            if (
                type(data) is dict
                and len(keys) == len(data)
                and all(type(v) in FAST_TYPES for v in data.values())
                and not self._metrics.custom
                and len(self._schema_by_keys) < MAX_CACHED_KEY_TUPLES
            ):
                self._schema_by_keys[tuple(data)] = sid
            j = self._journal
            if j is not None and _thread_id() == j.owner:
                self._journal_row(step, sid, tuple(values))
            elif len(q) < self._limit or self._room():
                q.append((step, sid, tuple(values), _now()))
        for key, items in media.items():
            kid = self._intern(key, items[0].KEY_TYPE)
            self._queue_media(kid, step, items)

    def _key_type_changed(self, key: str, what: str, value: object) -> None:
        # The cloud keeps one column type per key: a value of another kind is dropped, as the
        # official SDK's server refuses it, and log() goes on with the rest of the row.
        kid = self._key_ids[key]
        self._warn.once(
            "key-type-" + key,
            "log(): key %r holds %s values; %s (%s) is dropped (warned once per key)",
            key,
            self._tables.key_types.get(kid, "FLOAT"),
            what,
            type(value).__name__,
        )

    def _queue_media(self, kid: int, step: int, items: list) -> None:
        """Queue one key's media; their bytes count against the media bound (MediaBudget)."""
        if self.mode == "disabled":
            return
        nbytes = sum(m.nbytes for m in items)
        sender = self.sender
        alive = sender is not None and sender.thread is not None and sender.thread.is_alive
        if self._tables.media.reserve(nbytes, alive or (lambda: False)):
            self._warn.once(
                "media-backpressure", "log() waited for the media encoder to catch up (warned once per run)"
            )
        q = self._queue
        if len(q) < self._limit or self._room():
            q.append((MEDIA, kid, (step, items), _now()))
        else:
            self._tables.media.release(nbytes)

    def _intern(self, key: str, key_type: str = "FLOAT") -> int:
        kid = self._key_ids.get(key)
        if kid is None:
            kid = len(self._tables.key_names)
            if key_type != "FLOAT":
                self._tables.key_types[kid] = key_type  # before the name: the sender reads names first
            # The column's chart as define_metric shaped it, fixed when the key is first logged.
            self._tables.columns[kid] = self._metrics.column(key)
            self._tables.key_names.append(key)  # before any row using it is queued
            self._key_ids[key] = kid
            j = self._journal
            if j is not None:
                if _thread_id() == j.owner:
                    self._journal_key(kid)
                else:
                    j.unkeyed.append(kid)  # its owner writes it before its next row
                    j.room = 0  # after the append: the owner's next row takes the slow path
        return kid

    # -- the journal (_journal.py; only its owner thread calls these) ------------------------------

    def _journal_row(self, step: int, sid: int, values: tuple) -> None:
        """A row the fast path could not write: no room yet (wait, or refuse on a full disk), a
        value struct refuses (an int past a double's range: +-inf, as the queue's encoder
        stores it), a row too big for the ring (queued instead), or keys another thread made."""
        j = self._journal
        assert j is not None
        while j.unkeyed:
            self._journal_key(j.unkeyed.popleft())
        pack, size, kind_n, ids = j.rows[sid]
        if size > j.capacity // 4:
            if len(self._queue) < self._limit or self._room():
                self._queue.append((step, sid, values, _now()))
            return
        if not self._journal_room(size):
            return
        p = j.pos
        try:
            pack(j.mm, j.base + p, size, kind_n, step, _now(), *ids, *values, p ^ TAG_MAGIC)
        except (OverflowError, struct.error):
            self._warn.once("overflow", "an integer value is too large for a float64; stored as +-inf")
            safe = tuple(to_float(v) for v in values)
            pack(j.mm, j.base + p, size, kind_n, step, _now(), *ids, *safe, p ^ TAG_MAGIC)
        j.pos = p + size

    def _journal_key(self, kid: int) -> None:
        """A KEY entry for a new key, before any row that uses it (read only from a dead writer's
        journal: the stream defines keys with KeyDefs records)."""
        from swanlabd_pb import records_pb2 as pb

        j = self._journal
        assert j is not None
        column = self._tables.columns.get(kid)
        section, x_axis, hidden = column if column is not None else ("", "", False)
        keydef = pb.KeyDef(
            id=kid,
            name=self._tables.key_names[kid],
            type=self._tables.key_types.get(kid, "FLOAT"),  # the enum takes its name
            section=section,
            x_axis=x_axis,
            hidden=hidden,
        ).SerializeToString()
        if self._journal_room(journal_format.aligned(len(keydef) + 16)):
            j.write(journal_format.key_entry(j.pos, keydef))

    def _journal_room(self, size: int) -> bool:
        """Room for `size` bytes in the journal: True once there is, False if the entry is refused.

        As _room for the queue: wait for the sender to ship and the daemon to ack (backpressure),
        unless the daemon's disk is full or the sender is gone; then the row is refused and counted.
        """
        j = self._journal
        assert j is not None
        if j.fits(size):
            return True
        sender = self.sender
        if sender is not None and sender.thread is not None and sender.disk_full is None:
            if self._wait_for_room(sender, lambda: j.fits(size), f"{j.pos - j.acked} bytes of rows not yet durable"):
                return True
        if sender is not None:
            why = sender.why_not_stored()
            self._refuse(sender, f"{j.pos - j.acked} bytes of rows are waiting for swanlabd ({why})")
        return False

    def _room(self) -> bool:
        """The queue is at its bound: True once the row may be queued, False if it is refused.

        A forked child starts its sender here. Otherwise log() waits until the sender has taken
        rows (backpressure), unless the daemon's disk is full: then waiting could freeze training
        for hours, so the row is refused instead, counted and said once per episode; every row
        queued before it is kept and sent once space is freed. A sender that is gone lets the
        queue grow (a journal, which cannot grow, refuses instead).
        """
        if self._limit == 0:
            self._start_child_sender()
            return True
        sender = self.sender
        if sender is None or sender.thread is None or not sender.thread.is_alive():
            return True
        if sender.disk_full is None:
            self._wait_for_room(
                sender, lambda: len(self._queue) < self._limit, f"{len(self._queue)} rows queued, not yet"
            )
            if len(self._queue) < self._limit or sender.disk_full is None:
                return True
        why = sender.disk_full
        self._refuse(sender, f"{len(self._queue)} rows are waiting for swanlabd, whose disk is full ({why})")
        return False

    def _wait_for_room(self, sender: Sender, has_room: Callable[[], bool], waiting: str) -> bool:
        """Backpressure: wake the sender and wait until `has_room()`, the sender dies or the
        daemon's disk fills up. True if there is room."""
        assert sender.thread is not None
        self._warn.once(
            "backpressure",
            "log() is waiting: %s in swanlabd (slow or restarting); nothing is dropped (warned once per run)",
            waiting,
        )
        sender.urge()
        with self._space:
            while not has_room() and sender.thread.is_alive() and sender.disk_full is None:
                self._space.wait(0.1)
        return has_room()

    def _refuse(self, sender: Sender, waiting: str) -> None:
        """log() does not store this row: count it, and say so once per episode (until rows are stored again)."""
        sender.refused += 1
        if not sender.refusing:
            sender.refusing = True
            _logger.warning(
                "swanlab_client: log() is not storing new rows of run %s: %s; they are kept and sent once it "
                "takes them, and the rows refused meanwhile are counted",
                self.run_id,
                waiting,
            )

    def _drained(self) -> None:
        # Never block here: a signal handler (SIGTERM -> finish) may run in the main thread while
        # it holds this lock inside _room(), and it waits for this very thread. The waiter polls
        # every 0.1 s anyway; the notification only saves it the wait.
        if self._space.acquire(blocking=False):
            try:
                self._space.notify_all()
            finally:
                self._space.release()

    def _console(self, tee: ConsoleTee, text: str) -> None:
        """Queue the complete lines of what was printed (called by ConsoleTee; never raises)."""
        if self._finished or self._limit == 0 or self._mode == "disabled":
            return  # a forked child that has not logged does not start a connection for prints
        lines = (tee.partial + text).split("\n")
        partial = lines.pop()
        if "\r" in partial:
            # Keep the frame a terminal shows now, and a trailing \r: what follows decides (the
            # "\n" of print(..., end="\r\n") keeps the frame, more text replaces it).
            shown = partial.rstrip("\r")
            partial = shown.rsplit("\r", 1)[-1] + partial[len(shown) :]
        # A line's first MAX_CONSOLE_LINE characters are kept, however it was written (+1: a
        # trailing \r cut off here could still be the one that ends a redrawn frame).
        tee.partial = partial[: MAX_CONSOLE_LINE + 1]
        q = self._queue
        for line in lines:
            if len(q) >= self._limit:
                self._warn.once("console-full", "console lines dropped while the queue is full (log() rows never are)")
                return
            q.append((CONSOLE, _terminal_line(line), tee.stream, _now()))

    def _flush_console(self) -> None:
        for tee in (sys.stdout, sys.stderr):
            if isinstance(tee, ConsoleTee) and tee.partial:
                self._console(tee, "\n")

    def _config_changed(self) -> None:
        """The config changed: queue one marker; the sender encodes the latest state (see _config)."""
        if self._finished or self._mode == "disabled":
            return
        self._queue.append((CONFIG, self._config.take_json, None, _now()))
        if self._limit == 0:
            self._start_child_sender()

    # -- sender, finish, fork ------------------------------------------------------------------

    def _start_request(self, create: bool) -> Any:
        """The StartRunRequest; for a create, with the import path the run's package list is read from.

        The list itself is made by whoever creates the run folder (swanlabd.local.packages): ~50 ms
        of CPU this process does not spend. Settings.Probe.requirements=False: no package list, as
        the official SDK's.
        """
        request = type(self._request)()
        request.CopyFrom(self._request)
        if create and self.settings.probe.requirements:
            request.requirements.sys_path.extend(os.path.abspath(path) for path in sys.path)
        request.config.json = self._config.to_json()
        request.pid = os.getpid()
        if self._journal is not None:
            request.journal = str(self._journal.path)
        return request

    def _start_sender(self, *, child: bool) -> None:
        # Loaded here, in the caller's thread: a fork() during an import in the sender thread
        # would leave the child a half-initialized module (grpc itself is the one exception,
        # see _transport._grpc).
        from swanlab_client import _relay, _transport  # noqa: F401 - imported to be loaded, not used here
        from swanlabd.local import spawn  # noqa: F401 - imported to be loaded, not used here

        if not child:
            self._open_journal()
        self.sender = Sender(
            queue=self._queue,
            tables=self._tables,
            start_request=self._start_request,
            connector=DaemonConnector(self.settings, child=child, log_dir=self._request.log_dir),
            settings=self.settings,
            warner=self._warn,
            attach_new_writer=child,
            on_drained=self._drained,
            on_durable=self._flushed if self._flush_hooks() else None,
            journal=self._journal,
        )
        self.sender.run_id = self.run_id
        # A child's thread must outlive its main thread to flush (see Sender.step).
        self.sender.watch_main_thread = child
        self.sender.start_thread(daemon=not child)

    def _open_journal(self) -> None:
        """The journal, next to the daemon's socket (a private folder, in memory where
        XDG_RUNTIME_DIR is set); without one, rows queue in memory as a forked child's do."""
        # With the credentials: a daemon that makes the run from it uploads it as StartRun would.
        # The file is as private as the daemon's state DB that keeps them (0600, in a 0700 folder).
        start = self._start_request(True)
        try:
            capacity = min(max(self.settings.journal_max_bytes, MIN_CAPACITY), CAPACITY) // 16 * 16
            self._journal = Journal.create(
                self.settings.socket.parent / "journals", self.run_id, capacity, start.SerializeToString()
            )
        except OSError as exc:
            self._warn.once(
                "no-journal",
                "no journal for run %s (%s): rows wait in memory until swanlabd acks them, and a kill of "
                "this process loses those",
                self.run_id,
                exc,
            )
            return
        # Schemas made before the journal (none in init(); a child's never reach here).
        for sid, ids in enumerate(self._tables.schemas):
            self._journal.add_schema(sid, ids)

    def _flush_hooks(self) -> bool:
        return any(_callbacks.wants(self._callbacks, hook) for hook in ("on_scalar_flush", "on_log_flush"))

    def _flushed(self, records: list[Any]) -> None:
        """Records swanlabd acked (sender thread): the callbacks' on_scalar_flush / on_log_flush."""
        import datetime

        def when(ms: int) -> datetime.datetime:
            return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)

        names = self._tables.key_names
        scalars: list[_callbacks.ScalarRecord] = []
        lines: list[_callbacks.LogRecord] = []
        for record in records:
            kind = record.WhichOneof("kind")
            if kind == "journal":
                record = journal_format.to_record(record)
                kind = "scalars"
            if kind == "scalars":
                rows = record.scalars
                deltas = rows.time_deltas_ms or [0] * len(rows.steps)
                i = 0
                for step, size, delta in zip(rows.steps, rows.row_sizes, deltas, strict=True):
                    t = when(record.time_ms + delta)
                    for kid, value in zip(rows.key_ids[i : i + size], rows.values[i : i + size], strict=True):
                        scalars.append(_callbacks.ScalarRecord(names[kid], step, t, _callbacks.ScalarValue(value)))
                    i += size
            elif kind == "console":
                for line in record.console.lines:
                    level = "ERROR" if line.stream == 2 else "INFO"  # pb.STDERR
                    lines.append(_callbacks.LogRecord(line.text, level, when(line.time_ms), line.line_no))
        if lines:
            _callbacks.call(self._callbacks, "on_log_flush", lines)
        if scalars:
            _callbacks.call(self._callbacks, "on_scalar_flush", scalars)

    def _continue_steps(self) -> None:
        """A run started with an id: init() waits (bounded) for the daemon's answer. A resumed run's
        automatic steps continue after its highest step, as the official SDK's do; an id that is
        another run's, not to be resumed, raises UsageError (nothing of the call was stored)."""
        sender = self.sender
        if sender is not None and sender.started.wait(self.settings.connect_timeout_s + self.settings.spawn_timeout_s):
            if sender.start_refused is not None:
                self._finished = True
                raise UsageError(
                    f"run {self.run_id} exists already and init() was not asked to resume it; "
                    "pass resume='allow' to continue it, or another id"
                ) from sender.start_refused
            self._step = max(self._step, sender.next_step)
        else:
            self._warn.once(
                "resume-steps", "run %s: no answer from swanlabd in time; automatic steps start at 0", self.run_id
            )

    def _start_child_sender(self) -> None:
        self._limit = self.settings.queue_max_rows
        self._start_sender(child=True)

    def _file_saver(self) -> FileSaver:
        if self._saver is None:
            from swanlab_client._files import FileSaver

            self._saver = FileSaver(self)
        return self._saver

    def _saved(self, path: str, size: int, sha256: str) -> None:
        """A file is in the run folder (called by the save() thread): queue its SavedFile record."""
        if self._finished or self._mode == "disabled":
            return
        self._queue.append((FILE, (path, size, sha256), None, _now()))
        if self._limit == 0:
            self._start_child_sender()

    def _finish(self, state: str, error: str | None, exit_code: int = 0) -> None:
        if self._saver is not None:
            self._saver.close(self.settings.finish_timeout_s)
        self._flush_console()
        self._finished = True
        _config.deactivate(self._config)
        try:
            self._finish_writer(state, error, exit_code)
        finally:
            _callbacks.call(self._callbacks, "on_run_finished", _FINISH_NAMES[state], error)

    def _finish_writer(self, state: str, error: str | None, exit_code: int) -> None:
        self._schema_by_keys = {}  # every later log() takes the slow path, which raises
        sender = self.sender
        if sender is None or sender.thread is None:
            return
        from swanlabd_pb import records_pb2 as pb

        # `state` is the RunState's name, which an enum field takes as it takes the number.
        sender.request_finish(pb.Finish(state=state, error=error or "", exit_code=exit_code))
        # The sender gives up by itself at finish_timeout_s; the margin covers one blocked call.
        if not sender.finished.wait(self.settings.finish_timeout_s + self.settings.ack_timeout_s):
            _logger.warning(
                "swanlab_client: finish() gave up after %.0fs with %d rows/records of run %s not confirmed "
                "durable (%s)",
                self.settings.finish_timeout_s,
                pending(sender, self._queue),
                self.run_id,
                sender.why_not_stored(),
            )
        j = self._journal
        if j is not None:
            self._journal = None
            # What the daemon did not ack stays in the file: it reads it once this process is gone.
            # The mapping stays (finish() may run in a signal handler, amid a log() writing it).
            if sender.finished.is_set() and not sender.unacked and j.acked >= j.pos:
                j.remove()

    def _forked(self) -> None:
        """In a forked child: become an idle new writer of the same run (see module docstring)."""
        # The parent's sender and journal are never touched again, nor finalized (the journal's
        # mapping is the parent's memory too: the child must not write it).
        self._leftovers.append((self.sender, self._queue, self._journal))
        self.sender = None
        self._journal = None
        self._space = threading.Condition()
        self._tables.media = MediaBudget()  # the parent's media are not this child's to wait for
        # The parent's save() and async_log() threads are not in the child, and a lock another
        # parent thread held at the fork would stay held: the child makes its own.
        self._saver = None
        self._tasks = None
        self._config.__dict__["_lock"] = threading.Lock()
        if self._finished or self._mode == "disabled":
            self._queue = SendQueue(maxlen=0) if self._mode == "disabled" else SendQueue()
            return
        self._queue = SendQueue()
        self._last = 0  # a new writer: its explicit steps are not "backwards" from the parent's
        self._limit = 0  # the next log() lands in _room(), which starts this child's sender

    def log_scalar(self, *, key: str, value: float | int, step: int | None = None) -> None:
        """log({key: value}, step), in the official SDK's keyword form."""
        self.log({key: value}, step=step)

    # -- media helpers: log({key: [Image(...)]}) in the official SDK's keyword form -----------
    log_text = _media_api.run_log_text
    log_image = _media_api.run_log_image
    log_audio = _media_api.run_log_audio
    log_video = _media_api.run_log_video
    log_echarts = _media_api.run_log_echarts
    log_html = _media_api.run_log_html
    log_object3d = _media_api.run_log_object3d
    log_molecule = _media_api.run_log_molecule


def _terminal_line(line: str) -> str:
    """What a terminal shows of one printed line: progress bars redraw it with \r (a trailing
    \r, as in "\r\n", redraws nothing), cut to MAX_CONSOLE_LINE characters."""
    if "\r" in line:
        line = line.rstrip("\r").rsplit("\r", 1)[-1]
    return line[:MAX_CONSOLE_LINE]


class ConsoleTee:
    """sys.stdout / sys.stderr for a run: writes go to the real stream, then to the run's console log.

    Installed by init() (Settings.console) and left in place afterwards: with no active run it
    only passes text through. Everything else is the wrapped stream's (`__getattr__`).
    """

    def __init__(self, stream: Any, kind: int) -> None:
        self._stream = stream
        self.stream = kind
        self.partial = ""

    def write(self, text: str) -> int:
        n = self._stream.write(text)
        run = _current
        if run is not None and type(text) is str:
            try:
                run._console(self, text)
            except Exception:  # noqa: BLE001 - printing must never fail because of the logger
                pass
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _install_console(*, stdout: bool, stderr: bool) -> None:
    from swanlabd_pb import records_pb2 as pb

    if stdout and not isinstance(sys.stdout, ConsoleTee) and sys.stdout is not None:
        sys.stdout = ConsoleTee(sys.stdout, pb.STDOUT)
    if stderr and not isinstance(sys.stderr, ConsoleTee) and sys.stderr is not None:
        sys.stderr = ConsoleTee(sys.stderr, pb.STDERR)


class DaemonConnector:
    """The real Connector: gRPC to the socket (or a relay in a forked child), spawn, fallback file."""

    def __init__(self, settings: Settings, *, child: bool, log_dir: str = "") -> None:
        self.settings = settings
        self.child = child
        self.log_dir = log_dir

    def daemon(self) -> Transport:
        s = self.settings
        if _grpc_inherited:
            from swanlab_client._relay import RelayTransport

            return RelayTransport(s.socket, connect_timeout_s=s.connect_timeout_s, ack_timeout_s=s.ack_timeout_s)
        from swanlab_client._transport import GrpcTransport

        return GrpcTransport(s.socket, connect_timeout_s=s.connect_timeout_s, ack_timeout_s=s.ack_timeout_s)

    def spawn(self) -> bool:
        from swanlabd.local.spawn import start_daemon

        return start_daemon(self.settings.socket, self.settings.data_root, self.settings.spawn_timeout_s)

    def fallback(self, run_dir: str) -> Transport | None:
        if self.child:
            return None  # the parent (or the daemon) holds the run's file: a child cannot write it
        from swanlab_client._transport import FileTransport

        if self.log_dir:
            from swanlabd.local import paths

            try:
                paths.check_log_dir(self.log_dir)
            except (ValueError, OSError):
                return None  # the daemon's check refused it too: nothing to write into
        return FileTransport(self.settings.data_root, run_dir, self.log_dir)


# -- init / log / finish --------------------------------------------------------------------------


def init(
    *,
    reinit: bool | None = None,
    log_dir: str | None = None,
    mode: str | None = None,
    workspace: str | None = None,
    project: str | None = None,
    public: bool | None = None,
    name: str | None = None,
    color: str | None = None,
    description: str | None = None,
    job_type: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    id: str | None = None,  # noqa: A002 - the official SDK's name
    resume: str | bool | None = None,
    parallel: str | None = None,
    config: Any = None,
    settings: Settings | None = None,
    callbacks: Sequence[Callback] | Callback | None = None,
    **kwargs: Any,
) -> Run:
    """Start a run; returns at once (the daemon is reached, or started, in the background).

    The official SDK's signature (keyword arguments only). Aliases it takes in **kwargs:
    `experiment_name` (name), `notes` (description), `logdir` (log_dir); `load` is the path of
    a JSON/YAML file of init() arguments, which fill what the call leaves out. Arguments win
    over `settings`/merge_settings(), which win over the environment: SWANLAB_MODE,
    SWANLAB_PROJ_NAME, SWANLAB_WORKSPACE, SWANLAB_EXP_NAME, SWANLAB_API_KEY, SWANLAB_API_HOST,
    SWANLAB_WEB_HOST (and ~/.swanlab/.netrc from `swanlab login`). `log_dir` makes the run
    folder there instead of in swanlabd's data root (the daemon checks it is the user's own);
    `parallel="shared"` means resume="allow", as in the official SDK (docs/integrations.md). A
    run already active raises UsageError, unless reinit=True, which finishes it first.
    """
    global _current
    if _current is not None and not _current._finished:
        if not reinit:
            raise UsageError(
                "`swanlab.init` requires an inactive Run. Please use `swanlab.finish()` or "
                "`swanlab.init(reinit=True)` first."
            )
        _current.finish()
    name = name or kwargs.pop("experiment_name", None)
    description = description or kwargs.pop("notes", None)
    log_dir = log_dir or kwargs.pop("logdir", None)
    load = kwargs.pop("load", None)
    for key in kwargs:
        _logger.warning("swanlab_client: init(%s=...) is not an argument of swanlab.init and is ignored", key)
    if load is not None:
        given = dict(
            mode=mode, workspace=workspace, project=project, public=public, name=name, color=color,
            description=description, job_type=job_type, group=group, tags=tags, id=id, resume=resume, config=config,
        )  # fmt: skip
        for key, value in _load_init_file(load).items():
            if key in given and given[key] is None:
                given[key] = value
        mode, workspace, project, public, name, color = (
            given[k] for k in ("mode", "workspace", "project", "public", "name", "color")
        )
        description, job_type, group, tags, id, resume, config = (
            given[k] for k in ("description", "job_type", "group", "tags", "id", "resume", "config")
        )
    settings = _settings.for_run(settings)
    runs_in = log_dir if log_dir is not None else settings.log_dir
    if parallel not in (None, "none"):
        # As the official SDK: a shared run is resumed by every process that names its id.
        resume = "allow"
    given_mode = (mode or settings.mode or os.environ.get("SWANLAB_MODE") or "").strip().lower()
    mode = _resolve_mode(given_mode or None)
    if runs_in and mode != "disabled":
        runs_in = _check_log_dir(runs_in)
    official_mode = given_mode if given_mode in ("online", "local", "offline", "disabled") else None
    sp, se, sr = settings.project, settings.experiment, settings.run
    project = _validate.check_project(
        project or sp.name or os.environ.get("SWANLAB_PROJ_NAME") or _validate.default_project(os.getcwd())
    )
    workspace = _validate.check_text(
        "workspace", workspace or sp.workspace or os.environ.get("SWANLAB_WORKSPACE") or ""
    )
    public = sp.public if public is None else public
    description = description or se.description
    group, job_type, color = group or se.group, job_type or se.job_type, color or se.color
    for field, text in (("description", description), ("group", group), ("job_type", job_type), ("color", color)):
        if text is not None:
            _validate.check_text(field, text)
    name = _validate.check_experiment_name(
        name or se.name or os.environ.get("SWANLAB_EXP_NAME") or time.strftime("run-%b%d_%H-%M-%S")
    )
    tags = _validate.check_tags(tags if tags is not None else se.tags)
    config_data = _load_config(config if config is not None else sr.config)
    from swanlabd.local.runfolder import new_run_id  # not at module level: 10 ms more for `import swanlab_client`

    id = id or sr.id  # noqa: A001 - the official SDK's name
    run_id = _validate.check_run_id(id) if id is not None else new_run_id()
    if resume is None and sr.resume != "never":
        resume = sr.resume
    by_bool = {True: "allow", False: "never", None: "allow" if id else "never"}
    resume_value = resume if isinstance(resume, str) else by_bool.get(resume, resume)
    if resume_value not in ("allow", "must", "never"):
        raise InvalidNameError(f"resume must be 'allow', 'must', 'never' or a bool, not {resume!r}")

    request = None
    web_host = ""
    if mode != "disabled":
        request, web_host = _start_request(
            run_id=run_id,
            project=project,
            workspace=workspace,
            experiment_name=name,
            description=description or "",
            tags=tags,
            group=group or "",
            job_type=job_type or "",
            mode=mode,
            resume=resume_value,
            public=public,
            color=color,
            settings=settings,
            # Symlinks resolved here: the daemon refuses a path with one on the way.
            log_dir=str(runs_in or ""),
        )
    run = Run(
        run_id=run_id,
        project=project,
        workspace=workspace,
        experiment_name=name,
        mode=mode,
        settings=settings,
        request=request,
        official_mode=official_mode,
        callbacks=_callbacks.for_run(callbacks),
        web_host=web_host,
    )
    run._config = _config.activate(config_data, run)
    _current = run
    if settings.hooks:
        _install_hooks()
    if mode != "disabled":
        proxy = settings.terminal.proxy_type
        if settings.console and proxy != "none":
            _install_console(stdout=proxy in ("all", "stdout"), stderr=proxy in ("all", "stderr"))
        run._start_sender(child=False)
        if id is not None:
            try:
                run._continue_steps()
            except UsageError:
                _current = None
                raise

    else:
        _logger.warning("swanlab_client: mode='disabled': log() validates its input and stores nothing")
    if run._callbacks:
        # As the official SDK, the callbacks see the run's settings with what init() resolved.
        settings.mode = run.mode
        settings.project.name, settings.project.workspace = project, workspace or None
        settings.run.id, settings.run.resume = run_id, resume_value
        se = settings.experiment
        se.name, se.description, se.tags, se.group, se.job_type, se.color = (
            name,
            description,
            tags,
            group,
            job_type,
            color,
        )
        run_path = f"/{project}/{run_id}"
        if mode == "cloud":
            try:
                run_path = run.path
            except ValueError:
                pass  # the cloud did not say whose workspace: the offline form, not a failed init()
        # The official SDK passes the run folder; here that is the daemon's answer (waited for, bounded).
        _callbacks.call(run._callbacks, "on_run_initialized", run.run_dir, run_path, settings=settings)
    return run


def get_run() -> Run:
    """The active run; RuntimeError (NotInitializedError) if there is none."""
    return _active_run("get_run")


def _active_run(what: str) -> Run:
    run = _current
    if run is None or run._finished:
        raise NotInitializedError(what)
    return run


def has_run() -> bool:
    """True while a run is active (between init() and finish())."""
    return _current is not None and not _current._finished


def log(data: Mapping[str, Any], step: int | None = None) -> None:
    """Queue one row for the current run; never waits on I/O, never raises for a bad key or value.

    data: {key: number}; nested dicts flatten with '/' ({"train": {"loss": 1}} -> "train/loss").
    Keys and values follow the official SDK (docs/client.md, "What log() accepts"): what it
    leaves out with an error line, log() leaves out with one warning per key, and the rest of
    the row is stored. A value may also be a media object (Image, Text...) or a list of one
    type: docs/client.md, Media. step: None = one more than the highest step logged; a bad step
    leaves the row out, with a warning. Raises only if there is no run (NotInitializedError) or
    it is finished (RunFinishedError). Daemon trouble never raises here.
    """
    run = _current
    if run is None:
        raise NotInitializedError("log")
    run.log(data, step)


def finish(state: str = "success", error: str | None = None, async_log_timeout: int | None = None) -> None:
    """Finish the current run ("success" -> FINISHED, "crashed", "aborted").

    Waits for async_log() tasks (bounded by async_log_timeout), then returns once the daemon
    holds every row durably (or, with no daemon, the run folder this process wrote itself);
    never waits on the network. Called automatically at exit. With no active run it warns and
    returns, as the official SDK does.
    """
    run = _current
    if run is None or run._finished:
        _logger.warning("swanlab_client: finish(): SwanLab Run has already finished or has not started")
        return
    run.finish(state, error, async_log_timeout)


def define_metric(
    key: str,
    *,
    x_axis: str | None = None,
    section_name: str | None = None,
    hidden: bool | None = None,
    step_sync: bool | None = None,
    overwrite: bool = False,
    **kwargs: Any,
) -> None:
    """Run.define_metric() of the current run."""
    _active_run("define_metric").define_metric(
        key, x_axis=x_axis, section_name=section_name, hidden=hidden, step_sync=step_sync, overwrite=overwrite, **kwargs
    )


def save(
    glob_str: str | bytes | os.PathLike[str], base_path: str | os.PathLike[str] | None = None, policy: str = "live"
) -> list[str]:
    """Run.save() of the current run."""
    return _active_run("save").save(glob_str, base_path, policy)


def async_log(
    func: Callable[..., Any], *args: Any, step: int | None = None, mode: str = "threading", **kwargs: Any
) -> Future[Any]:
    """Run.async_log() of the current run."""
    return _active_run("async_log").async_log(func, *args, step=step, mode=mode, **kwargs)


def _resolve_mode(mode: str | None) -> str:
    env = os.environ.get("SWANLAB_MODE")
    value = (mode or env or "cloud").strip().lower()
    value = _MODE_ALIASES.get(value, value)
    if value not in MODES:
        raise InvalidNameError(f"mode must be one of {list(MODES)}, not {mode or env!r}")
    return value


def _load_config(value: Any) -> Any:
    """init(config=...) as a dict of JSON values: a path is read as the official SDK reads it.

    InvalidNameError (a ValueError, as the official SDK's) for what is not a config.
    """
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        value = _read_json_or_yaml(path)
        if value is not None and not isinstance(value, dict):
            raise InvalidNameError(f"config file {path} must hold a mapping, not {type(value).__name__}")
    try:
        return _config.parse(value)
    except TypeError as exc:
        raise InvalidNameError(f"init(config=...): {exc}") from None


def _check_log_dir(log_dir: str | os.PathLike[str]) -> str:
    """init(log_dir=...): the real path, checked as the daemon will check it (the same user runs
    both), so a folder it would refuse raises here, at the call, as the official SDK's does."""
    from swanlabd.local import paths

    # Symlinks resolved here: the daemon refuses a path with one on the way.
    real = os.path.realpath(log_dir)
    try:
        paths.check_log_dir(real)
    except (ValueError, OSError) as exc:
        raise InvalidNameError(f"log_dir: {exc}") from None
    return real


def _read_json_or_yaml(path: Path) -> Any:
    """JSON for .json, YAML for .yaml/.yml, else JSON then YAML (the official SDK's rule).

    FileNotFoundError if it does not exist; InvalidNameError (a ValueError, as the official
    SDK's) if it cannot be parsed.
    """
    if not path.exists():
        raise FileNotFoundError(f"Config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix not in (".yaml", ".yml"):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                pass
        # Only for a YAML file: PyYAML is then the user's dependency.
        import yaml  # type: ignore[import-untyped]  # PyYAML ships no type information

        return yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error of either format
        raise InvalidNameError(f"Error parsing config file {path}: {exc}") from exc


def _load_init_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """init(load=...): a JSON/YAML file of init() arguments (the older SDKs' `load`; 0.10.3 ignores it)."""
    loaded = _read_json_or_yaml(Path(path))
    if not isinstance(loaded, dict):
        raise InvalidNameError(f"init(load={str(path)!r}) must hold a mapping of init() arguments")
    if "experiment_name" in loaded:
        loaded.setdefault("name", loaded.pop("experiment_name"))
    return loaded


def _start_request(**f: Any) -> Any:
    import socket as socketlib

    from swanlabd_pb import records_pb2 as pb
    from swanlabd_pb import service_pb2 as svc

    request = svc.StartRunRequest(
        start=pb.RunStart(
            run_id=f["run_id"],
            project=f["project"],
            workspace=f["workspace"],
            experiment_name=f["experiment_name"],
            description=f["description"],
            tags=f["tags"],
            group=f["group"],
            job_type=f["job_type"],
            mode=pb.MODE_CLOUD if f["mode"] == "cloud" else pb.MODE_OFFLINE,
            resume=f["resume"],
            start_time_ms=int(time.time() * 1000),
            pid=os.getpid(),
            hostname=socketlib.gethostname(),
            colors=[f["color"]] if f["color"] else [],
            visibility="PUBLIC" if f["public"] else "PRIVATE",
        ),
        metadata=pb.Metadata(json=json.dumps(_metadata(), sort_keys=True)),
        log_dir=f["log_dir"],
    )
    web_host = ""
    if f["mode"] == "cloud":
        from swanlabd.local import credentials

        settings: Settings = f["settings"]
        creds = credentials.resolve(settings.api_key, settings.api_host, settings.web_host)
        if not creds.api_key:
            raise LoginRequiredError(
                "mode='cloud' needs an API key: run `swanlab_client.login()` (or `swanlab login`), set "
                "SWANLAB_API_KEY, or use mode='offline' and `swanlabctl sync` later"
            )
        request.cloud.api_host, request.cloud.web_host, request.cloud.api_key = (
            creds.api_host,
            creds.web_host,
            creds.api_key,
        )
        web_host = creds.web_host
    return request, web_host


def _metadata() -> dict[str, Any]:
    import getpass
    import socket as socketlib

    uname = os.uname()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = ""
    return {
        "hostname": socketlib.gethostname(),
        "pid": os.getpid(),
        "user": user,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": " ".join((uname.sysname, uname.release, uname.machine)),  # platform.platform() reads libc: slow
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "client": "swanlab_client",
    }


# -- hooks ------------------------------------------------------------------------------------------

_hooks_installed = False


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        run = _current
        if run is not None and not run._finished:
            state = "ABORTED" if issubclass(exc_type, KeyboardInterrupt) else "CRASHED"
            text = "".join(traceback.format_exception(exc_type, exc, tb))[-4000:]
            try:
                run._finish(state, text, exit_code=1)
            except Exception:  # noqa: BLE001 - the user's traceback must still be printed
                _logger.debug("finish in excepthook failed", exc_info=True)
        previous_hook(exc_type, exc, tb)

    sys.excepthook = excepthook
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: Any) -> None:
    run = _current
    if run is not None and not run._finished:
        run._finish("ABORTED", "terminated by SIGTERM", exit_code=128 + signum)
    # Then the signal's usual effect: die by SIGTERM (exit status -15 to the parent).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _at_exit() -> None:
    run = _current
    if run is not None and not run._finished:
        run._finish("FINISHED", None)


def _after_fork_in_child() -> None:
    global _grpc_inherited
    _grpc_inherited = _grpc_inherited or "grpc" in sys.modules  # even half-imported
    run = _current
    if run is not None:
        run._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)
