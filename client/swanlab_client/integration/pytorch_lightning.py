"""`SwanLabLogger` for Lightning (`lightning.pytorch`, or the older `pytorch_lightning` package).

    from swanlab_client.integration.pytorch_lightning import SwanLabLogger
    trainer = Trainer(logger=SwanLabLogger(project="demo", experiment_name="fold-1"))
    trainer.fit(model, data)
    swanlab_client.finish()   # one run per fit: finish before the next fold's logger

As the official SDK 0.10.3's logger: the first use starts a run (or takes the active one),
with `FRAMEWORK: pytorch_lightning` and the tag "⚡️pytorch lightning"; `log_hyperparams`
updates the config (a callable as its name); `log_metrics` logs at the step Lightning gives
(its global step); a finished fit leaves the run open, a failed one finishes it as crashed.
Only rank 0 logs.
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import swanlab_client
from swanlab_client._run import Run
from swanlab_client.integration._common import active_run, init_arguments

try:  # the unified `lightning` package first, as the official logger; else the standalone one
    from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
    from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn
except ImportError:
    from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment
    from pytorch_lightning.utilities import rank_zero_only, rank_zero_warn

TAG = "⚡️pytorch lightning"


class SwanLabLogger(Logger):
    """A Lightning logger that logs into a swanlabd run."""

    def __init__(
        self,
        project: str | None = None,
        workspace: str | None = None,
        experiment_name: str | None = None,
        description: str | None = None,
        log_dir: str | None = None,
        logdir: str | None = None,
        mode: str | None = None,
        save_dir: str | Path | None = ".",
        tags: list[str] | None = None,
        id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
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
                id=id,
            )
            | kwargs
        )
        self._save_dir = os.fspath(save_dir) if save_dir is not None else None
        self._experiment: Run | None = None

    @property
    def name(self) -> str:
        return "swanlab-integration-pytorch-lightning"

    @property
    def version(self) -> str | None:
        run = active_run() or self._experiment
        return run.id if run is not None else None

    @property
    def save_dir(self) -> str | None:
        return self._save_dir

    @property
    def log_dir(self) -> str | None:
        return self._save_dir

    @property
    @rank_zero_experiment
    def experiment(self) -> Run:
        """The run: the one this logger started, else the active one, else a new one."""
        if self._experiment is not None:
            return self._experiment
        run = active_run()
        if run is not None:
            rank_zero_warn(
                "A swanlab run is already active: this SwanLabLogger logs into it. "
                "Call swanlab.finish() before making the logger to start a new run."
            )
        else:
            swanlab_client.config["FRAMEWORK"] = "pytorch_lightning"
            run = swanlab_client.init(**self._init_kwargs)
        self._experiment = run
        return run

    @rank_zero_only
    def update_config(self, config: Mapping[str, Any]) -> None:
        self.experiment.config.update(config)

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        self.experiment.config.update(_params_dict(params))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        self.experiment.log(dict(metrics), step=step)

    @rank_zero_only
    def log_image(self, key: str, images: list[Any], step: int | None = None, **kwargs: Any) -> None:
        self._log_media(swanlab_client.Image, key, images, step, kwargs)

    @rank_zero_only
    def log_audio(self, key: str, audios: list[Any], step: int | None = None, **kwargs: Any) -> None:
        self._log_media(swanlab_client.Audio, key, audios, step, kwargs)

    @rank_zero_only
    def log_text(self, key: str, texts: list[Any], step: int | None = None, **kwargs: Any) -> None:
        self._log_media(swanlab_client.Text, key, texts, step, kwargs)

    @rank_zero_only
    def save(self) -> None:
        """Nothing to do: every row is already on its way to swanlabd."""

    @rank_zero_only
    def finalize(self, status: str | None = None) -> None:
        # A successful fit leaves the run open, as the official logger (the script may test or
        # log more); a failed or interrupted one ends it.
        if status is not None and status != "success":
            rank_zero_warn(f"SwanLabLogger: Lightning finished with status {status!r}; the run is marked crashed")
            swanlab_client.finish(state="crashed", error=f"Closed by pytorch lightning. Status: {status}")

    def _log_media(self, media: Any, key: str, values: list[Any], step: int | None, kwargs: dict[str, Any]) -> None:
        """One media item per value; a list argument gives each item its own (caption=[...])."""
        if not isinstance(values, list):
            raise TypeError(f'Expected a list for "{key}", found {type(values).__name__}')
        for name, arg in kwargs.items():
            if len(arg) != len(values):
                raise ValueError(f"Expected {len(values)} items but only found {len(arg)} for {name}")
        items = [
            media(value, **{name: arg[i] if isinstance(arg, list | tuple) else arg for name, arg in kwargs.items()})
            for i, value in enumerate(values)
        ]
        self.log_metrics({key: items}, step)


def _params_dict(params: Mapping[str, Any] | Namespace) -> dict[str, Any]:
    """Hyperparameters as a dict; a callable (a loss class, an activation) stored as its name."""
    if isinstance(params, Namespace) or (not isinstance(params, Mapping) and hasattr(params, "__dict__")):
        params = vars(params)
    elif not isinstance(params, Mapping):
        return {}
    return {k: getattr(v, "__name__", str(v)) if callable(v) else v for k, v in params.items()}


__all__ = ["SwanLabLogger"]
