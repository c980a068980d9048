"""`sync_mlflow()`: what a script logs to MLflow, also in a run.

    import swanlab_client as swanlab
    swanlab.sync_mlflow()                     # before any mlflow call
    mlflow.set_experiment("demo")             # the project of the run start_run() starts
    with mlflow.start_run(run_name="a"):      # starts a run "a"
        mlflow.log_param("lr", 0.01)
        mlflow.log_metric("loss", 0.5, step=0)
    mlflow.end_run()                          # finishes the run

As the official SDK 0.10.3's bridge, it patches the `mlflow` module's functions:
`set_experiment(name)` names the project (in `SWANLAB_MLFLOW_PROJECT`, while no run is active);
`start_run(run_name=...)` starts a run (or, with one active, records `mlflow_run_name` in its
config); `log_param(s)` update the config; `log_metric(s)` log at the step given, or the next
one; `end_run()` finishes the run. Leaving a `with mlflow.start_run()` block ends the MLflow run
through MLflow's own `end_run`, not the patched one, so the run stays active until
`mlflow.end_run()` or exit (a later start_run joins it). mlflow is imported when sync_mlflow is called.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from swanlab_client import _run
from swanlab_client.integration._common import call_args, originals

PROJECT_VARIABLE = "SWANLAB_MLFLOW_PROJECT"
PATCHED = ["set_experiment", "start_run", "end_run", "log_param", "log_params", "log_metric", "log_metrics"]


def sync_mlflow(mode: str = "online") -> None:
    """Copy what the script logs to MLflow into swanlab_client's run, in `mode`; call before any mlflow call."""
    import mlflow

    original = originals(mlflow, PATCHED)

    @functools.wraps(original["set_experiment"])
    def set_experiment(*args: Any, **kwargs: Any) -> Any:
        (name,) = call_args(original["set_experiment"], args, kwargs, ["experiment_name"])
        if name and not _run.has_run():
            # The environment, as officially: a process started from here names the same project.
            os.environ[PROJECT_VARIABLE] = name
        return original["set_experiment"](*args, **kwargs)

    @functools.wraps(original["start_run"])
    def start_run(*args: Any, **kwargs: Any) -> Any:
        (run_name,) = call_args(original["start_run"], args, kwargs, ["run_name"])
        if not _run.has_run():
            _run.init(project=os.environ.get(PROJECT_VARIABLE), name=run_name, mode=mode)
        elif run_name:
            _run.config.update({"mlflow_run_name": run_name})
        return original["start_run"](*args, **kwargs)

    @functools.wraps(original["end_run"])
    def end_run(*args: Any, **kwargs: Any) -> Any:
        _run.finish()
        return original["end_run"](*args, **kwargs)

    @functools.wraps(original["log_param"])
    def log_param(*args: Any, **kwargs: Any) -> Any:
        key, value = call_args(original["log_param"], args, kwargs, ["key", "value"])
        if key is not None:
            _run.config.update({key: value})
        return original["log_param"](*args, **kwargs)

    @functools.wraps(original["log_params"])
    def log_params(*args: Any, **kwargs: Any) -> Any:
        (params,) = call_args(original["log_params"], args, kwargs, ["params"])
        if params:
            _run.config.update(params)
        return original["log_params"](*args, **kwargs)

    @functools.wraps(original["log_metric"])
    def log_metric(*args: Any, **kwargs: Any) -> Any:
        key, value, step = call_args(original["log_metric"], args, kwargs, ["key", "value", "step"])
        if key is not None:
            _run.log({key: value}, step=step)
        return original["log_metric"](*args, **kwargs)

    @functools.wraps(original["log_metrics"])
    def log_metrics(*args: Any, **kwargs: Any) -> Any:
        metrics, step = call_args(original["log_metrics"], args, kwargs, ["metrics", "step"])
        if metrics:
            _run.log(metrics, step=step)
        return original["log_metrics"](*args, **kwargs)

    patches = {
        "set_experiment": set_experiment,
        "start_run": start_run,
        "end_run": end_run,
        "log_param": log_param,
        "log_params": log_params,
        "log_metric": log_metric,
        "log_metrics": log_metrics,
    }
    for name, patch in patches.items():
        setattr(mlflow, name, patch)
