"""`Video`: GIF files and bytes, stored as they are.

As in the official SDK (0.10.3) a video's key is an IMAGE column and its file goes to
`media/image/`: the SwanLab cloud has no VIDEO column type yet.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, ClassVar

from swanlab_client.media._base import Media, check_caption

_MAGIC = {"gif": (b"GIF87a", b"GIF89a")}
_EXTENSIONS = {".gif": "gif"}


def _format(data: bytes) -> str | None:
    return next((fmt for fmt, magics in _MAGIC.items() if data.startswith(magics)), None)


class Video(Media):
    """A video: a path to a GIF file, or its bytes (bytes or BytesIO), or another Video."""

    KEY_TYPE: ClassVar[str] = "IMAGE"
    MEDIUM: ClassVar[str] = "image"

    def __init__(self, data_or_path: Any, caption: str | None = None) -> None:
        if self._nested(data_or_path, caption):
            return
        self.caption = check_caption(caption)
        if isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            suffix = Path(path).suffix.lower()
            if suffix not in _EXTENSIONS:
                raise TypeError(f"Unsupported file extension '{suffix}'. Supported: {', '.join(_EXTENSIONS)}")
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except OSError as exc:
                raise ValueError(f"Failed to open file: {path!r}") from exc
            fmt = _format(raw)
            if fmt is None:
                raise TypeError(f"File '{path}' does not match any known video format magic number.")
        elif isinstance(data_or_path, (bytes, bytearray, io.BytesIO)):
            raw = data_or_path.getvalue() if isinstance(data_or_path, io.BytesIO) else bytes(data_or_path)
            fmt = _format(raw)
            if fmt is None:
                raise TypeError(f"Cannot detect video format from bytes. Supported formats: {', '.join(_MAGIC)}")
        else:
            raise TypeError(
                f"Unsupported type: {type(data_or_path).__name__}. "
                "Please provide a file path (.gif), bytes, or BytesIO."
            )
        self.ext = fmt
        self.content = raw

    @property
    def nbytes(self) -> int:
        return len(self.content)

    def encode(self) -> bytes:
        return self.content
