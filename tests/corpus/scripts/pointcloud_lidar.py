"""A LiDAR detector's debug views: point clouds xyz, xyzc, xyzrgb, a dict with boxes, a .swanlab.pts.json file."""

import json

import numpy as np
import swanlab

rng = np.random.default_rng(11)
xyz = np.round(rng.normal(size=(50, 3)), 3)
xyzc = np.hstack([xyz, rng.integers(0, 3, size=(50, 1))])
xyzrgb = np.hstack([xyz, rng.integers(0, 256, size=(50, 3))])
box = {
    "color": [255, 0, 0],
    "corners": [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
    "label": "car",
    "score": 0.9,
}
with open("scene.swanlab.pts.json", "w") as f:
    json.dump({"version": "0.1", "points": xyzrgb[:5].tolist(), "boxes": [box]}, f)

swanlab.init(project="pointcloud_lidar", experiment_name="lidar")
for step in range(2):
    swanlab.log(
        {
            "scan/xyz": swanlab.Object3D(xyz + step, caption="raw"),
            "scan/classes": swanlab.Object3D(xyzc),
            "scan/rgb": swanlab.Object3D(xyzrgb),
            "scan/boxes": swanlab.Object3D({"points": xyz.tolist(), "boxes": [box]}),
            "scan/file": swanlab.Object3D("scene.swanlab.pts.json"),
            "det/loss": 0.5 / (step + 1),
        },
        step=step,
    )
swanlab.log_object3d(key="scan/helper", data=xyz[:10], caption="helper", step=2)
swanlab.finish()
