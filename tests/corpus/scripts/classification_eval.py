"""Evaluation of a binary and a 3-class classifier: ROC, PR and confusion matrix charts, no scikit-learn."""

import numpy as np
import swanlab

rng = np.random.default_rng(3)
y_true = rng.integers(0, 2, size=60)
scores = np.clip(y_true * 0.35 + rng.uniform(0, 0.65, size=60), 0, 1)
labels3 = rng.integers(0, 3, size=45)
preds3 = np.where(rng.uniform(size=45) < 0.7, labels3, (labels3 + 1) % 3)

swanlab.init(project="classification_eval", experiment_name="eval", config={"threshold": 0.5})
for epoch in range(2):
    swanlab.log({"val/auc_proxy": float(np.mean(scores[y_true == 1]) - np.mean(scores[y_true == 0]))}, step=epoch)
swanlab.log(
    {
        "roc": swanlab.echarts.roc_curve(y_true, scores, title="ROC"),
        "pr": swanlab.echarts.pr_curve(y_true.tolist(), scores.tolist()),
        "cm": swanlab.echarts.confusion_matrix(labels3, preds3, ["ant", "bee", "cow"], title="Confusion"),
    },
    step=2,
)
swanlab.finish()
