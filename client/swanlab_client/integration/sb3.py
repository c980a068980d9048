"""`SwanLabCallback` for Stable-Baselines3's `model.learn(..., callback=...)`.

    from swanlab_client.integration.sb3 import SwanLabCallback
    PPO("MlpPolicy", env).learn(total_timesteps=2048, callback=SwanLabCallback(project="demo"))

As the official SDK 0.10.3's callback: at training start it starts a run (or takes the active
one) with `FRAMEWORK: stable_baselines3`, the tag "stable_baselines3", and the model's plain
attributes as config (`algo`, `learning_rate`, `gamma`..., `net_arch`); then every value SB3's
logger dumps (`rollout/ep_rew_mean`, `train/loss`, `time/fps`...) is logged at SB3's step
(the timestep count), beside the logger's own outputs.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger

import swanlab_client
from swanlab_client.integration._common import active_run, init_arguments

TAG = "stable_baselines3"


class _SwanLabOutput(KVWriter):
    """An SB3 logger output that logs each dump's numbers (booleans left out, as officially)."""

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        row = {}
        for key, value in key_values.items():
            if isinstance(value, bool):
                continue
            try:
                row[key] = float(value)  # NumPy float32 means (train/approx_kl) as plain floats
            except (TypeError, ValueError):
                continue  # text, video and figure values: not numbers
        if row and active_run() is not None:
            swanlab_client.log(row, step=step)

    def close(self) -> None:
        """Nothing to close: the run is the script's."""


class SwanLabCallback(BaseCallback):
    """Logs an SB3 training into a swanlabd run."""

    def __init__(
        self,
        *,
        project: str | None = None,
        workspace: str | None = None,
        experiment_name: str | None = None,
        description: str | None = None,
        log_dir: str | None = None,
        logdir: str | None = None,
        mode: str | None = None,
        tags: list[str] | None = None,
        verbose: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(verbose=verbose)
        kwargs.pop("callbacks", None)
        self._init_kwargs = (
            init_arguments(
                project=project,
                workspace=workspace,
                experiment_name=experiment_name,
                description=description,
                log_dir=log_dir,
                logdir=logdir,
                mode=mode,
                tags=tags,
                tag=TAG,
            )
            | kwargs
        )
        self._pending_config: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return "swanlab-integration-sb3"

    def update_config(self, config: dict[str, Any]) -> None:
        run = active_run()
        if run is None:
            self._pending_config.update(config)
        else:
            run.config.update(config)

    def _on_training_start(self) -> None:
        run = active_run()
        if run is None:
            run = swanlab_client.init(**self._init_kwargs)
        run.config.update({"FRAMEWORK": "stable_baselines3", **self._pending_config, **_model_config(self.model)})
        self._pending_config = {}
        # SB3's own outputs (stdout, csv...) stay: ours is added beside them.
        outputs = [_SwanLabOutput(), *getattr(self.model.logger, "output_formats", [])]
        self.model.set_logger(Logger(folder=None, output_formats=outputs))

    def _on_step(self) -> bool:
        return True


def _model_config(model: Any) -> dict[str, Any]:
    """The model's public plain attributes (a class or function as its name), as the official callback."""
    config: dict[str, Any] = {"algo": type(model).__name__}
    for key, value in vars(model).items():
        if key.startswith("_"):
            continue
        if isinstance(value, float | int | str | bool):
            config[key] = value
        elif hasattr(value, "__name__"):
            config[key] = value.__name__
    policy = getattr(model, "policy", None)
    if policy is not None and hasattr(policy, "net_arch"):
        config["net_arch"] = str(policy.net_arch)
    return config


__all__ = ["SwanLabCallback"]
