"""Media types for log(): Image, Audio, Text, Video, ECharts, Object3D, Molecule, Html, and `echarts`.

    swanlab_client.log({"samples": [Image(a, caption="a"), Image(b)], "loss": 0.1})

Importing this package loads none of the heavy libraries; each type imports what it needs on
first use (the `media` extra: pip install 'swanlabd[media]'). Files go to the run folder under
`media/<medium>/` (see _store.py and docs/client.md, Media).
"""

from swanlab_client.media import echarts
from swanlab_client.media._base import Media, MissingExtraError
from swanlab_client.media.audio import Audio
from swanlab_client.media.chart import ECharts
from swanlab_client.media.image import Image
from swanlab_client.media.molecule import Molecule
from swanlab_client.media.object3d import Object3D
from swanlab_client.media.text import Html, Text
from swanlab_client.media.video import Video

__all__ = [
    "Audio",
    "ECharts",
    "Html",
    "Image",
    "Media",
    "MissingExtraError",
    "Molecule",
    "Object3D",
    "Text",
    "Video",
    "echarts",
]
