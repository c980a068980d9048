"""The daemon's configuration (pydantic settings), and where it comes from.

Precedence, highest first (docs/configuration.md):

1. command-line flags of `swanlabd run` / `swanlabd config` (`--fsync always`, ...);
2. environment variables `SWANLABD_<KEY>` (`SWANLABD_FSYNC=always`; an empty value counts as unset);
3. the TOML file: `--config PATH` (or `$SWANLABD_CONFIG`) if given, and only that file; otherwise
   the user file `$XDG_CONFIG_HOME/swanlabd/config.toml` (default `~/.config/...`) over the
   system file `/etc/swanlabd/config.toml`, key by key;
4. the defaults below.

Invalid configuration raises `ConfigError`, whose one-line message names the key, where the bad
value came from and what was expected; `swanlabd` prints it and exits 2 before it binds anything.

`DaemonConfig(...)` on its own reads keyword arguments and the environment only (handy in tests).
Commands read all sources: `add_arguments(parser)` adds `--config` and the flags, then
`load_from_args(args)` merges them (cmd_run prints a ConfigError's line and exits 2).
"""

from __future__ import annotations

import argparse
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
import pydantic
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from swanlabd.local import paths

ENV_PREFIX = "SWANLABD_"
CONFIG_ENV = "SWANLABD_CONFIG"
SYSTEM_CONFIG_PATH = Path("/etc/swanlabd/config.toml")
# Earlier names of keys, still accepted in files, the environment (SWANLABD_HOME) and flags
# (--home); the current name wins where both are given.
OLD_NAMES = {"home": "data_root", "forward": "upload"}


class DaemonConfig(BaseSettings):
    """Every setting of swanlabd, with its default."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", env_ignore_empty=True)

    socket: Path = Field(default_factory=paths.default_socket_path, description="Unix socket the daemon serves on.")
    data_root: Path = Field(
        default_factory=paths.default_data_root, description="Data root: run folders and the state DB."
    )
    fsync: Literal["group", "always"] = Field(
        default="group", description="`group`: fsync at most every fsync_interval_ms; `always`: before every ack."
    )
    fsync_interval_ms: int = Field(default=1000, gt=0, le=60_000, description="Group-commit interval.")
    upload: bool = Field(default=True, description="Upload runs in cloud mode to the SwanLab cloud.")
    monitor_interval_s: float = Field(default=10.0, ge=0, description="Hardware sampling period; 0 turns it off.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Daemon log level.")
    log_file: Path | None = Field(default=None, description="Daemon log file; unset: stderr (journald).")
    log_format: Literal["text", "json"] = Field(
        default="text", description="`text`: logfmt `key=value` lines; `json`: one JSON object per line."
    )
    shutdown_timeout_s: float = Field(default=10.0, gt=0, description="Bound on a clean shutdown.")

    @field_validator("log_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `log_file = ""` in a file or `--log-file ""` mean "no file", not the current directory.
        return None if value == "" else value

    @field_validator("socket", "data_root", "log_file", mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # A daemon outlives the directory it was started from: resolve relative paths once.
        return None if value is None else Path(os.path.abspath(value.expanduser()))

    @field_validator("socket", mode="after")
    @classmethod
    def _fits_sun_path(cls, value: Path) -> Path:
        if len(os.fsencode(value)) > paths.MAX_SOCKET_PATH_BYTES:
            raise ValueError("socket path too long")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class ConfigError(ValueError):
    """Invalid configuration: `key` (or None for a whole file), where it came from, what was expected."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.source = source


@dataclass(frozen=True)
class Loaded:
    """The effective configuration, the source that won for every key set anywhere, the files read."""

    config: DaemonConfig
    sources: Mapping[str, str]
    files: tuple[Path, ...]


def user_config_path() -> Path:
    """`$XDG_CONFIG_HOME/swanlabd/config.toml`, else `~/.config/swanlabd/config.toml`."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config_home) / "swanlabd" / "config.toml"


def default_config_files() -> list[Path]:
    """The files read when no `--config` is given, lowest precedence first."""
    return [SYSTEM_CONFIG_PATH, user_config_path()]


def env_var(key: str) -> str:
    """The environment variable of a key: `fsync_interval_ms` -> `SWANLABD_FSYNC_INTERVAL_MS`."""
    return ENV_PREFIX + key.upper()


def flag(key: str) -> str:
    """The command-line flag of a key: `fsync_interval_ms` -> `--fsync-interval-ms`."""
    return "--" + key.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--config PATH` and one flag per key (`--fsync-interval-ms N`, ...) to a command."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help=f"read only this TOML file (default: {SYSTEM_CONFIG_PATH}, then {user_config_path()})",
    )
    group = parser.add_argument_group("configuration (overrides the environment and the file)")
    for key, field in DaemonConfig.model_fields.items():
        # Values stay strings here: pydantic validates them exactly as it does env values, so a
        # bad flag gets the same message as a bad file or environment entry.
        help_text = f"{field.description} Accepts {describe_expected(key)}; env {env_var(key)}."
        old = [flag(name) for name, new in OLD_NAMES.items() if new == key]
        group.add_argument(flag(key), *old, dest=f"cfg_{key}", metavar="VALUE", help=help_text.replace("%", "%%"))


def load_from_args(args: argparse.Namespace) -> Loaded:
    """`load_config` with the `--config` file and flags that `add_arguments` parsed."""
    flags = {key: getattr(args, f"cfg_{key}") for key in DaemonConfig.model_fields}
    return load_config(config_file=args.config, flags={k: v for k, v in flags.items() if v is not None})


def load_config(
    *,
    config_file: Path | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Loaded:
    """Merge files, `os.environ` and flags (see the module docstring); raise `ConfigError`."""
    environ = os.environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if config_file is None and environ.get(CONFIG_ENV):
        config_file = Path(environ[CONFIG_ENV])
    if config_file is not None:
        if not config_file.exists():
            raise ConfigError(f"config file {config_file}: no such file", source=str(config_file))
        files = [config_file]
    else:
        files = [path for path in default_config_files() if path.is_file()]
    for path in files:
        data = _read_toml(path)
        for key, value in data.items():
            if key in OLD_NAMES and OLD_NAMES[key] in data:
                continue
            values[OLD_NAMES.get(key, key)], sources[OLD_NAMES.get(key, key)] = value, f"file {path}"
    for key in DaemonConfig.model_fields:
        names = [env_var(key), *(env_var(old) for old, new in OLD_NAMES.items() if new == key)]
        name = next((name for name in names if environ.get(name)), None)
        if name is not None:
            values[key], sources[key] = environ[name], f"environment variable {name}"
    for key, value in (flags or {}).items():
        key = OLD_NAMES.get(key, key)
        values[key], sources[key] = value, f"flag {flag(key)}"
    try:
        # Everything is passed explicitly, so the settings' own environment reading changes nothing.
        config = DaemonConfig(**values)
    except pydantic.ValidationError as exc:
        raise _config_error(exc, values, sources) from None
    return Loaded(config=config, sources=sources, files=tuple(files))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}", source=f"file {path}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it: {exc.strerror}", source=f"file {path}") from None
    for key in data:
        if key not in DaemonConfig.model_fields and key not in OLD_NAMES:
            raise ConfigError(
                f"invalid configuration: unknown key {key!r} in file {path} "
                f"(known keys: {', '.join(DaemonConfig.model_fields)})",
                key=key,
                source=f"file {path}",
            )
    return data


def _config_error(exc: pydantic.ValidationError, values: Mapping[str, Any], sources: Mapping[str, str]) -> ConfigError:
    parts = []
    first_key = None
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else "?"
        first_key = first_key or key
        source = sources.get(key, "default")
        if error["type"] == "extra_forbidden":
            parts.append(f"unknown key {key!r} ({source}; known keys: {', '.join(DaemonConfig.model_fields)})")
            continue
        parts.append(f"{key} = {_show(values.get(key))} ({source}): expected {describe_expected(key)}")
    return ConfigError("invalid configuration: " + "; ".join(parts), key=first_key, source=sources.get(first_key or ""))


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 80 else text[:77] + "..."


def describe_expected(key: str) -> str:
    """What a key accepts, in words, from its type and constraints (`an integer > 0 and <= 60000`)."""
    field = DaemonConfig.model_fields[key]
    annotation = field.annotation
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        annotation = members[0]
    if typing.get_origin(annotation) is Literal:
        text = "one of " + ", ".join(str(v) for v in typing.get_args(annotation))
    elif annotation is bool:
        text = "true or false"
    elif annotation is int:
        text = "an integer"
    elif annotation is float:
        text = "a number"
    elif annotation is Path:
        text = f"a path of at most {paths.MAX_SOCKET_PATH_BYTES} bytes" if key == "socket" else "a path"
    else:
        text = f"a {getattr(annotation, '__name__', annotation)}"
    bounds = []
    for meta in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            if isinstance(meta, getattr(annotated_types, attr.capitalize())):
                bounds.append(f"{sign} {getattr(meta, attr)}")
    if bounds:
        text += " " + " and ".join(bounds)
    return text + (" (or empty for none)" if optional else "")


def effective_items(loaded: Loaded) -> list[tuple[str, Any, str]]:
    """(key, value, source) for every key, secrets masked, in declaration order (`swanlabd config`)."""
    dumped = loaded.config.model_dump()
    return [(key, mask(key, dumped[key]), loaded.sources.get(key, "default")) for key in DaemonConfig.model_fields]


SECRET_WORDS = ("key", "token", "password", "secret")


def mask(key: str, value: Any) -> Any:
    """Hide secrets in printed configuration: any key naming a secret, any SecretStr."""
    if isinstance(value, pydantic.SecretStr) or (value and any(word in key for word in SECRET_WORDS)):
        return "********"
    return value
