"""torch.utils.tensorboard's SummaryWriter copied into SwanLab by sync_tensorboard_torch(): the
writer starts the run, close() finishes it."""

import os

import numpy as np
import swanlab
import torch
from torch.utils.tensorboard import SummaryWriter

# The writer's init() takes no name or project: they come from the environment.
os.environ["SWANLAB_PROJ_NAME"] = "integ"
os.environ["SWANLAB_EXP_NAME"] = "tb-torch"

swanlab.sync_tensorboard_torch()
writer = SummaryWriter(log_dir="runs/torch")
for step in range(6):
    writer.add_scalar("train/loss", 1 / (step + 1), step)
    writer.add_scalar("train/lr", torch.tensor(0.1 * step), global_step=torch.tensor(step))
    writer.add_scalars("val", {"acc": step / 10, "f1": np.float32(step / 20)}, step)
    if step % 2 == 0:
        writer.add_image("samples/chw", torch.full((3, 8, 8), 40 * step, dtype=torch.uint8), step)
        writer.add_image("samples/hwc", np.full((8, 8, 3), 30 * step, np.uint8), step, dataformats="HWC")
writer.add_text("notes", "six steps of a made-up loss", 5)
writer.add_scalar("no_step", 3.5)  # the next step
writer.add_scalars("no_step_pair", {"a": 1.0, "b": 2.0})  # one step each
writer.close()  # finishes the run
