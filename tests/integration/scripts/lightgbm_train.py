"""lgb.train on random data with a validation set, logging through the SwanLab callback."""

import lightgbm as lgb
import numpy as np
import swanlab
from swanlab.integration.lightgbm import SwanLabCallback

rng = np.random.default_rng(0)
x = rng.normal(size=(200, 4))
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
train = lgb.Dataset(x[:150], label=y[:150])
valid = lgb.Dataset(x[150:], label=y[150:], reference=train)

swanlab.init(project="integ", experiment_name="lgb")
lgb.train(
    {
        "objective": "binary",
        "metric": ["binary_logloss", "auc"],
        "num_leaves": 4,
        "verbose": -1,
        "seed": 0,
        "num_threads": 1,
    },
    train,
    num_boost_round=8,
    valid_sets=[train, valid],
    valid_names=["train", "valid"],
    callbacks=[SwanLabCallback()],
)
swanlab.finish()
