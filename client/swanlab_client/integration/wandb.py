"""`sync_wandb()`: what a script logs to W&B, also in a run.

    import swanlab_client as swanlab
    swanlab.sync_wandb(wandb_run=False)       # before wandb.init(); W&B then runs offline
    wandb.init(project="demo", name="a", config={"lr": 0.01})   # starts a run "a" in project "demo"
    wandb.log({"loss": 0.5})
    wandb.finish()                            # finishes the run

As the official SDK 0.10.3's bridge, it patches `wandb.init`, `Run.log`, `Run.finish` and
`Config.update`. `wandb.init` starts a run from its project, name, notes, tags, config, group and
job_type (or adds its config to the active run); `wandb_run=False` makes that W&B run offline.
`log` copies numbers, bools, strings and `wandb.Image`s (one or a list) at the step given, or
the next one; other values (histograms, tables, NumPy scalars other than float64) only reach
W&B. `config.update(d)` (not `config[k] = v`) adds to the config; `finish` finishes the run.
A disabled W&B run (`mode="disabled"`) is W&B's no-op run, which none of this reaches: only its
config is copied (docs/integrations.md). wandb is imported when sync_wandb is called.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from swanlab_client import _run
from swanlab_client.integration._common import call_args, originals
from swanlab_client.media import Image

_logger = logging.getLogger("swanlab_client")
INIT_ARGS = ["project", "name", "notes", "tags", "config", "reinit", "group", "job_type"]


def sync_wandb(
    mode: str = "online", wandb_run: bool = True, workspace: str | None = None, log_dir: str | None = None
) -> None:
    """Copy what the script logs to W&B into swanlab_client's run (in `mode`, `workspace` and
    `log_dir`); call before wandb.init(). wandb_run=False: the W&B run is offline."""
    import wandb
    from wandb.sdk.wandb_config import Config
    from wandb.sdk.wandb_run import Run

    init_original = originals(wandb, ["init"])["init"]
    run_original = originals(Run, ["log", "finish"])
    update_original = originals(Config, ["update"])["update"]
    image_type = wandb.Image

    @functools.wraps(init_original)
    def init(*args: Any, **kwargs: Any) -> Any:
        project, name, notes, tags, config, reinit, group, job_type = call_args(init_original, args, kwargs, INIT_ARGS)
        if _run.has_run():
            _run.config.update(config or {})
        else:
            _run.init(
                project=project,
                workspace=workspace,
                name=name,
                description=notes,
                config=config,
                tags=tags,
                mode=mode,
                log_dir=log_dir,
                reinit=reinit,
                group=group,
                job_type=job_type,
            )
        if wandb_run is False:  # exactly False, as officially
            kwargs["mode"] = "offline"
        return init_original(*args, **kwargs)

    @functools.wraps(update_original)
    def update(self: Any, *args: Any, **kwargs: Any) -> Any:
        (d,) = call_args(update_original, (self, *args), kwargs, ["d"])
        if d is not None:
            _run.config.update(d)
        return update_original(self, *args, **kwargs)

    @functools.wraps(run_original["log"])
    def log(self: Any, *args: Any, **kwargs: Any) -> Any:
        data, step = call_args(run_original["log"], (self, *args), kwargs, ["data", "step"])
        if hasattr(data, "items"):
            row: dict[str, Any] = {}
            for key, value in data.items():
                if isinstance(value, (int, float, bool, str)):
                    row[key] = value
                elif isinstance(value, image_type):
                    row[key] = _image(value)
                elif isinstance(value, list) and value and isinstance(value[0], image_type):
                    row[key] = [image for image in map(_image, value) if image is not None] or None
            row = {key: value for key, value in row.items() if value is not None}
            if row:
                _run.log(row, step=step)
        return run_original["log"](self, *args, **kwargs)

    @functools.wraps(run_original["finish"])
    def finish(*args: Any, **kwargs: Any) -> Any:
        _run.finish()
        return run_original["finish"](*args, **kwargs)

    wandb.init = init
    Run.log = log
    Run.finish = finish
    Config.update = update


def _image(image: Any) -> Image | None:
    """A wandb.Image as an Image with its caption; None if it holds no picture, or (with a
    warning) if its picture cannot be taken."""
    import numpy as np

    try:
        picture = getattr(image, "image", None) or getattr(image, "_image", None)
        if picture is None:
            return None
        return Image(np.array(picture), caption=getattr(image, "_caption", None))
    except Exception as exc:  # noqa: BLE001 - a bad image is skipped, as officially, never raised into training
        _logger.warning("swanlab_client: failed to convert wandb.Image (%s: %s)", type(exc).__name__, exc)
        return None
