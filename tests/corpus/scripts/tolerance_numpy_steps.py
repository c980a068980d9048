"""Steps and config values straight from NumPy (np.arange loops, np.int64 counters), as data pipelines give them."""

import numpy as np
import swanlab

swanlab.init(project="tolerance_numpy_steps", experiment_name="np-steps", config={"batch": np.int64(8)})
for step in np.arange(5, dtype=np.int64):
    swanlab.log({"loss": 1.0 / (int(step) + 1)}, step=step)
for step in range(5, 8):
    swanlab.log({"loss": 1.0 / (step + 1)}, step=step)
swanlab.config.update({"seen": np.int32(7), "ratio": np.float32(0.5)})
swanlab.finish()
