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
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swanlab_client import _validate
from swanlab_client._errors import (
    InvalidNameError,
    LoginRequiredError,
    NotInitializedError,
    RunFinishedError,
)
from swanlab_client._sender import CONFIG, CONSOLE, RunTables, Sender, Warner, pending
from swanlab_client._settings import Settings
from swanlab_client._validate import FAST_TYPES, MAX_STEP
from swanlab_client.media import _api as _media_api
from swanlab_client.media._queue import take_media
from swanlab_client.media._store import MEDIA, MediaBudget

if TYPE_CHECKING:
    from swanlab_client._transport import Transport

_logger = logging.getLogger("swanlab_client")

MODES = ("cloud", "offline", "disabled")
_MODE_ALIASES = {"online": "cloud", "local": "offline", "cloud-only": "cloud"}
MAX_CACHED_KEY_TUPLES = 4096
MAX_CONSOLE_LINE = 8192  # characters kept of one printed line
_FINISH_STATES = {"success": "FINISHED", "finished": "FINISHED", "crashed": "CRASHED", "aborted": "ABORTED"}
_now = time.time

_current: Run | None = None
# Set in a forked child if gRPC was loaded in the parent: such a process must not call into it.
_grpc_inherited = False


class Config(MutableMapping[str, Any]):
    """The run's config: a dict that also allows attribute access (`config.lr`).

    Changes after init() are sent to the daemon as a new Config record (the latest one wins).
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_run", None)

    def _changed(self) -> None:
        run = self._run
        if run is not None:
            run._config_changed()

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._changed()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._changed()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __repr__(self) -> str:
        return f"Config({self._data!r})"

    def to_json(self) -> str:
        return json.dumps(self._data, default=str)  # insertion order: the cloud shows keys in it

    def _reset(self, data: Mapping[str, Any], run: Run | None) -> None:
        object.__setattr__(self, "_run", None)
        self._data.clear()
        self._data.update(data)
        object.__setattr__(self, "_run", run)


config = Config()


class Run:
    """One run, as returned by init(). Use `swanlab_client.log` / `finish` or these methods.

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
    ) -> None:
        self.run_id = run_id
        self.project = project
        self.workspace = workspace
        self.experiment_name = experiment_name
        self.mode = mode
        self.settings = settings
        self._request = request
        self._requirements: Any = None
        self._tables = RunTables()
        self._key_ids: dict[str, int] = {}
        self._schema_ids: dict[tuple[int, ...], int] = {}
        self._schema_by_keys: dict[tuple, int] = {}
        self._step = 0  # the next automatic step
        self._last = 0  # the last step logged (a lower one is "going backwards")
        self._warn = Warner()
        self._finished = False
        self._space = threading.Condition()  # notified when the sender takes from a full queue
        self._leftovers: list[object] = []
        self.sender: Sender | None = None
        if mode == "disabled":
            self._queue: deque = deque(maxlen=0)  # validate, then drop: nothing is stored
            self._limit = sys.maxsize
        else:
            self._queue = deque()
            self._limit = settings.queue_max_rows

    def __repr__(self) -> str:
        state = "finished" if self._finished else "running"
        return (
            f"Run(run_id={self.run_id!r}, project={self.project!r}, experiment_name={self.experiment_name!r}, "
            f"mode={self.mode!r}, {state})"
        )

    # -- public ------------------------------------------------------------------------------

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
        return config

    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        """Queue one row: {key: number}, nested dicts flattened with '/'. See swanlab_client.log."""
        if step is None:
            step = self._step
            if step > MAX_STEP:
                raise ValueError(f"the next automatic step would be {step}, past the last step allowed (2**63-1)")
        elif type(step) is not int or not self._last <= step <= MAX_STEP:
            step = self._check_step(step)
        if type(data) is not dict:
            return self._log_slow(data, step)
        sid = self._schema_by_keys.get(tuple(data))
        if sid is None:
            return self._log_slow(data, step)
        values = tuple(data.values())
        if not FAST_TYPES.issuperset(map(type, values)):
            return self._log_slow(data, step)
        q = self._queue
        if len(q) < self._limit or self._room():
            q.append((step, sid, values, _now()))
        self._last = step  # a refused row's step counts too: the next row is logged where it happens
        self._step = step + 1

    def finish(self, state: str = "success", error: str | None = None) -> None:
        """Finish the run: see swanlab_client.finish."""
        if self._finished:
            return
        name = _FINISH_STATES.get(str(state).lower())
        if name is None:
            raise InvalidNameError(f"finish state must be one of {sorted(_FINISH_STATES)}, not {state!r}")
        self._finish(name, error)

    # -- the slow path -----------------------------------------------------------------------

    def _check_step(self, step: object) -> int:
        value = _validate.check_step(step)
        if value < self._last:
            self._warn.once(
                "step-backwards",
                "step went backwards (%d after %d) in run %s; the row is stored as logged (warned once per run)",
                value,
                self._last,
                self.run_id,
            )
        return value

    def _log_slow(self, data: object, step: int) -> None:
        if self._finished:
            raise RunFinishedError(self.run_id)
        if not isinstance(data, Mapping):
            raise TypeError(f"log() takes a dict of {{key: number}}, not {type(data).__name__}")
        flat = _validate.flatten(data)
        if not flat:
            return
        media = take_media(flat, self._warn.once)
        types = self._tables.key_types
        for key in [k for k in flat if types.get(self._key_ids.get(k, 0), "FLOAT") != "FLOAT"]:
            self._key_type_changed(key, "a number", flat.pop(key))
        values = tuple(_validate.number(k, v) for k, v in flat.items())
        for key, items in list(media.items()):
            kid = self._key_ids.get(key)
            if kid is not None and types.get(kid, "FLOAT") != items[0].KEY_TYPE:
                self._key_type_changed(key, type(items[0]).__name__, media.pop(key))
        q = self._queue
        if flat:
            ids = tuple(self._intern(k) for k in flat)
            sid = self._schema_ids.get(ids)
            if sid is None:
                sid = len(self._tables.schemas)
                self._tables.schemas.append(ids)
                self._schema_ids[ids] = sid
            if (
                type(data) is dict
                and len(flat) == len(data)
                and all(type(v) in FAST_TYPES for v in data.values())
                and len(self._schema_by_keys) < MAX_CACHED_KEY_TUPLES
            ):
                self._schema_by_keys[tuple(data)] = sid
            if len(q) < self._limit or self._room():
                q.append((step, sid, values, _now()))
        for key, items in media.items():
            kid = self._intern(key, items[0].KEY_TYPE)
            self._queue_media(kid, step, items)
        self._last = step
        self._step = step + 1

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
            self._tables.key_names.append(key)  # before any row using it is queued
            self._key_ids[key] = kid
        return kid

    def _room(self) -> bool:
        """The queue is at its bound: True once the row may be queued, False if it is refused.

        A forked child starts its sender here. Otherwise log() waits until the sender has taken
        rows (backpressure), unless the daemon's disk is full: then waiting could freeze training
        for hours, so the row is refused instead, counted and said once per episode; every row
        queued before it is kept and sent once space is freed.
        """
        if self._limit == 0:
            self._start_child_sender()
            return True
        sender = self.sender
        if sender is None or sender.thread is None or not sender.thread.is_alive():
            return True
        if sender.disk_full is None:
            self._warn.once(
                "backpressure",
                "log() is waiting: %d rows queued and not yet sent (swanlabd slow or restarting); "
                "nothing is dropped (warned once per run)",
                len(self._queue),
            )
            sender.wake.set()
            with self._space:
                while len(self._queue) >= self._limit and sender.thread.is_alive() and sender.disk_full is None:
                    self._space.wait(0.1)
            if len(self._queue) < self._limit or sender.disk_full is None:
                return True
        sender.refused += 1
        if not sender.refusing:
            sender.refusing = True
            _logger.warning(
                "swanlab_client: log() is not storing new rows of run %s: %d rows are waiting for swanlabd, "
                "whose disk is full (%s); they are kept and sent once space is freed, and the rows refused "
                "meanwhile are counted",
                self.run_id,
                len(self._queue),
                sender.disk_full,
            )
        return False

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
        if self._finished or self._limit == 0 or self.mode == "disabled":
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
        if self._finished or self.mode == "disabled":
            return
        self._queue.append((CONFIG, config.to_json(), None, _now()))
        if self._limit == 0:
            self._start_child_sender()

    # -- sender, finish, fork ------------------------------------------------------------------

    def _start_request(self, create: bool) -> Any:
        """The StartRunRequest; for a create, with requirements (computed once, in the sender thread)."""
        from swanlabd_pb import records_pb2 as pb

        request = type(self._request)()
        request.CopyFrom(self._request)
        if create:
            if self._requirements is None:
                self._requirements = pb.Requirements(pip=_pip_freeze())
            request.requirements.CopyFrom(self._requirements)
        request.config.json = config.to_json()
        request.pid = os.getpid()
        return request

    def _start_sender(self, *, child: bool) -> None:
        # Loaded here, in the caller's thread: a fork() during an import in the sender thread
        # would leave the child a half-initialized module (grpc itself is the one exception,
        # see _transport._grpc).
        from swanlab_client import _relay, _transport  # noqa: F401 - imported to be loaded, not used here
        from swanlabd.local import spawn  # noqa: F401 - imported to be loaded, not used here

        self.sender = Sender(
            queue=self._queue,
            tables=self._tables,
            start_request=self._start_request,
            connector=DaemonConnector(self.settings, child=child),
            settings=self.settings,
            warner=self._warn,
            attach_new_writer=child,
            on_drained=self._drained,
        )
        self.sender.run_id = self.run_id
        # A child's thread must outlive its main thread to flush (see Sender.step).
        self.sender.watch_main_thread = child
        self.sender.start_thread(daemon=not child)

    def _continue_steps(self) -> None:
        """A resumed run: automatic steps go on after the highest step it holds, as the official
        SDK's go on after the cloud's. init() waits (bounded) for the daemon's answer to know it."""
        sender = self.sender
        if sender is None:
            return
        if not sender.started.wait(self.settings.connect_timeout_s + self.settings.spawn_timeout_s):
            _logger.warning(
                "swanlab_client: run %s is resumed, but swanlabd has not said yet where its steps end; "
                "automatic steps start at 0 (pass step= to log() to place rows)",
                self.run_id,
            )
            return
        if sender.next_step > self._step:
            self._step = self._last = sender.next_step

    def _start_child_sender(self) -> None:
        self._limit = self.settings.queue_max_rows
        self._start_sender(child=True)

    def _finish(self, state: str, error: str | None, exit_code: int = 0) -> None:
        self._flush_console()
        self._finished = True
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

    def _forked(self) -> None:
        """In a forked child: become an idle new writer of the same run (see module docstring)."""
        self._leftovers.append((self.sender, self._queue))  # never touched again, never finalized
        self.sender = None
        self._space = threading.Condition()
        self._tables.media = MediaBudget()  # the parent's media are not this child's to wait for
        if self._finished or self.mode == "disabled":
            self._queue = deque(maxlen=0) if self.mode == "disabled" else deque()
            return
        self._queue = deque()
        self._last = 0  # a new writer: its explicit steps are not "backwards" from the parent's
        self._limit = 0  # the next log() lands in _room(), which starts this child's sender

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


def _install_console() -> None:
    from swanlabd_pb import records_pb2 as pb

    if not isinstance(sys.stdout, ConsoleTee) and sys.stdout is not None:
        sys.stdout = ConsoleTee(sys.stdout, pb.STDOUT)
    if not isinstance(sys.stderr, ConsoleTee) and sys.stderr is not None:
        sys.stderr = ConsoleTee(sys.stderr, pb.STDERR)


class DaemonConnector:
    """The real Connector: gRPC to the socket (or a relay in a forked child), spawn, fallback file."""

    def __init__(self, settings: Settings, *, child: bool) -> None:
        self.settings = settings
        self.child = child

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

        return FileTransport(self.settings.data_root, run_dir)


# -- init / log / finish --------------------------------------------------------------------------


def init(
    project: str | None = None,
    workspace: str | None = None,
    experiment_name: str | None = None,
    description: str | None = None,
    job_type: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    config: Mapping[str, Any] | str | None = None,
    logdir: str | None = None,
    mode: str | None = None,
    load: str | None = None,
    public: bool | None = None,
    callbacks: list[Any] | None = None,
    settings: Settings | None = None,
    color: str | None = None,
    id: str | None = None,  # noqa: A002 - the official SDK's name
    resume: str | bool | None = None,
    reinit: bool | None = None,
    **kwargs: Any,
) -> Run:
    """Start a run; returns at once (the daemon is reached, or started, in the background).

    Same signature as the official SDK's `swanlab.init`. Environment: SWANLAB_MODE,
    SWANLAB_PROJ_NAME, SWANLAB_WORKSPACE, SWANLAB_EXP_NAME, SWANLAB_API_KEY, SWANLAB_API_HOST,
    SWANLAB_WEB_HOST (and ~/.swanlab/.netrc from `swanlab login`). Arguments win over the
    environment. Not supported (a warning says so): logdir (runs live in the daemon's data
    root), load, callbacks.
    """
    global _current
    if _current is not None and not _current._finished:
        if not reinit:
            _logger.warning(
                "swanlab_client: a run is already active (%s); init() returns it (pass reinit=True for a new one)",
                _current.run_id,
            )
            return _current
        _current.finish()
    experiment_name = experiment_name or kwargs.pop("name", None)
    description = description or kwargs.pop("notes", None)
    for name, value in (("logdir", logdir), ("load", load), ("callbacks", callbacks), *kwargs.items()):
        if value:
            _logger.warning("swanlab_client: init(%s=...) is not supported and is ignored", name)
    settings = settings or Settings()
    mode = _resolve_mode(mode)
    project = _validate.check_project(
        project or os.environ.get("SWANLAB_PROJ_NAME") or _validate.default_project(os.getcwd())
    )
    workspace = _validate.check_text("workspace", workspace or os.environ.get("SWANLAB_WORKSPACE") or "")
    for field, text in (("description", description), ("group", group), ("job_type", job_type), ("color", color)):
        if text is not None:
            _validate.check_text(field, text)
    experiment_name = _validate.check_experiment_name(
        experiment_name or os.environ.get("SWANLAB_EXP_NAME") or time.strftime("run-%b%d_%H-%M-%S")
    )
    tags = _validate.check_tags(tags)
    config_data = _load_config(config)
    from swanlabd.local.runfolder import new_run_id  # not at module level: 10 ms more for `import swanlab_client`

    run_id = _validate.check_run_id(id) if id is not None else new_run_id()
    by_bool = {True: "allow", False: "never", None: "allow" if id else "never"}
    resume_value = resume if isinstance(resume, str) else by_bool.get(resume, resume)
    if resume_value not in ("allow", "must", "never"):
        raise InvalidNameError(f"resume must be 'allow', 'must', 'never' or a bool, not {resume!r}")

    request = None
    if mode != "disabled":
        request = _start_request(
            run_id=run_id,
            project=project,
            workspace=workspace,
            experiment_name=experiment_name,
            description=description or "",
            tags=tags,
            group=group or "",
            job_type=job_type or "",
            mode=mode,
            resume=resume_value,
            public=public,
            color=color,
        )
    run = Run(
        run_id=run_id,
        project=project,
        workspace=workspace,
        experiment_name=experiment_name,
        mode=mode,
        settings=settings,
        request=request,
    )
    globals()["config"]._reset(config_data, run)
    _current = run
    if settings.hooks:
        _install_hooks()
    if mode != "disabled":
        if settings.console:
            _install_console()
        run._start_sender(child=False)
        if id is not None and resume_value != "never":
            run._continue_steps()
    else:
        _logger.warning("swanlab_client: mode='disabled': log() validates its input and stores nothing")
    return run


def log(data: Mapping[str, Any], step: int | None = None) -> None:
    """Queue one row of scalars for the current run; never waits on I/O.

    data: {key: number}; nested dicts flatten with '/' ({"train": {"loss": 1}} -> "train/loss").
    A value may also be a media object (Image, Text...) or a list of one type: docs/client.md, Media.
    Numbers: int, float, bool, NumPy scalars, 0-d NumPy arrays and 0-d torch tensors; NaN and
    +-inf are kept. Anything else raises InvalidValueError (a TypeError) naming the key, and
    invalid keys raise InvalidKeyError (a ValueError); then nothing of the row is logged.
    step: None = one more than the last step; an explicit step must be an int from 0 to 2**63-1
    (ValueError past it, as for an automatic step). A step lower than the previous one is stored
    as logged, with a warning (once per run).
    Daemon trouble never raises here: the row is kept and sent (or written) later.
    """
    run = _current
    if run is None:
        raise NotInitializedError("log")
    run.log(data, step)


def finish(state: str = "success", error: str | None = None) -> None:
    """Finish the current run ("success" -> FINISHED, "crashed", "aborted").

    Returns once the daemon holds every row durably (or, with no daemon, the run folder this
    process wrote itself); never waits on the network. Called automatically at exit.
    """
    run = _current
    if run is None:
        raise NotInitializedError("finish")
    run.finish(state, error)


def _resolve_mode(mode: str | None) -> str:
    env = os.environ.get("SWANLAB_MODE")
    value = (mode or env or "cloud").strip().lower()
    value = _MODE_ALIASES.get(value, value)
    if value not in MODES:
        raise InvalidNameError(f"mode must be one of {list(MODES)}, not {mode or env!r}")
    return value


def _load_config(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            # Only for a YAML config file: PyYAML is then the user's dependency.
            import yaml  # type: ignore[import-untyped]  # PyYAML ships no type information

            loaded = yaml.safe_load(text)
        else:
            loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise InvalidNameError(f"config file {path} must hold a mapping, not {type(loaded).__name__}")
        return loaded
    raise InvalidNameError(f"config must be a dict or a path to a JSON/YAML file, not {type(value).__name__}")


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
    )
    if f["mode"] == "cloud":
        from swanlabd.local import credentials

        creds = credentials.resolve()
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
    return request


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


def _pip_freeze() -> str:
    import importlib.metadata

    lines = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")  # type: ignore[attr-defined]  # an email Message: has get(), unlike the protocol
        if name:
            lines.add(f"{name}=={dist.version}")
    return "\n".join(sorted(lines, key=str.lower)) + "\n"


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
