"""`Object3D`: point clouds (arrays, dicts with boxes) and 3D files -> `.swanlab.pts.json` / `.glb`.

A point cloud becomes the official SDK's JSON: `{"version": "0.1", "points": [[x, y, z, r, g, b],
...], "boxes": [...]}`. XYZ points are green; XYZC points take the colour of their class C from
a palette of 16.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from swanlab_client.media._base import Media, check_caption, instance_of, require

_WHAT = "swanlab_client.Object3D"
_PALETTE = (
    "528d59 587ad2 c24d46 9cbe5d 6ebad3 dfb142 6d4ba4 8cc5b7 892d58 40877c d0703c d47694 e3b292 b15fbb 905f4a 989fa3"
).split()
_PALETTE_RGB = [(int(c[:2], 16), int(c[2:4], 16), int(c[4:], 16)) for c in _PALETTE]
_FILES = {".swanlab.pts.json": "swanlab.pts.json", ".glb": "glb"}


def _xyzrgb(np: Any, points: Any) -> Any:
    if points.shape[1] == 6:
        return points
    out = np.zeros((points.shape[0], 6))
    out[:, :3] = points[:, :3]
    if points.shape[1] == 3:
        out[:, 3:] = (0, 255, 0)
    else:
        out[:, 3:] = np.array(_PALETTE_RGB)[points[:, 3].astype(int) % len(_PALETTE_RGB)]
    return out


class Object3D(Media):
    """A 3D object: a NumPy array (N, 3) XYZ, (N, 4) XYZC or (N, 6) XYZRGB; a dict
    {"points": array or list, "boxes": [{"color", "corners", "label", "score"?}, ...]}; a path to a
    `.swanlab.pts.json` or `.glb` file; or another Object3D."""

    KEY_TYPE: ClassVar[str] = "OBJECT3D"
    MEDIUM: ClassVar[str] = "object3d"

    def __init__(self, data: Any, caption: str | None = None) -> None:
        if self._nested(data, caption):
            return
        self.caption = check_caption(caption)
        self._file: bytes | None = None
        self._points: Any = None
        self._boxes: list[dict[str, Any]] = []
        if isinstance(data, dict):
            np = require("numpy", _WHAT)
            if "points" not in data:
                raise ValueError("Dict input must contain 'points' key.")
            points = data["points"]
            if isinstance(points, list):
                points = np.array(points)
            elif not isinstance(points, np.ndarray):
                raise TypeError("data['points'] must be a list or numpy.ndarray")
            if points.ndim != 2 or points.shape[1] not in (3, 4, 6):
                raise ValueError("data['points'] must have shape (N, 3), (N, 4), or (N, 6)")
            self._points = np.array(points, copy=True)
            self._boxes = [self._box(box) for box in data.get("boxes") or []]
            self.ext = "swanlab.pts.json"
        elif isinstance(data, (str, os.PathLike)):
            self._file, self.ext = self._read(Path(data))
        elif instance_of(data, "numpy", "ndarray"):
            np = require("numpy", _WHAT)
            if data.ndim != 2 or data.shape[1] not in (3, 4, 6):
                raise ValueError(
                    f"Unsupported array shape: {data.shape}. "
                    "Expected 2D array with 3 (XYZ), 4 (XYZC), or 6 (XYZRGB) channels."
                )
            self._points = np.array(data, copy=True)
            self.ext = "swanlab.pts.json"
        else:
            raise TypeError(f"Unsupported input type: {type(data)}. Expected numpy.ndarray, dict, str, or Path.")

    @classmethod
    def from_point_data(
        cls, points: Any, boxes: list[dict[str, Any]] | None = None, caption: str | None = None
    ) -> Object3D:
        """A point cloud with optional 3D boxes (each: color, corners, label, score)."""
        return cls({"points": points, "boxes": boxes or []}, caption=caption)

    @staticmethod
    def _box(box: Any) -> dict[str, Any]:
        try:
            out = {
                "color": list(box["color"]),
                "corners": [list(p) for p in box["corners"]],
                "label": box["label"],
            }
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a box needs 'color', 'corners' and 'label': {exc}") from exc
        if "score" in box:
            out["score"] = box["score"]
        return out

    @staticmethod
    def _read(path: Path) -> tuple[bytes, str]:
        if not path.exists():
            raise FileNotFoundError(f"File not found: {path}")
        if not path.is_file():
            raise ValueError(f"Path is not a file: {path}")
        name = path.name.lower()
        for suffix, ext in _FILES.items():
            if name.endswith(suffix):
                return path.read_bytes(), ext
        raise ValueError(f"Unsupported file type: {path.name}. Supported extensions: {', '.join(sorted(_FILES))}")

    @property
    def nbytes(self) -> int:
        return int(self._points.nbytes) if self._points is not None else len(self._file or b"")

    def encode(self) -> bytes:
        if self._file is not None:
            return self._file
        np = require("numpy", _WHAT)
        cloud = {"version": "0.1", "points": _xyzrgb(np, self._points).tolist(), "boxes": self._boxes}
        return json.dumps(cloud).encode()
