"""`SwanLabTracker` for 🤗 Accelerate, when the tracker object is built by the script.

    from swanlab_client.integration.accelerate import SwanLabTracker
    accelerator = Accelerator(log_with=SwanLabTracker(project="demo"))
    accelerator.init_trackers("demo", config={"lr": 1e-3})
    accelerator.log({"loss": loss}, step=step)
    accelerator.end_training()

`Accelerator(log_with="swanlab")` under `swanlabctl exec` is accelerate's own tracker, which
works as it is (docs/integrations.md). As the official SDK 0.10.3's tracker: the main process
alone starts the run (lazily, or takes the active one), with `FRAMEWORK: accelerate`, and logs.
"""

from __future__ import annotations

from typing import Any

from accelerate.tracking import GeneralTracker, on_main_process

import swanlab_client
from swanlab_client._run import Run
from swanlab_client.integration._common import active_run, init_arguments


class SwanLabTracker(GeneralTracker):
    """An Accelerate tracker that logs into a swanlabd run."""

    name = "swanlab"
    requires_logging_directory = False
    main_process_only = True

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
            )
            | kwargs
        )

    @property
    def tracker(self) -> Run | SwanLabTracker:
        return active_run() or self

    @on_main_process
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        self._run().config.update(values)

    @on_main_process
    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        self._run().log(values, step=step)

    @on_main_process
    def finish(self) -> None:
        """Leaves the run open, as the official tracker: the script finishes it (or its exit does)."""

    def _run(self) -> Run:
        run = active_run()
        if run is None:
            run = swanlab_client.init(**self._init_kwargs)
            run.config["FRAMEWORK"] = "accelerate"
        return run
