"""`add_swanlab_callback(model)` for Ultralytics YOLO's `model.train(...)`.

    from swanlab_client.integration.ultralytics import add_swanlab_callback
    model = add_swanlab_callback(YOLO("yolov8n.yaml"), project="demo")
    model.train(data="data.yaml", epochs=3)
    swanlab_client.finish()

As the official SDK 0.10.3's callbacks: at the trainer's start a run is started (tagged
"ultralytics", with `FRAMEWORK: ultralytics`) unless one is active, and the trainer's arguments
go into its config. At step = epoch + 1: each training epoch's losses (`train/box_loss`...) and
learning rates (`lr/pg0`...); each fit epoch's validation metrics (`metrics/mAP50(B)`,
`val/box_loss`...), the first epoch's model size and speed (`model/parameters`, `model/GFLOPs`,
`model/speed_PyTorch(ms)`), and the plots made since, as lists of images (`Train/Plots`,
`Train/ValPlots`; at the end of training `TrainEnd/Plots`, `TrainEnd/ValPlots`; the second
epoch's training batches as `Plots`). The final validation of the best weights runs at step
epochs + 1; a fit epoch that ends a second time at one step logs `FinalValBestModel/<metric>`.
`return_swanlab_callback()` gives the callbacks as a dict, for Ultralytics'
`add_integration_callbacks` (DDP workers).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ultralytics.utils.torch_utils import model_info_for_loggers

import swanlab_client
from swanlab_client.integration._common import active_run, init_arguments

TAG = "ultralytics"


class SwanLabCallback:
    """Ultralytics trainer callbacks that log a YOLO training into a swanlabd run."""

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
        **kwargs: Any,
    ) -> None:
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
        self._run_seen: Any = None
        self._fit_ends: Counter[int] = Counter()
        self._plots_logged: dict[Path, float] = {}  # plot file -> the timestamp logged

    @property
    def name(self) -> str:
        return "swanlab-integration-ultralytics"

    def on_pretrain_routine_start(self, trainer: Any) -> None:
        run = active_run()
        if run is None:
            run = swanlab_client.init(**self._init_kwargs)
            run.config["FRAMEWORK"] = "ultralytics"  # officially, only a run the callback starts has it
        if run is not self._run_seen:  # a new run counts its steps and plots anew
            self._run_seen = run
            self._fit_ends.clear()
            self._plots_logged.clear()
        run.config.update(vars(trainer.args))

    def on_train_epoch_end(self, trainer: Any) -> None:
        if active_run() is None:
            return
        step = trainer.epoch + 1
        swanlab_client.log(trainer.label_loss_items(trainer.tloss, prefix="train"), step=step)
        swanlab_client.log(trainer.lr, step=step)
        if trainer.epoch == 1:  # by then the first epoch's training-batch plots are made
            self._log_plots(trainer.plots, step, "Plots")

    def on_fit_epoch_end(self, trainer: Any) -> None:
        if active_run() is None:
            return
        step = trainer.epoch + 1
        self._fit_ends[step] += 1
        if self._fit_ends[step] == 2:
            swanlab_client.log({f"FinalValBestModel/{key}": value for key, value in trainer.metrics.items()}, step=step)
        else:
            swanlab_client.log(trainer.metrics, step=step)
        self._log_plots(trainer.plots, step, "Train/Plots")
        self._log_plots(trainer.validator.plots, step, "Train/ValPlots")
        if trainer.epoch == 0:
            swanlab_client.log(model_info_for_loggers(trainer), step=step)

    def on_train_end(self, trainer: Any) -> None:
        step = trainer.epoch + 1
        self._log_plots(trainer.plots, step, "TrainEnd/Plots")
        self._log_plots(trainer.validator.plots, step, "TrainEnd/ValPlots")

    def _log_plots(self, plots: dict[Path, dict[str, Any]], step: int, key: str) -> None:
        """The plots (file -> {"timestamp": ...}) not logged yet in their current version, as one list."""
        if active_run() is None:
            return
        images = []
        for path, plot in list(plots.items()):
            if self._plots_logged.get(path) != plot["timestamp"]:
                images.append(swanlab_client.Image(str(path), caption=path.stem))
                self._plots_logged[path] = plot["timestamp"]
        if images:
            swanlab_client.log({key: images}, step=step)


def add_swanlab_callback(
    model: Any,
    *,
    project: str | None = None,
    workspace: str | None = None,
    experiment_name: str | None = None,
    description: str | None = None,
    log_dir: str | None = None,
    logdir: str | None = None,
    mode: str | None = None,
    tags: list[str] | None = None,
    **kwargs: Any,
) -> Any:
    """Adds SwanLab's callbacks to a YOLO model (`model.add_callback`) and returns the model."""
    callback = SwanLabCallback(
        project=project,
        workspace=workspace,
        experiment_name=experiment_name,
        description=description,
        log_dir=log_dir,
        logdir=logdir,
        mode=mode,
        tags=tags,
        **kwargs,
    )
    for event, handler in _handlers(callback).items():
        model.add_callback(event, handler)
    return model


def return_swanlab_callback(
    *,
    project: str | None = None,
    workspace: str | None = None,
    experiment_name: str | None = None,
    description: str | None = None,
    log_dir: str | None = None,
    logdir: str | None = None,
    mode: str | None = None,
    tags: list[str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """SwanLab's callbacks by trainer event, for Ultralytics' `add_integration_callbacks`."""
    callback = SwanLabCallback(
        project=project,
        workspace=workspace,
        experiment_name=experiment_name,
        description=description,
        log_dir=log_dir,
        logdir=logdir,
        mode=mode,
        tags=tags,
        **kwargs,
    )
    return _handlers(callback)


def _handlers(callback: SwanLabCallback) -> dict[str, Any]:
    """The trainer events SwanLab's callback handles, with its handlers."""
    return {
        "on_pretrain_routine_start": callback.on_pretrain_routine_start,
        "on_train_epoch_end": callback.on_train_epoch_end,
        "on_fit_epoch_end": callback.on_fit_epoch_end,
        "on_train_end": callback.on_train_end,
    }


__all__ = ["SwanLabCallback", "add_swanlab_callback", "return_swanlab_callback"]
