"""`SwanlabVisBackend`, an MMEngine visualization backend that logs into a swanlabd run.

    # in an MMEngine config
    custom_imports = dict(imports=["swanlab_client.integration.mmengine"], allow_failed_imports=False)
    visualizer = dict(
        type="Visualizer",
        vis_backends=[dict(type="SwanlabVisBackend", init_kwargs=dict(project="demo", experiment_name="a"))],
    )

Importing this module registers the backend in MMEngine's VISBACKENDS under its class name, as
the official SDK 0.10.3's module does. As the official backend: its first use starts a run with
`init_kwargs`, `log_dir` defaulting to the backend's save_dir (the Runner's
`<work_dir>/<timestamp>/vis_data`), and `FRAMEWORK: mmengine` in the config, or logs into the run
already active; `add_config` adds the Runner's config flattened to `a/b` and `a[0]/b` keys;
`add_scalar(s)` and `add_image` log at the step given (MMEngine's LoggerHook: the iteration for
training, the epoch for validation); `close()` leaves the run open (it ends with the script, or
a `finish()`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mmengine.registry import VISBACKENDS
from mmengine.visualization.vis_backend import BaseVisBackend, force_init_env

import swanlab_client
from swanlab_client.integration._common import active_run


@VISBACKENDS.register_module()
class SwanlabVisBackend(BaseVisBackend):
    """Logs what MMEngine's Visualizer writes into a swanlabd run."""

    def __init__(self, save_dir: str | None = None, init_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__(save_dir)
        self._init_kwargs = dict(init_kwargs or {})

    @property
    def name(self) -> str:
        return "swanlab-integration-mmengine"

    def _init_env(self) -> None:
        if self._save_dir is not None:
            os.makedirs(self._save_dir, exist_ok=True)
        self._init_kwargs.setdefault("log_dir", self._save_dir)
        if active_run() is None:
            run = swanlab_client.init(**self._init_kwargs)
            run.config["FRAMEWORK"] = "mmengine"

    @property
    @force_init_env
    def experiment(self) -> Any:
        """The swanlab module (swanlab_client), as the official backend returns `swanlab`."""
        return swanlab_client

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        run = active_run()
        if run is not None:
            run.config.update(flatten(config.to_dict() if hasattr(config, "to_dict") else dict(config)))

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        swanlab_client.log({name: swanlab_client.Image(image)}, step=step)

    @force_init_env
    def add_scalar(self, name: str, value: int | float, step: int = 0, **kwargs: Any) -> None:
        swanlab_client.log({name: value}, step=step)

    @force_init_env
    def add_scalars(
        self, scalar_dict: dict[str, Any], step: int = 0, file_path: str | None = None, **kwargs: Any
    ) -> None:
        swanlab_client.log(dict(scalar_dict), step=step)


def flatten(config: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as flat keys, as the official backend stores it: `model/type`, and a list
    holding dicts as one key per item (`custom_hooks[0]/type`); a list of plain values stays a list."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, name))
        elif isinstance(value, list | tuple) and any(isinstance(item, Mapping) for item in value):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    flat.update(flatten(item, f"{name}[{i}]"))
                else:  # the official backend raises on a plain item beside dicts
                    flat[f"{name}[{i}]"] = item
        else:
            flat[name] = value
    return flat


__all__ = ["SwanlabVisBackend"]
