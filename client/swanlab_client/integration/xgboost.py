"""`SwanLabCallback` for XGBoost's `xgb.train(..., callbacks=[...])`.

    from swanlab_client.integration.xgboost import SwanLabCallback
    swanlab_client.init(project="demo")
    xgb.train(params, dtrain, evals=[(dtrain, "train"), (dvalid, "valid")], callbacks=[SwanLabCallback()])

As the official SDK 0.10.3's callback, into the active run: the booster's whole config (its
`save_config()` JSON) and `FRAMEWORK: xgboost` before training; each evaluation metric as
`<data>-<metric>` at step = the boosting round; after training `best_score` and
`best_iteration` (with early stopping) and the feature importance as an ECharts bar chart.
"""

from __future__ import annotations

import json
from typing import Any

from xgboost.callback import TrainingCallback

import swanlab_client
from swanlab_client.integration._common import active_run


class SwanLabCallback(TrainingCallback):
    """Logs an XGBoost training into the active run (it starts none, as the official callback)."""

    def __init__(self, log_feature_importance: bool = True, importance_type: str = "gain") -> None:
        super().__init__()
        self._log_feature_importance = log_feature_importance
        self._importance_type = importance_type

    @property
    def name(self) -> str:
        return "swanlab-integration-xgboost"

    def before_training(self, model: Any) -> Any:
        run = active_run()
        if run is not None:
            run.config["FRAMEWORK"] = "xgboost"
            run.config.update(json.loads(model.save_config()))
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, list[Any]]]) -> bool:
        if active_run() is not None:
            for data, metrics in evals_log.items():
                for metric, history in metrics.items():
                    swanlab_client.log({f"{data}-{metric}": history[-1]}, step=epoch)
        return False  # never asks XGBoost to stop

    def after_training(self, model: Any) -> Any:
        if active_run() is None:
            return model
        if self._log_feature_importance:
            importance = model.get_score(importance_type=self._importance_type)
            if importance:
                bar = swanlab_client.echarts.Bar()
                bar.add_xaxis(list(importance))
                bar.add_yaxis("Importance", [round(v, 2) for v in importance.values()])
                swanlab_client.log({"Feature Importance": bar})
        if model.attr("best_score") is not None:
            swanlab_client.log(
                {"best_score": float(model.attr("best_score")), "best_iteration": int(model.attr("best_iteration"))}
            )
        return model
