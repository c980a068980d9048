"""CatBoostClassifier.fit on random data with a validation set, logging through the SwanLab callback."""

import numpy as np
import swanlab
from catboost import CatBoostClassifier
from swanlab.integration.catboost import SwanLabCallback

rng = np.random.default_rng(0)
x = rng.normal(size=(200, 4))
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
params = {"iterations": 8, "depth": 2, "learning_rate": 0.3, "random_seed": 0, "thread_count": 1}

swanlab.init(project="integ", experiment_name="catboost")
model = CatBoostClassifier(**params, verbose=False, allow_writing_files=False)
model.fit(x[:150], y[:150], eval_set=(x[150:], y[150:]), callbacks=[SwanLabCallback(params)])
swanlab.finish()
