"""`SwanLabCallback` for the 🤗 transformers `Trainer`.

    from swanlab_client.integration.transformers import SwanLabCallback
    trainer = Trainer(..., callbacks=[SwanLabCallback(project="demo")])

Logs what the official SDK 0.10.3's callback logs: at each `on_log` the Trainer's logs at
`step=state.global_step`, renamed `eval_x` → `eval/x`, `test_x` → `test/x` and anything else
`train/x`, with `train/global_step`; the end-of-training summary (`train_runtime`,
`train_loss`...) as `single_value/<name>`; each evaluation once per step; the config at train
start (`FRAMEWORK: transformers`, the model's config, the TrainingArguments, the parameter
count). transformers' own `report_to="swanlab"` callback is transformers' code and differs
(docs/integrations.md).
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from swanlab_client.integration._common import init_arguments
from swanlab_client.integration._trainer import TrainerLogging


class SwanLabCallback(TrainerLogging, TrainerCallback):
    """Logs a Trainer's metrics and config to the active run, starting one with these arguments if none is."""

    FRAMEWORK = "transformers"

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
        )
        TrainerLogging.__init__(self, init_kwargs, log_config)

    @property
    def name(self) -> str:
        return "swanlab-integration-transformers"
