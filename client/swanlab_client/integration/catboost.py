"""`SwanLabCallback` for CatBoost's `model.fit(..., callbacks=[...])`.

    from swanlab_client.integration.catboost import SwanLabCallback
    swanlab_client.init(project="demo")
    CatBoostClassifier(iterations=50).fit(x, y, eval_set=(xv, yv), callbacks=[SwanLabCallback(params)])

As the official SDK 0.10.3's callback, into the active run: `FRAMEWORK: catboost` and the
`params` given at the first iteration; each metric as `<stage>_<metric>` (`learn_Logloss`,
`validation_Logloss`) at step = the iteration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import swanlab_client
from swanlab_client.integration._common import active_run


class SwanLabCallback:
    """A CatBoost callback (its after_iteration) that logs into the active run."""

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self._params = params
        self._config_stored = False

    @property
    def name(self) -> str:
        return "swanlab-integration-catboost"

    def after_iteration(self, info: Any) -> bool:
        run = active_run()
        if run is None:
            return True
        if not self._config_stored:
            self._config_stored = True
            run.config["FRAMEWORK"] = "catboost"
            if isinstance(self._params, Mapping):
                run.config.update(self._params)
        for stage, metrics in (info.metrics or {}).items():
            for metric, history in metrics.items():
                if history:
                    swanlab_client.log({f"{stage}_{metric}": history[-1]}, step=info.iteration)
        return True  # go on training
