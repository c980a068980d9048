"""`Text` and `Html`: strings stored as UTF-8 files (.txt, .html)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from swanlab_client.media._base import Media, check_caption

# Longer strings are HTML, not a path (Linux PATH_MAX); the official SDK's cut too.
_PATH_LEN_LIMIT = 4096


class Text(Media):
    """A text, logged as `log({"key": Text("...")})` or a list of them under one key."""

    KEY_TYPE: ClassVar[str] = "TEXT"
    MEDIUM: ClassVar[str] = "text"

    def __init__(self, content: str, caption: str | None = None) -> None:
        if self._nested(content, caption):
            return
        if not isinstance(content, str):
            raise TypeError(f"Text content must be a str, not {type(content).__name__}")
        self.ext = "txt"
        self.content = content
        self.caption = check_caption(caption)

    @property
    def nbytes(self) -> int:
        return len(self.content)

    def encode(self) -> bytes:
        return self.content.encode()


class Html(Media):
    """An HTML page: a raw HTML string, a path to a .html file (str or Path), or a file object."""

    KEY_TYPE: ClassVar[str] = "HTML"
    MEDIUM: ClassVar[str] = "html"

    def __init__(self, data: Any, caption: str | None = None) -> None:
        if self._nested(data, caption):
            return
        self.ext = "html"
        self.caption = check_caption(caption)
        if isinstance(data, Path):
            if not data.is_file():
                raise FileNotFoundError(f"HTML file not found or is not a file: {data}")
            self.content = data.read_text(encoding="utf-8")
        elif isinstance(data, str):
            self.content = data
            try:
                if len(data) < _PATH_LEN_LIMIT and data.lower().endswith(".html") and os.path.isfile(data):
                    self.content = Path(data).read_text(encoding="utf-8")
            except (OSError, ValueError):
                pass  # not a path after all (a NUL byte, a name too long): raw HTML
        elif hasattr(data, "read") and not isinstance(data, Media):
            try:
                data.seek(0)
            except (AttributeError, OSError, ValueError):
                pass  # a stream that cannot seek is read from where it is
            raw = data.read()
            self.content = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        else:
            raise TypeError(
                f"Unsupported HTML data type: {type(data).__name__}. "
                "Please provide a file path (str/Path), raw HTML string, or a file object."
            )

    @property
    def nbytes(self) -> int:
        return len(self.content)

    def encode(self) -> bytes:
        return self.content.encode("utf-8")
