"""A tiny fastai tabular Learner on synthetic data (CPU), fit for two one-cycle epochs with the
SwanLab callback: per-batch loss and hyper-parameters, per-epoch losses and mean absolute error, and the
Learner's make-up as config."""

import numpy as np
import pandas as pd
import swanlab
import torch
from fastai.tabular.all import Categorify, Normalize, TabularDataLoaders, mae, set_seed, tabular_learner
from swanlab.integration.fastai import SwanLabCallback

set_seed(0, reproducible=True)
rng = np.random.default_rng(0)
df = pd.DataFrame({"a": rng.normal(size=96), "b": rng.normal(size=96), "c": rng.choice(["x", "y", "z"], size=96)})
df["y"] = df["a"] + 2 * df["b"]
dls = TabularDataLoaders.from_df(
    df,
    y_names="y",
    cat_names=["c"],
    cont_names=["a", "b"],
    procs=[Categorify, Normalize],
    valid_idx=list(range(72, 96)),
    bs=16,
    num_workers=0,
    device=torch.device("cpu"),  # a device, not "cpu": the callback records its type
)
callback = SwanLabCallback(project="integ", experiment_name="fastai", config={"rows": 96})
# n_out given: fastai 2.8.12 infers the list [1, vocab] from these DataLoaders, which torch refuses.
learn = tabular_learner(dls, layers=[8], n_out=1, metrics=mae, cbs=callback)
learn.fit_one_cycle(2, 1e-2)
swanlab.finish()
