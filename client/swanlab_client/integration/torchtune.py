"""`SwanLabLogger`, a torchtune metric logger that logs into a swanlabd run.

    # in a torchtune recipe's config
    metric_logger:
      _component_: swanlab_client.integration.torchtune.SwanLabLogger   # swanlab.integration... under exec
      project: demo
      experiment_name: llama-lora
      log_dir: ${output_dir}

As the official SDK 0.10.3's logger (torchtune's MetricLoggerInterface): on rank 0, building it
starts a run (project "torchtune" unless given, the tag "torchtune", any other keyword passed on
to init(), `dir` being another name of `log_dir`) and sets `FRAMEWORK: torchtune` in its config;
`log_config(cfg)` adds the recipe's config, resolved to plain values; `log(name, value, step)`
and `log_dict(payload, step)` log at the step given; `close()` finishes the run. The other ranks
log nothing. The interface is torchtune.training's (0.3 and later) or torchtune.utils's (0.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.distributed

import swanlab_client
from swanlab_client.integration._common import active_run, init_arguments

try:  # torchtune 0.3 and later
    from torchtune.training.metric_logging import MetricLoggerInterface
except ImportError:  # torchtune 0.2
    from torchtune.utils.metric_logging import MetricLoggerInterface


class SwanLabLogger(MetricLoggerInterface):
    """Logs a torchtune recipe's metrics and config into a run it starts on rank 0."""

    def __init__(
        self,
        project: str = "torchtune",
        workspace: str | None = None,
        experiment_name: str | None = None,
        description: str | None = None,
        mode: str | None = None,
        log_dir: str | None = None,
        logdir: str | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.log_dir = kwargs.pop("dir", log_dir if log_dir is not None else logdir)
        self.rank = _rank()
        # Passed to init() as given, and to config.update() by log_config(), where the official
        # SDK 0.10.3 stores it as a config key (allow_val_change: false unless given).
        self.config_allow_val_change = kwargs.get("allow_val_change", False)
        if self.rank == 0:
            swanlab_client.init(
                **init_arguments(
                    project=project,
                    workspace=workspace,
                    experiment_name=experiment_name,
                    description=description,
                    mode=mode,
                    log_dir=self.log_dir,
                    tags=tags,
                    tag="torchtune",
                    **kwargs,
                )
            )
            swanlab_client.config["FRAMEWORK"] = "torchtune"

    @property
    def name(self) -> str:
        return "swanlab-integration-torchtune"

    def update_config(self, config: Mapping[str, Any]) -> None:
        if self.rank == 0:
            swanlab_client.config.update(dict(config))

    def log_config(self, config: Any) -> None:
        """The recipe's config (an OmegaConf DictConfig or a dict), interpolations resolved."""
        run = active_run()
        if self.rank != 0 or run is None:
            return
        resolved = plain_config(config)
        if resolved is not None:
            run.config.update(resolved, allow_val_change=self.config_allow_val_change)

    def log(self, name: str, data: Any, step: int) -> None:
        if self.rank == 0:
            swanlab_client.log({name: data}, step=step)

    def log_dict(self, payload: Mapping[str, Any], step: int) -> None:
        if self.rank == 0:
            swanlab_client.log(dict(payload), step=step)

    def close(self) -> None:
        if self.rank == 0 and active_run() is not None:
            swanlab_client.finish()


def plain_config(config: Any) -> dict[str, Any] | None:
    """A dict as it is; an OmegaConf config as plain containers, interpolations resolved; else None."""
    if config is None:
        return None
    if isinstance(config, dict):
        return dict(config)
    try:
        from omegaconf import OmegaConf

        resolved = OmegaConf.to_container(config, resolve=True)
    except Exception:  # not an OmegaConf config, or one that does not resolve: nothing is logged
        return None
    return {str(key): value for key, value in resolved.items()} if isinstance(resolved, dict) else None


def _rank() -> int:
    """This process's rank in the default process group, 0 outside one (torchtune's own rule)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


__all__ = ["SwanLabLogger"]
