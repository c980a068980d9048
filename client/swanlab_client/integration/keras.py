"""`SwanLabCallback` (also `SwanLabLogger`) for Keras 3's `model.fit(..., callbacks=[...])`.

    from swanlab_client.integration.keras import SwanLabCallback
    model.fit(x, y, epochs=3, callbacks=[SwanLabCallback(project="demo", log_freq="batch")])

As the official SDK 0.10.3's callback: the first log starts a run (or takes the active one) with
`FRAMEWORK: keras` and `config`; at each epoch end `epoch/<metric>`, `epoch/epoch` and
`epoch/learning_rate` at step = the epoch; with `log_freq="batch"` (or every n batches)
`batch/<metric>`, `batch/batch_step` and `batch/learning_rate` at step = the global batch count.
"""

from __future__ import annotations

from typing import Any, Literal

from keras.callbacks import Callback as KerasCallback

import swanlab_client
from swanlab_client.integration._common import active_run, init_arguments

LogStrategy = Literal["epoch", "batch"]


class SwanLabCallback(KerasCallback):
    """A Keras callback that logs into a swanlabd run."""

    def __init__(
        self,
        log_freq: LogStrategy | int = "epoch",
        initial_global_step: int = 0,
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
        if log_freq == "batch":
            log_freq = 1
        if isinstance(log_freq, int) and log_freq <= 0:
            raise ValueError("log_freq must be a positive integer, 'batch', or 'epoch'")
        self.log_freq = log_freq if isinstance(log_freq, int) else None
        self.global_step = initial_global_step
        self.global_batch = 0
        self._pending_config = dict(config or {})
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
            )
            | kwargs
        )
        self._run_seen: Any = None

    @property
    def name(self) -> str:
        return "swanlab-integration-keras"

    def update_config(self, config: dict[str, Any]) -> None:
        run = active_run()
        if run is None:
            self._pending_config.update(config)
        else:
            run.config.update(config)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row = {f"epoch/{key}": value for key, value in (logs or {}).items()}
        row["epoch/epoch"] = epoch
        lr = self._learning_rate()
        if lr is not None:
            row["epoch/learning_rate"] = lr
        self._log(row, epoch)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        if self.log_freq is None or batch % self.log_freq != 0:
            return
        row = {f"batch/{key}": value for key, value in (logs or {}).items()}
        row["batch/batch_step"] = self.global_batch
        lr = self._learning_rate()
        if lr is not None:
            row["batch/learning_rate"] = lr
        self._log(row, self.global_step)
        self.global_batch += self.log_freq

    def _log(self, row: dict[str, Any], step: int) -> None:
        run = active_run()
        if run is None:
            run = swanlab_client.init(config=self._pending_config or None, **self._init_kwargs)
            self._pending_config = {}
        if run is not self._run_seen:  # once per run: the framework, and what update_config() held
            self._run_seen = run
            run.config.update({"FRAMEWORK": "keras", **self._pending_config})
            self._pending_config = {}
        swanlab_client.log(row, step=step)

    def _learning_rate(self) -> float | None:
        optimizer = getattr(getattr(self, "model", None), "optimizer", None)
        lr = getattr(optimizer, "learning_rate", None)
        if lr is None:
            lr = getattr(optimizer, "lr", None)
        if lr is None:
            return None
        try:
            value = lr(self.global_step) if callable(lr) else lr
            for unwrap in ("numpy", "item"):
                method = getattr(value, unwrap, None)
                if callable(method):
                    value = method()
            return float(value)
        except (TypeError, ValueError):
            return None  # a schedule or variable that gives no number: the row goes without it


SwanLabLogger = SwanLabCallback

__all__ = ["LogStrategy", "SwanLabCallback", "SwanLabLogger"]
