"""What a key's type means in a run folder: where its media files live, and the system metrics' names.

One definition for the daemon's checks of client media (ingest/validate.py), the readers of other
tools' files (foreign/), the host monitor and the uploader's columns.
"""

from __future__ import annotations

from swanlabd_pb import records_pb2 as pb

# The folder under media/ of each media KeyType: the official SDK's names (a Video is an IMAGE).
MEDIA_FOLDERS: dict[int, str] = {
    pb.IMAGE: "image",
    pb.AUDIO: "audio",
    pb.TEXT: "text",
    pb.VIDEO: "video",
    pb.ECHARTS: "echarts",
    pb.OBJECT3D: "object3d",
    pb.MOLECULE: "molecule",
    pb.HTML: "html",
}
# Hardware metrics' keys start with this (KeyType SYSTEM); the official SDK reserves it.
SYSTEM_PREFIX = "__swanlab__."
