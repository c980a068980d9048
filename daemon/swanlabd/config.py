"""The daemon's configuration (pydantic settings).

Precedence, highest first: command-line flags, environment variables (`SWANLABD_*`), the TOML
file, defaults. See docs/configuration.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from swanlabd import paths


class DaemonConfig(BaseSettings):
    """Every setting of swanlabd, with its default."""

    model_config = SettingsConfigDict(env_prefix="SWANLABD_", extra="forbid")

    socket: Path = Field(default_factory=paths.default_socket_path, description="Unix socket the daemon serves on.")
    home: Path = Field(default_factory=paths.default_data_root, description="Data root: run folders and the state DB.")
    fsync: Literal["group", "always"] = Field(
        default="group", description="`group`: fsync at most every fsync_interval_ms; `always`: before every ack."
    )
    fsync_interval_ms: int = Field(default=1000, gt=0, le=60_000, description="Group-commit interval.")
    forward: bool = Field(default=True, description="Upload runs in cloud mode to the SwanLab cloud.")
    monitor_interval_s: float = Field(default=10.0, ge=0, description="Hardware sampling period; 0 turns it off.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")
    log_file: Path | None = Field(default=None, description="Daemon log file; unset: stderr.")
    shutdown_timeout_s: float = Field(default=10.0, gt=0, description="Bound on a clean shutdown.")
