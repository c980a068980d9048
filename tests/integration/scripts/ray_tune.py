"""Two trials of a tiny function trainable under Ray Tune (a local Ray, CPU only), each logged
as its own SwanLab run by SwanLab's logger callback."""

import ray
from ray import tune
from swanlab.integration.ray import SwanLabLoggerCallback


def fit_line(config: dict) -> None:
    """Gradient steps on (w - 3)^2, reported once per iteration."""
    w = 0.0
    for _ in range(4):
        w -= config["lr"] * 2 * (w - 3.0)
        tune.report({"loss": (w - 3.0) ** 2, "weights": {"w": w}})


# address="local": a Ray of this script's own, never one already running on the machine.
ray.init(address="local", num_cpus=2, include_dashboard=False)
tuner = tune.Tuner(
    fit_line,
    param_space={"lr": tune.grid_search([0.1, 0.4]), "optimizer": "sgd"},
    # Trial names are random by default; fixed ones make the two SDKs' runs comparable by name.
    tune_config=tune.TuneConfig(trial_name_creator=lambda trial: f"fit_line-lr{trial.config['lr']}"),
    run_config=tune.RunConfig(name="tiny", callbacks=[SwanLabLoggerCallback(project="integ")]),
)
tuner.fit()
ray.shutdown()
