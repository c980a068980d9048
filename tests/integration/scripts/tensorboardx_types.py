"""tensorboardX's SummaryWriter copied into a run started first, by sync_tensorboardX(types=...): only
the types named reach SwanLab; the writer adds its logdir to the config, and close() finishes the run."""

import numpy as np
import swanlab
from tensorboardX import SummaryWriter

swanlab.init(project="integ", experiment_name="tb-x", config={"lr": 0.01})
swanlab.sync_tensorboardX(types=["scalar", "image", "text"])
writer = SummaryWriter(logdir="runs/x")
for step in range(5):
    writer.add_scalar("loss", 2.0 - step / 4, step)
    writer.add_scalars("ignored", {"a": step, "b": -step}, step)  # "scalars" is not in types
    writer.add_image("color", np.full((6, 6, 3), 50 * step, np.uint8), step, dataformats="HWC")
    writer.add_image("first_of_batch", np.full((2, 3, 6, 6), 0.5), step, dataformats="NCHW")
writer.add_text("summary", "done", global_step=4)
swanlab.log({"direct": 1.0}, step=7)
writer.close()
