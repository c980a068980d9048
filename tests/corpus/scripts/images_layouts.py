"""Images of the layouts a vision script meets: HW, HWC, uint8 and float, RGBA, PIL, files, captioned lists."""

import numpy as np
import swanlab
from PIL import Image as PILImage

rng = np.random.default_rng(7)
grey = (np.arange(16 * 20) % 256).astype(np.uint8).reshape(16, 20)
rgb = rng.integers(0, 256, size=(16, 20, 3), dtype=np.uint8)
heat = np.linspace(0.0, 255.0, 16 * 20).reshape(16, 20)
rgba = np.dstack([rgb, np.full((16, 20), 200, dtype=np.uint8)])
PILImage.fromarray(rgb).save("sample.png")

swanlab.init(project="images_layouts", experiment_name="layouts")
for step in range(3):
    swanlab.log(
        {
            "input/grey": swanlab.Image(grey, caption="HW uint8"),
            "input/rgb": swanlab.Image(rgb, caption="HWC uint8"),
            "input/heat": swanlab.Image(heat + step),
            "input/rgba": swanlab.Image(rgba, mode="RGBA"),
            "input/pil": swanlab.Image(PILImage.fromarray(rgb[::-1])),
            "input/file": swanlab.Image("sample.png", size=(10, 8)),
            "batch": [swanlab.Image(rgb[i : i + 8], caption=f"crop {i}") for i in range(3)],
            "loss": 0.3 * (3 - step),
        },
        step=step,
    )
swanlab.log_image(key="predictions", data=[grey, rgb], caption=["grey", "rgb"], step=3)
swanlab.get_run().log_image(key="jpeg", data=rgb, file_type="jpg", step=3)
swanlab.finish()
