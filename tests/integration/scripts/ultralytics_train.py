"""A YOLOv8n built from its yaml trains one epoch on 8 synthetic 64 px images (CPU), with SwanLab's
callbacks added by add_swanlab_callback(model): losses, learning rates, validation metrics, the
model's size, and the plots as images. Nothing is downloaded (see below)."""

import os
import shutil
from pathlib import Path

# The referee runs this under pytest, whose variable Ultralytics takes for its own test suite
# (it would then put the run under its package folder); offline, it tries no host.
os.environ.pop("PYTEST_CURRENT_TEST", None)
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_CONFIG_DIR"] = str(Path("yolo-config").resolve())

import matplotlib  # noqa: E402 - the environment above is read when ultralytics is imported
import numpy as np  # noqa: E402
import swanlab  # noqa: E402
from PIL import Image  # noqa: E402
from swanlab.integration.ultralytics import add_swanlab_callback  # noqa: E402
from ultralytics import YOLO  # noqa: E402

# The plots' font: Ultralytics looks for Arial.ttf in its config folder, else downloads it.
Path("yolo-config").mkdir(exist_ok=True)
shutil.copy(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf", "yolo-config/Arial.ttf")

# One light square per dark image, labelled as class 0 ("box"), the same in train and val.
rng = np.random.default_rng(0)
for split in ("train", "val"):
    Path(f"data/images/{split}").mkdir(parents=True, exist_ok=True)
    Path(f"data/labels/{split}").mkdir(parents=True, exist_ok=True)
    for i in range(8 if split == "train" else 4):
        x, y, size = (int(v) for v in rng.integers(4, 28, size=3))
        pixels = np.full((64, 64, 3), 30, dtype=np.uint8)
        pixels[y : y + size, x : x + size] = 220
        Image.fromarray(pixels).save(f"data/images/{split}/{i}.png")
        box = f"0 {(x + size / 2) / 64:.6f} {(y + size / 2) / 64:.6f} {size / 64:.6f} {size / 64:.6f}\n"
        Path(f"data/labels/{split}/{i}.txt").write_text(box)
Path("data.yaml").write_text(
    f"path: {Path('data').resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: box\n"
)

model = YOLO("yolov8n.yaml")
add_swanlab_callback(model, project="integ", experiment_name="ultralytics")
model.train(
    data="data.yaml",
    epochs=1,
    imgsz=64,
    batch=4,
    workers=0,
    device="cpu",
    seed=0,
    deterministic=True,
    amp=False,
    name="yolo",
    exist_ok=True,
    verbose=False,
)
swanlab.finish()
