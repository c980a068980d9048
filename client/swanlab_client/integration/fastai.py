"""`SwanLabCallback` for fastai's `Learner(..., cbs=[...])`.

    from swanlab_client.integration.fastai import SwanLabCallback
    learn = tabular_learner(dls, metrics=mae, cbs=SwanLabCallback(project="demo"))
    learn.fit_one_cycle(2)
    swanlab_client.finish()

As the official SDK 0.10.3's callback: at fit start it starts a run (or takes the active one),
tagged "fastai", with `config` and `FRAMEWORK: fastai`, and adds what the fit is made of: the
Learner, each other callback (its stored arguments, else true), the inputs' count and shapes,
then the batch size, batches per epoch, parameter count, device, freezing and transforms, up to
the first of these the Learner lacks. Each training batch logs `train/loss`, `train/step` and
every optimizer hyper-parameter as `train/<name>_<param group>` at step = the batch count; each
epoch end logs the Recorder's values (`epoch`, `train_loss`, `valid_loss`, the metrics) as
`epoch/<name>` at step = the epoch.
"""

from __future__ import annotations

from typing import Any

from fastai.callback.core import Callback as FastaiCallback
from fastai.callback.hook import total_params
from fastcore.basics import detuplify

import swanlab_client
from swanlab_client.integration._common import active_run, init_arguments

TAG = "fastai"


class SwanLabCallback(FastaiCallback):
    """A fastai callback that logs a Learner's fits into a swanlabd run.

    Its order is fastai's default (0), before the Recorder's (50): an epoch's values are read
    before the Recorder adds the epoch's duration, which is not logged, as officially.
    """

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
        config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
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
        self._pending_config = dict(config or {})
        self._run_seen: Any = None
        self._batches = 0

    @property
    def name(self) -> str:
        return "swanlab-integration-fastai"

    def update_config(self, config: dict[str, Any]) -> None:
        run = active_run()
        if run is None:
            self._pending_config.update(config)
        else:
            run.config.update(config)

    def before_fit(self) -> None:
        run = active_run()
        if run is None:
            run = swanlab_client.init(config=self._pending_config or None, **self._init_kwargs)
            self._pending_config = {}
        if run is not self._run_seen:  # once per run: the framework, and what update_config() held
            self._run_seen = run
            run.config.update({"FRAMEWORK": "fastai", **self._pending_config})
            self._pending_config = {}
        run.config.update(_format(_fit_config(self)))

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.training:
            return
        self._batches += 1
        row: dict[str, Any] = {"train/loss": learn.loss.item(), "train/step": self._batches}
        for group, hypers in enumerate(learn.opt.hypers):
            row.update({f"train/{name}_{group}": value for name, value in hypers.items()})
        swanlab_client.log(row, step=self._batches)

    def after_epoch(self) -> None:
        recorder = self.learn.recorder
        # Not strict: the last name's value, the epoch's duration, is not in the log yet (see the class).
        values = zip(recorder.metric_names, recorder.log, strict=False)
        row = {f"epoch/{name}": value for name, value in values if value is not None}
        if row:
            swanlab_client.log(row, step=self.learn.epoch)


def _fit_config(callback: SwanLabCallback) -> dict[str, Any]:
    """What the official callback records of a fit, read from its Learner."""
    learn = callback.learn
    dls = learn.dls
    config: dict[str, Any] = {"Learner": learn}
    config.update(
        {type(other).__name__: getattr(other, "__stored_args__", True) for other in learn.cbs if other is not callback}
    )
    try:  # DataLoaders that are not fastai's TfmdDL have no n_inp: no input shapes then
        n_inp = dls.train.n_inp
        config["n_inp"] = n_inp
        batch = dls.valid.one_batch()[:n_inp]
        config.update(
            {
                f"input {n + 1} dim {i + 1}": size
                for n in range(n_inp)
                for i, size in enumerate(detuplify(batch[n]).shape)
            }
        )
    except Exception:
        pass
    facts = (
        ("batch_size", lambda: dls.bs),
        ("batch_per_epoch", lambda: len(dls.train)),
        ("model_parameters", lambda: total_params(learn.model)[0]),
        ("device", lambda: dls.device.type),
        ("frozen", lambda: bool(learn.opt.frozen_idx)),
        ("frozen_idx", lambda: learn.opt.frozen_idx),
        ("dataset/tfms", lambda: f"{dls.dataset.tfms}"),
        ("dls/after_item", lambda: f"{dls.after_item}"),
        ("dls/before_batch", lambda: f"{dls.before_batch}"),
        ("dls/after_batch", lambda: f"{dls.after_batch}"),
    )
    for key, read in facts:
        try:
            config[key] = read()
        except Exception:
            break  # the official callback reads them in one block: the first one missing ends it
    return config


def _format(config: dict[str, Any]) -> dict[str, Any]:
    """Nested dicts key by key, other values by _format_value, as the official callback formats them."""
    return {key: _format(value) if isinstance(value, dict) else _format_value(value) for key, value in config.items()}


def _format_value(value: Any) -> Any:
    """A list item by item; a fastai object with stored arguments as those, named by its str()."""
    if isinstance(value, list):
        return [_format_value(item) for item in value]
    if hasattr(value, "__stored_args__"):
        return {**_format(value.__stored_args__), "_name": str(value)}
    return value


__all__ = ["SwanLabCallback"]
