"""A tiny Keras 3 model (torch backend, CPU) fit with the SwanLab callback, logging per batch and epoch."""

import os

os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402 - the backend is chosen before keras is imported
import numpy as np  # noqa: E402
import swanlab  # noqa: E402
from swanlab.integration.keras import SwanLabCallback  # noqa: E402

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 3)).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
callback = SwanLabCallback(log_freq=2, project="integ", experiment_name="keras", config={"units": 4})
model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0, callbacks=[callback])
swanlab.finish()
