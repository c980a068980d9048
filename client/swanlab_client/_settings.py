"""Settings: the official SDK's fields and nested classes, plus this client's own (the daemon, bounds, timeouts).

`init(settings=Settings(...))` and `merge_settings()` override the defaults; paths default to
what swanlabd itself uses (swanlabd.local.paths: `$SWANLABD_SOCKET`, `$SWANLABD_DATA_ROOT`, then
XDG), so a client and the daemon it starts agree without configuration.

The official fields (mode, api_key, project, experiment, run, terminal, probe, ...) are either
honoured or, where this client has no equivalent, accepted with one warning per field that says
why it has no effect (`unsupported`). Nothing here imports more than the stdlib.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from swanlabd.local import paths
from swanlabd.local.limits import MAX_MESSAGE_BYTES

AUTOSTART_ENV = "SWANLAB_CLIENT_AUTOSTART"
# The largest gRPC message the daemon accepts (one definition for both sides, in
# swanlabd/local/limits.py). The client's channel uses the same limit.
DAEMON_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES
# What the sender puts in one Stream request, and in one record: far under the daemon's limit,
# so a request is never refused for its size (console lines and scalar rows are cut across
# records, records across requests).
REQUEST_MAX_BYTES = 4 * 1024 * 1024
RECORD_MAX_BYTES = 1024 * 1024


def _env_autostart() -> bool:
    return os.environ.get(AUTOSTART_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


_logger = logging.getLogger("swanlab_client")


@dataclass
class ProjectSettings:
    """Settings.Project: defaults for init(project=, workspace=, public=)."""

    name: str | None = None
    workspace: str | None = None
    public: bool = False


@dataclass
class ExperimentSettings:
    """Settings.Experiment: defaults for init(name=, color=, description=, tags=, group=, job_type=)."""

    name: str | None = None
    color: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    job_type: str | None = None


@dataclass
class RunSettings:
    """Settings.Run: defaults for init(id=, resume=, parallel=, config=); `dir`... name the run folder."""

    id: str | None = None
    resume: str = "never"
    parallel: str = "none"
    history: Path | None = None
    config: Path | None = None
    dir: str | None = None
    dir_max_length: int = 255
    dir_create_retries: int = 10


@dataclass
class TerminalSettings:
    """Settings.Terminal: which printed streams the run records, and where a long line is cut."""

    proxy_type: str = "all"  # "all", "stdout", "stderr" or "none"
    max_length: int = 1024  # the official SDK cuts console lines at this many characters (500 to 4096)


@dataclass
class WebhookSettings:
    url: str = ""
    value: str = ""
    timeout: int = 5


@dataclass
class DashboardSettings:
    host: str = "127.0.0.1"
    port: int = 5092


@dataclass
class IntegrationSettings:
    """Settings.Integration: the webhook and the local dashboard of the official SDK."""

    Webhook: ClassVar[type[WebhookSettings]] = WebhookSettings
    Dashboard: ClassVar[type[DashboardSettings]] = DashboardSettings
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)


@dataclass
class CoreSettings:
    """Settings.Core: the official SDK's own record batching and file uploads."""

    section_rule: int = 0
    record_batch: int = 10_000
    record_interval: float = 1.5
    save_split: int = 100 * 1024 * 1024
    save_size: int = 50 * 1024**3
    save_part: int = 32 * 1024 * 1024
    save_batch: int = 100
    skip_store: bool = False


@dataclass
class ProbeSettings:
    """Settings.Probe: what the official SDK collects about the host and the environment."""

    hardware: bool = True
    runtime: bool = True
    requirements: bool = True
    conda: bool = False
    git: bool = True
    swanlab: bool = True
    monitor: bool = True
    monitor_interval: int = 10
    monitor_disk_dir: Path = Path("/")


_NESTED: dict[str, type] = {
    "project": ProjectSettings,
    "experiment": ExperimentSettings,
    "run": RunSettings,
    "terminal": TerminalSettings,
    "integration": IntegrationSettings,
    "core": CoreSettings,
    "probe": ProbeSettings,
}

# Official fields this client cannot honour, and why (said once per field, when set to a non-default).
# Fields under an UNSUPPORTED prefix that are honoured all the same.
HONOURED = {"probe.requirements"}  # False: the run gets no package list
UNSUPPORTED = {
    "run.parallel": "a run is shared by the processes that log into it through swanlabd already",
    "run.history": "the run's history lives in its backup file, read by swanlabd",
    "run.dir": "swanlabd names run folders (run-<id>) so it can find and adopt them",
    "run.dir_max_length": "swanlabd names run folders",
    "run.dir_create_retries": "swanlabd creates run folders",
    "integration.webhook": "no webhook is sent",
    "integration.dashboard": "there is no local dashboard; use `swanlabctl` or the cloud",
    "core": "swanlabd batches records and uploads files itself (docs/architecture.md)",
    "probe": "swanlabd's monitor samples the host for every run (docs/daemon.md)",
    "terminal.max_length": "console lines are cut at 8,192 characters (docs/client.md)",
    "interactive": "this client never prompts: mode='cloud' without an API key raises LoginRequiredError",
}


def warn_unsupported(name: str) -> None:
    """Say once per process that the official field or argument `name` has no effect, and why."""
    if name in HONOURED:
        return
    for prefix, why in UNSUPPORTED.items():
        if name == prefix or name.startswith(prefix + "."):
            if name not in _warned:
                _warned.add(name)
                _logger.warning("swanlab_client: Settings %s has no effect here: %s", name, why)
            return


_warned: set[str] = set()


def _nested(cls: type, value: Any) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        data = dict(value)
        if cls is IntegrationSettings:
            data = {k: (_nested(WebhookSettings if k == "webhook" else DashboardSettings, v)) for k, v in data.items()}
        return cls(**data)
    raise TypeError(f"Settings: expected a {cls.__name__} or a dict, not {type(value).__name__}")


@dataclass
class Settings:
    """Client settings. Every field has a default; pass only what you change.

    Official fields: `mode`, `api_key`, `api_host`, `web_host`, `interactive`, `log_dir` and the
    nested `project`, `experiment`, `run`, `terminal`, `integration`, `core`, `probe` (classes
    `Settings.Project`, ...; a dict is accepted for each). The rest are this client's own.
    """

    Project: ClassVar[type[ProjectSettings]] = ProjectSettings
    Experiment: ClassVar[type[ExperimentSettings]] = ExperimentSettings
    Run: ClassVar[type[RunSettings]] = RunSettings
    Terminal: ClassVar[type[TerminalSettings]] = TerminalSettings
    Integration: ClassVar[type[IntegrationSettings]] = IntegrationSettings
    Core: ClassVar[type[CoreSettings]] = CoreSettings
    Probe: ClassVar[type[ProbeSettings]] = ProbeSettings

    mode: str | None = None
    """The default mode (init(mode=...) wins): "online"/"cloud", "offline"/"local", "disabled"."""
    api_key: str | None = None
    """The API key for mode="online" (else SWANLAB_API_KEY, then ~/.swanlab/.netrc)."""
    api_host: str | None = None
    """The cloud's API host (else SWANLAB_API_HOST, then the netrc's)."""
    web_host: str | None = None
    """The cloud's web host, for Run.url (else SWANLAB_WEB_HOST, then the netrc's)."""
    interactive: bool = True
    """Accepted; this client never prompts (see UNSUPPORTED)."""
    log_dir: Path | None = None
    """The folder to make run folders in (init(log_dir=...) wins); None: swanlabd's data root.
    Absolute once resolved, the user's own, not writable by others (the daemon checks)."""
    project: ProjectSettings = field(default_factory=ProjectSettings)
    experiment: ExperimentSettings = field(default_factory=ExperimentSettings)
    run: RunSettings = field(default_factory=RunSettings)
    terminal: TerminalSettings = field(default_factory=TerminalSettings)
    integration: IntegrationSettings = field(default_factory=IntegrationSettings)
    core: CoreSettings = field(default_factory=CoreSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)

    socket: Path = field(default_factory=paths.default_socket_path)
    """The daemon's Unix socket ($SWANLABD_SOCKET, else $XDG_RUNTIME_DIR/swanlab/swanlabd.sock, else
    <data root>/socket/swanlabd.sock). Nothing is sent to one that may not be the user's."""
    data_root: Path = field(default_factory=paths.default_data_root)
    """The daemon's data root ($SWANLABD_DATA_ROOT, else XDG): where an auto-started daemon logs
    (<data_root>/swanlabd.log) and where the client writes a run folder itself if no daemon can run."""
    autostart: bool = field(default_factory=_env_autostart)
    """Start `python -m swanlabd run` (detached) when nothing answers on the socket
    ($SWANLAB_CLIENT_AUTOSTART=0 turns it off, e.g. when a service manager owns the daemon)."""
    fallback: bool = True
    """When no daemon can be reached or started: write the run folder directly with swanlabd.format.backup
    (a daemon adopts it later). False: keep retrying the daemon, with log() blocking once the queue is full."""
    queue_max_rows: int = 50_000
    """Rows log() may queue before it blocks (backpressure, with a warning). While swanlabd's disk is
    full, log() does not block: past this many rows it refuses new ones (counted, with a warning)
    and keeps the queued ones for when space is freed. Memory bound: about
    queue_max_rows x (100 + 30 x scalars per row) bytes."""
    journal_max_bytes: int = 4 * 1024 * 1024
    """The journal's ring (docs/journal.md): bytes of rows log() may write before the daemon acks
    them (a row of n scalars takes 32 + 12 x n bytes, to a multiple of 16: 160 for 10). Past it,
    log() waits, or refuses rows while swanlabd's disk is full, as for the queue. At least 64 KiB
    and at most 4 MiB (a range the sender ships stays within one request)."""
    batch_max_values: int = 16_384
    """Scalars per ScalarRows record (and console lines per ConsoleLines record). A Stream request
    carries up to 16 records and at most REQUEST_MAX_BYTES (4 MiB); a record at most
    RECORD_MAX_BYTES (1 MiB)."""
    flush_interval_s: float = 0.02
    """The least time between two sends of queued records (console lines, config, media, rows of
    other threads): an append to the empty queue wakes the sender, which then waits until this
    long after its last such send, so a print per step goes in batches. It is also how often a
    forked child's sender checks that its main thread still runs."""
    journal_interval_s: float = 0.25
    """How long rows may wait in the journal before the sender ships them to the daemon (sooner
    once a quarter of the ring is used, and at finish()); an idle sender looks this often. The
    journal keeps them safe from a kill of this process meanwhile; shipping less often costs the
    training thread less, and delays the daemon's copy (live charts, acks, on_*_flush callbacks)
    by up to this much."""
    connect_timeout_s: float = 3.0
    """Bound on one attempt to reach the daemon (StartRun)."""
    spawn_timeout_s: float = 20.0
    """Bound on waiting for an auto-started daemon to accept on its socket."""
    ack_timeout_s: float = 30.0
    """A batch not acked within this time counts as a broken connection (reconnect, replay)."""
    finish_timeout_s: float = 90.0
    """Last-resort bound on finish(); normally it returns as soon as the daemon (or the fallback
    file) holds every row, without waiting on the network."""
    console: bool = True
    """Also record what the script prints (sys.stdout/sys.stderr are wrapped; the text still reaches
    the terminal) as the run's console log, as the official SDK does."""
    hooks: bool = True
    """Install atexit, sys.excepthook and SIGTERM handlers that finish the run (FINISHED, CRASHED,
    ABORTED)."""

    def __post_init__(self) -> None:
        for name, cls in _NESTED.items():
            setattr(self, name, _nested(cls, getattr(self, name)))

    def merge_settings(self, other: Settings | Mapping[str, Any]) -> None:
        """Merge `other` into these settings, in place: a dict sets only the fields it names
        (nested dicts the nested fields they name); a Settings sets the fields it changed from
        their defaults."""
        if isinstance(other, Settings):
            other = _changed(other, Settings())
        if not isinstance(other, Mapping):
            raise TypeError(f"merge_settings() takes a Settings or a dict, not {type(other).__name__}")
        for name, value in other.items():
            if name not in {f.name for f in dataclasses.fields(self)}:
                raise ValueError(f"Settings has no field {name!r}")
            if name in _NESTED and isinstance(value, Mapping):
                current = getattr(self, name)
                for sub, sub_value in value.items():
                    if not hasattr(current, sub):
                        raise ValueError(f"Settings.{name} has no field {sub!r}")
                    if name == "integration" and isinstance(sub_value, Mapping):
                        sub_value = dataclasses.replace(getattr(current, sub), **sub_value)
                    setattr(current, sub, sub_value)
            else:
                setattr(self, name, _nested(_NESTED[name], value) if name in _NESTED else value)

    def warn_unsupported(self) -> None:
        """Say, once per field, which official fields set here have no effect (init() calls it)."""
        for name in _changed_names(self, Settings()):
            warn_unsupported(name)


def _changed(settings: Settings, default: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value, base = getattr(settings, f.name), getattr(default, f.name)
        if f.name in _NESTED:
            sub = {
                g.name: getattr(value, g.name)
                for g in dataclasses.fields(value)
                if getattr(value, g.name) != getattr(base, g.name)
            }
            if sub:
                out[f.name] = sub
        elif value != base:
            out[f.name] = value
    return out


def _changed_names(settings: Settings, default: Settings) -> list[str]:
    names: list[str] = []
    for name, value in _changed(settings, default).items():
        if isinstance(value, dict):
            names.extend(f"{name}.{sub}" for sub in value)
        else:
            names.append(name)
    return names


_global = Settings()


def merge_settings(settings: Settings | Mapping[str, Any]) -> None:
    """Merge settings into the process's defaults, for every later init() (as the official SDK's)."""
    _global.merge_settings(settings)


def for_run(settings: Settings | None) -> Settings:
    """The settings of a new run: merge_settings()'s, then init(settings=...)'s."""
    result = dataclasses.replace(_global)
    for name in _NESTED:
        setattr(result, name, dataclasses.replace(getattr(_global, name)))
    if settings is not None:
        result.merge_settings(settings)
    result.warn_unsupported()
    return result
