"""`SwanLabLoggerCallback` for Ray Tune: one swanlabd run per trial.

    from swanlab_client.integration.ray import SwanLabLoggerCallback
    tuner = tune.Tuner(train_fn, param_space={"lr": tune.grid_search([0.01, 0.1])},
                       run_config=tune.RunConfig(callbacks=[SwanLabLoggerCallback(project="demo")]))
    tuner.fit()

As the official SDK 0.10.3's callback: each trial gets a run named after the trial, with the
trial's config (a value that is not a number as its str, or the int that str spells); each
result is logged at its `training_iteration`, nested keys joined with "/", numbers only, without
`done`, `should_checkpoint`, `config` (unless `log_config=True`) and `excludes`; the result's
`config`, `trial_id`, `experiment_tag`, `node_ip`, `experiment_id`, `hostname`, `pid` and `date`
go to the run's config, with `trial_log_path`. A trial's end finishes its run.

A process has one active run, and trials run side by side, so each trial's run lives in a Ray
actor of its own (no CPU, on the driver's node), as the official callback's do; the driver
sends it the rows in order. `api_key`, `api_key_file`, `swanlab_host` and `upload_checkpoints`
are taken and unused, as officially: the daemon holds the credentials, and no checkpoint is sent.
"""

from __future__ import annotations

import os
from numbers import Number
from typing import Any

import ray
from ray.tune.logger import LoggerCallback
from ray.tune.result import TRAINING_ITERATION
from ray.tune.utils import flatten_dict
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

import swanlab_client
from swanlab_client.integration._common import init_arguments

EXCLUDED = ("done", "should_checkpoint")
TO_CONFIG = ("trial_id", "experiment_tag", "node_ip", "experiment_id", "hostname", "pid", "date")
"""Result keys that describe the trial's process rather than measure it: config, not rows."""
UPLOAD_TIMEOUT_S = 1800
"""How long the experiment's end waits for the trials' runs to finish (Ray's sync timeout, as officially)."""


class _TrialRun:
    """One trial's run, in the Ray actor that holds it: the actor's calls run in the order sent."""

    def __init__(self, init_kwargs: dict[str, Any], trial_log_path: str | None) -> None:
        self._run = swanlab_client.init(**init_kwargs)
        self._run.config["trial_log_path"] = trial_log_path
        self._config: dict[str, Any] = {}

    def log(self, row: dict[str, Any], config: dict[str, Any]) -> None:
        if config != self._config:  # most results repeat it: no Config record for nothing new
            # The official callback passes allow_val_change=True, which 0.10.3 stores as a key.
            self._run.config.update(config, allow_val_change=True)
            self._config = config
        self._run.log(row, step=row.get(TRAINING_ITERATION))

    def finish(self) -> None:
        self._run.finish()


class SwanLabLoggerCallback(LoggerCallback):
    """Logs each Ray Tune trial into a swanlabd run of its own."""

    def __init__(
        self,
        project: str | None = None,
        workspace: str | None = None,
        api_key_file: str | None = None,
        api_key: str | None = None,
        swanlab_host: str | None = None,
        excludes: list[str] | None = None,
        log_config: bool = False,
        upload_checkpoints: bool = False,
        save_checkpoints: bool = False,
        upload_timeout: int = UPLOAD_TIMEOUT_S,
        **kwargs: Any,
    ) -> None:
        self.project = project
        self.workspace = workspace
        self.excludes = list(excludes or [])
        self.log_config = log_config
        self.upload_timeout = upload_timeout
        self.kwargs = kwargs
        self._actors: dict[Any, Any] = {}
        self._finishing: dict[Any, Any] = {}
        """A trial whose run was told to finish, by the future of that call."""

    @property
    def name(self) -> str:
        return "swanlab-integration-ray"

    def setup(self, *args: Any, **kwargs: Any) -> None:
        self.project = self.project or os.environ.get("SWANLAB_PROJ_NAME")
        if not self.project:
            raise ValueError(
                "Please pass the project name as argument or through the SWANLAB_PROJ_NAME environment variable."
            )

    def log_trial_start(self, trial: Any) -> None:
        if trial in self._actors:
            return
        config = dict(trial.config)
        config.pop("callbacks", None)
        init_kwargs = init_arguments(project=self.project, workspace=self.workspace) | {
            "name": str(trial),
            "config": plain(config),
            **self.kwargs,
        }
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        actor = ray.remote(_TrialRun).options(num_cpus=0, scheduling_strategy=here)
        self._actors[trial] = actor.remote(init_kwargs, trial.local_path)

    def log_trial_result(self, iteration: int, trial: Any, result: dict[str, Any]) -> None:
        if trial not in self._actors:
            self.log_trial_start(trial)
        row, config = self._split(plain(result))
        self._actors[trial].log.remote(row, config)

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        # A failed trial's run finishes too, as officially: its state is FINISHED.
        if trial in self._actors:
            self._finishing[trial] = self._actors[trial].finish.remote()
        self._release(timeout=0)

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        self._release(timeout=self.upload_timeout)
        # Past the timeout, or a trial that never ended: the actor goes, and swanlabd marks a
        # run whose process died crashed, as the official callback kills its actors then.
        for actor in self._actors.values():
            ray.kill(actor)
        self._actors.clear()
        self._finishing.clear()

    def _release(self, timeout: float) -> None:
        """Stop the actors whose runs have finished (within `timeout` seconds)."""
        futures = {future: trial for trial, future in self._finishing.items()}
        if not futures:
            return
        done, _ = ray.wait(list(futures), num_returns=len(futures), timeout=timeout)
        for future in done:
            trial = futures[future]
            ray.kill(self._actors.pop(trial))
            del self._finishing[trial]

    def _split(self, result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """A result as (the row to log, the config to set)."""
        excluded = [*EXCLUDED, *self.excludes, *([] if self.log_config else ["config"])]
        config = dict(result.get("config", {}))
        row = {}
        for key, value in flatten_dict(result, delimiter="/").items():
            if _under(key, excluded):
                continue
            if _under(key, TO_CONFIG):
                config[key] = value
            elif _is_number(value):
                row[key] = value
        config.pop("callbacks", None)
        return row, config


def plain(value: Any) -> Any:
    """A trial's config or result as the official callback cleans it: numbers (and one-element
    NumPy arrays) kept, containers walked, anything else as its str, or the int that str spells."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | set):
        return [plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    if _is_number(value):
        return value
    text = str(value)
    try:
        return int(text)
    except ValueError:
        return text


def _is_number(value: Any) -> bool:
    if getattr(value, "size", None) == 1 and hasattr(value, "item"):  # a one-element NumPy array
        return isinstance(value.item(), Number)
    return isinstance(value, Number)


def _under(key: str, names: list[str] | tuple[str, ...]) -> bool:
    return any(key == name or key.startswith(name + "/") for name in names)


__all__ = ["SwanLabLoggerCallback"]
