"""The official SDK's deprecated top-level chart helpers: `swanlab.roc_curve()` and friends warn
(FutureWarning, as the SDK does) and build the `swanlab_client.echarts` chart of that name."""

from __future__ import annotations

import warnings
from typing import Any

from swanlab_client.media import echarts


def _moved(name: str) -> None:
    warnings.warn(
        f"`swanlab.{name}()` is deprecated and will be removed in v0.11, use `swanlab.echarts.{name}()` instead",
        FutureWarning,
        stacklevel=3,
    )


def roc_curve(*args: Any, **kwargs: Any) -> Any:
    _moved("roc_curve")
    return echarts.roc_curve(*args, **kwargs)


def pr_curve(*args: Any, **kwargs: Any) -> Any:
    _moved("pr_curve")
    return echarts.pr_curve(*args, **kwargs)


def confusion_matrix(*args: Any, **kwargs: Any) -> Any:
    _moved("confusion_matrix")
    return echarts.confusion_matrix(*args, **kwargs)
