"""`SwanLabCallback` for the PaddleNLP `Trainer`.

    from swanlab_client.integration.paddlenlp import SwanLabCallback
    trainer = Trainer(..., callbacks=[SwanLabCallback(project="demo")])

PaddleNLP's Trainer follows 🤗 transformers', and so does this callback the transformers one:
both are `_trainer.TrainerLogging` on their framework's `TrainerCallback`. As the official SDK
0.10.3's: at train start (or the first log) it starts a run if none is active, named
`experiment_name`, else the Trainer's `run_name` (its `output_dir` unless set;
`<run_name>-<trial_name>` in a hyperparameter search), in `project`, else $SWANLAB_PROJECT, with
the tag "paddlenlp", and stores the config (`FRAMEWORK: paddlenlp`, the model's config, the
TrainingArguments, the parameter count); each `on_log` is logged at `step=state.global_step`,
renamed `eval_x` → `eval/x`, `test_x` → `test/x`, anything else `train/x`, with
`train/global_step`, and the end-of-training summary (`train_runtime`, `train_loss`...) as
`single_value/<name>`; each evaluation once per step; each save records
`paddlenlp_last_checkpoint`. Only the world's process zero logs.
"""

from __future__ import annotations

import os
from typing import Any

from paddlenlp.trainer import TrainerCallback

from swanlab_client.integration._common import init_arguments
from swanlab_client.integration._trainer import TrainerLogging


class SwanLabCallback(TrainerLogging, TrainerCallback):
    """Logs a PaddleNLP Trainer's metrics and config to the active run, starting one with these arguments if none is."""

    FRAMEWORK = "paddlenlp"

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
        log_config: bool = True,
        **_kwargs: Any,
    ) -> None:
        init_kwargs = init_arguments(
            project=project,
            workspace=workspace,
            experiment_name=experiment_name,
            description=description,
            log_dir=log_dir,
            logdir=logdir,
            mode=mode,
            tags=tags,
            tag="paddlenlp",
        )
        TrainerLogging.__init__(self, init_kwargs, log_config)

    @property
    def name(self) -> str:
        return "swanlab-integration-paddlenlp"

    def _run_arguments(self, args: Any, state: Any) -> dict[str, Any]:
        kwargs = dict(self._init_kwargs)
        run_name = getattr(args, "run_name", None)
        trial_name = getattr(state, "trial_name", None)
        if trial_name is not None:
            kwargs.setdefault("experiment_name", f"{run_name}-{trial_name}" if run_name else trial_name)
        elif run_name is not None:
            kwargs.setdefault("experiment_name", run_name)
        if os.environ.get("SWANLAB_PROJECT") is not None:
            kwargs.setdefault("project", os.environ["SWANLAB_PROJECT"])
        return kwargs


__all__ = ["SwanLabCallback"]
