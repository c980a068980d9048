"""`SwanLabCallback` for LightGBM's `lgb.train(..., callbacks=[...])` (and `lgb.cv`).

    from swanlab_client.integration.lightgbm import SwanLabCallback
    swanlab_client.init(project="demo")
    lgb.train(params, train_set, valid_sets=[valid_set], callbacks=[SwanLabCallback()])

As the official SDK 0.10.3's callback, into the active run: the parameters and
`FRAMEWORK: lightgbm` at the first iteration; each evaluation result as `<data>_<metric>` at
step = the iteration (from `lgb.cv`: `<metric>-mean` and `<metric>-stdv`, or
`<data>_<metric>-mean`/`-stdv`).
"""

from __future__ import annotations

from typing import Any

import swanlab_client
from swanlab_client.integration._common import active_run


class SwanLabCallback:
    """A LightGBM callback (called after each iteration) that logs into the active run."""

    def __init__(self, log_params: bool = True) -> None:
        self._log_params = log_params
        self._config_stored = False

    @property
    def name(self) -> str:
        return "swanlab-integration-lightgbm"

    def __call__(self, env: Any) -> None:
        run = active_run()
        if run is None:
            return
        if not self._config_stored:
            self._config_stored = True
            run.config["FRAMEWORK"] = "lightgbm"
            if self._log_params:
                run.config.update(env.params)
        for item in env.evaluation_result_list:
            if len(item) == 5:  # lgb.cv with named data: (data, metric, mean, bigger_is_better, stdv)
                data, metric, mean, _, stdv = item
                row = {f"{data}_{metric}-mean": mean, f"{data}_{metric}-stdv": stdv}
            elif isinstance(item[1], str):  # lgb.train: (data, metric, value, bigger_is_better)
                row = {f"{item[0]}_{item[1]}": item[2]}
            else:  # lgb.cv of older LightGBM: (metric, mean, bigger_is_better, stdv)
                metric, mean, _, stdv = item
                row = {f"{metric}-mean": mean, f"{metric}-stdv": stdv}
            swanlab_client.log(row, step=env.iteration)
