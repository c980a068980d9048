"""xgb.train on random data with early stopping, logging through the SwanLab callback."""

import numpy as np
import swanlab
import xgboost as xgb
from swanlab.integration.xgboost import SwanLabCallback

rng = np.random.default_rng(0)
x = rng.normal(size=(200, 4))
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
dtrain = xgb.DMatrix(x[:150], label=y[:150], feature_names=["a", "b", "c", "d"])
dvalid = xgb.DMatrix(x[150:], label=y[150:], feature_names=["a", "b", "c", "d"])

swanlab.init(project="integ", experiment_name="xgb")
xgb.train(
    {"objective": "binary:logistic", "eval_metric": ["logloss", "error"], "max_depth": 2, "seed": 0, "nthread": 1},
    dtrain,
    num_boost_round=8,
    evals=[(dtrain, "train"), (dvalid, "valid")],
    early_stopping_rounds=3,
    callbacks=[SwanLabCallback()],
    verbose_eval=False,
)
swanlab.finish()
