"""Log one of every media type, with fixed inputs, through a client given on the command line.

    python media_script.py swanlab|swanlab_client PROJECT WORKDIR

Runs under the official SDK (its venv, with numpy, pillow and soundfile added) and under
swanlab_client, against a test cloud from the environment; test_media_conformance.py compares
what each left on the cloud. Molecules are left out: RDKit embeds 3D coordinates at random.
"""

import importlib
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PILImage


def inputs(work):
    """The fixed inputs, some written as files under `work`."""
    rgb = (np.arange(24 * 32 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
    gif = work / "a.gif"
    PILImage.fromarray(rgb).save(gif, format="GIF")
    png = work / "a.png"
    PILImage.fromarray(rgb[::-1]).save(png)
    pts = work / "c.swanlab.pts.json"
    pts.write_text('{"version": "0.1", "points": [[0, 0, 0, 1, 2, 3]], "boxes": []}')
    return rgb, gif, png, pts


def main():
    client, project, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    swanlab = importlib.import_module(client)
    rgb, gif, png, pts = inputs(work)
    swanlab.init(project=project, experiment_name="media", mode="cloud")
    for step in range(2):
        swanlab.log(
            {
                "loss": 0.5 - step * 0.1,
                "img/array": swanlab.Image(rgb + step, caption=f"array {step}"),
                "img/list": [swanlab.Image(rgb[:, :, 0]), swanlab.Image(rgb.astype(np.float64) * 0.5, caption="half")],
                "img/file": swanlab.Image(str(png), size=16),
                "img/jpg": swanlab.Image(rgb, file_type="jpg", mode="RGB"),
                "audio": swanlab.Audio(np.linspace(-0.5, 0.5, 400, dtype=np.float32), sample_rate=8000, caption="a"),
                "stereo": swanlab.Audio(np.zeros((2, 100), dtype=np.int16)),
                "text": swanlab.Text(f"text {step}", caption="t"),
                "video": swanlab.Video(str(gif), caption="v"),
                "chart": swanlab.ECharts(swanlab.echarts.Bar().add_xaxis(["a", "b"]).add_yaxis("n", [1, step])),
                "table": swanlab.echarts.Table().add(["x", "y"], [[1, step]]),
                "pc/array": swanlab.Object3D(np.arange(12, dtype=float).reshape(3, 4), caption="xyzc"),
                "pc/file": swanlab.Object3D(str(pts)),
                "page": swanlab.Html(f"<p>{step}</p>"),
            },
            step=step,
        )
    swanlab.finish()


if __name__ == "__main__":
    main()
