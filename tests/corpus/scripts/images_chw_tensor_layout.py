"""A torchvision-style batch in (C, H, W) layout given straight to Image: the official SDK refuses it at the call."""

import numpy as np
import swanlab

chw = (np.arange(3 * 8 * 10) % 256).astype(np.uint8).reshape(3, 8, 10)

swanlab.init(project="images_chw_tensor_layout", experiment_name="chw")
for step in range(3):
    row = {"loss": 1.0 / (step + 1)}
    try:
        row["sample"] = swanlab.Image(chw, caption="CHW")
    except TypeError as exc:
        print("Image refused CHW:", type(exc).__name__)
        row["sample"] = swanlab.Image(chw.transpose(1, 2, 0), caption="CHW")
    swanlab.log(row, step=step)
swanlab.finish()
