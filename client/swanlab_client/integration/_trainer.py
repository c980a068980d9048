"""What the callbacks of the 🤗 transformers `Trainer` and of PaddleNLP's (which follows it) log,
written once: transformers.py and paddlenlp.py put it on their framework's `TrainerCallback`.

As the official SDK 0.10.3's callbacks: at train start (or the first log) a run is started if
none is active and the config is stored (`FRAMEWORK`, the model's config, the TrainingArguments,
the parameter count); each `on_log` is logged at `step=state.global_step`, renamed `eval_x` →
`eval/x`, `test_x` → `test/x`, anything else `train/x`, with `train/global_step`, and the
end-of-training summary (`train_runtime`, `train_loss`...) as `single_value/<name>`; each
evaluation once per step; each save records `<framework>_last_checkpoint`. Only the world's
process zero logs. Imports no framework.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import swanlab_client
from swanlab_client._run import Run
from swanlab_client.integration._common import active_run

# The Trainer's end-of-training summary: one value each, charted apart from the curves.
SINGLE_VALUE_KEYS = frozenset(
    {"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos"}
)


def rewrite_logs(logs: Mapping[str, Any]) -> dict[str, Any]:
    """The Trainer's keys as chart sections: eval_x → eval/x, test_x → test/x, x → train/x."""
    out: dict[str, Any] = {}
    for key, value in logs.items():
        if key.startswith("eval_"):
            out["eval/" + key[5:]] = value
        elif key.startswith("test_"):
            out["test/" + key[5:]] = value
        else:
            out["train/" + key] = value
    return out


def collect_config(framework: str, args: Any, state: Any, model: Any = None) -> dict[str, Any]:
    """The run config the official callback stores at train start."""
    config: dict[str, Any] = {"FRAMEWORK": framework}
    model_config = getattr(model, "config", None)
    if isinstance(model_config, Mapping):
        config.update(model_config)
    elif model_config is not None and callable(getattr(model_config, "to_dict", None)):
        config.update(model_config.to_dict())
    if callable(getattr(args, "to_dict", None)):
        config.update(args.to_dict())
    if getattr(model, "peft_config", None) is not None:
        config["peft_config"] = model.peft_config
    if getattr(state, "trial_name", None) is not None:
        config[f"{framework}_trial_name"] = state.trial_name
    if callable(getattr(model, "num_parameters", None)):
        config["model_num_parameters"] = model.num_parameters()
    if callable(getattr(model, "get_nb_trainable_parameters", None)):
        trainable, total = model.get_nb_trainable_parameters()
        config["peft_model_trainable_params"] = trainable
        config["peft_model_all_param"] = total
    return config


class TrainerLogging:
    """The callback's logic; a subclass puts it first on its framework's `TrainerCallback`, sets
    FRAMEWORK and calls `__init__` with the init() arguments (`_common.init_arguments`)."""

    FRAMEWORK = ""

    def __init__(self, init_kwargs: dict[str, Any], log_config: bool) -> None:
        self._init_kwargs = init_kwargs
        self._log_config = log_config
        self._set_up_for: Run | None = None
        self._pending_config: dict[str, Any] = {}
        self._evaluated_steps: set[int] = set()

    def setup(self, args: Any, state: Any, model: Any = None) -> None:
        """Start a run if none is active and store the config, once per run, on process zero only."""
        if not _main_process(state):
            return
        run = active_run()
        if run is not None and run is self._set_up_for:
            return
        # A new run (the first, or one after finish()): what the official callback resets when
        # its run finishes.
        self._set_up_for = run if run is not None else swanlab_client.init(**self._run_arguments(args, state))
        self._evaluated_steps.clear()
        if self._log_config:
            self.update_config(collect_config(self.FRAMEWORK, args, state, model))

    def _run_arguments(self, args: Any, state: Any) -> dict[str, Any]:
        """init()'s arguments for the run the callback starts."""
        return self._init_kwargs

    def update_config(self, config: Mapping[str, Any]) -> None:
        """Merge into the run's config (held until a run is active)."""
        self._pending_config.update(config)
        run = active_run()
        if run is not None and self._pending_config:
            run.config.update(self._pending_config)  # one Config record for the whole burst
            self._pending_config.clear()

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.setup(args, state, model)

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        model: Any = None,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.setup(args, state, model)
        if not logs or not self._can_log(state):
            return
        step = _step(state)
        summary = {f"single_value/{k}": v for k, v in logs.items() if k in SINGLE_VALUE_KEYS}
        if summary:
            swanlab_client.log(summary, step=step)
        metrics = rewrite_logs({k: v for k, v in logs.items() if k not in SINGLE_VALUE_KEYS})
        if metrics:
            swanlab_client.log({**metrics, "train/global_step": step}, step=step)

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        self.setup(args, state, kwargs.get("model"))
        if not metrics or not self._can_log(state):
            return
        step = _step(state)
        # The Trainer also passes evaluation metrics to on_log: a step's evaluation is logged once.
        if step in self._evaluated_steps:
            return
        self._evaluated_steps.add(step)
        swanlab_client.log(rewrite_logs(metrics), step=step)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        run = active_run()
        if run is None or not _main_process(state) or not getattr(args, "output_dir", None):
            return
        checkpoint = os.path.join(args.output_dir, f"checkpoint-{_step(state)}")
        run.config[f"{self.FRAMEWORK}_last_checkpoint"] = checkpoint

    def on_predict(
        self, args: Any, state: Any, control: Any, metrics: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        self.setup(args, state, kwargs.get("model"))
        if metrics and self._can_log(state):
            swanlab_client.log(rewrite_logs(metrics), step=_step(state))

    def _can_log(self, state: Any) -> bool:
        return _main_process(state) and active_run() is not None


def _main_process(state: Any) -> bool:
    return bool(getattr(state, "is_world_process_zero", True))


def _step(state: Any) -> int:
    step = getattr(state, "global_step", 0)
    return step if isinstance(step, int) and step >= 0 else 0
