"""`swanlab_client.plot`: the official SDK's `swanlab.plot` (its custom charts' namespace, for now
the three metric charts of `swanlab_client.echarts`)."""

from __future__ import annotations

from swanlab_client.media.echarts import confusion_matrix, pr_curve, roc_curve

__all__ = ["confusion_matrix", "pr_curve", "roc_curve"]
