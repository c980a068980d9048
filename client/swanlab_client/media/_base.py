"""What every media type shares: the `Media` base, the file it becomes, and the optional extras.

A media object is built in the training thread, where it only checks its input and keeps a copy
of it (an array copy, the bytes of a file, a figure saved to PNG): `log()` stays cheap and the
script may change its data afterwards. `encode()` turns that copy into the file's bytes (PNG,
WAV, JSON, ...); the sender's encoder calls it in a background thread (Pillow and zlib release
the GIL), writes the file under `media/<medium>/` of the run folder and fsyncs it before the
record naming it is sent.

The heavy libraries (NumPy, Pillow, soundfile, pyecharts, RDKit, matplotlib) are imported only
when a media type needs one, through `require`, which names the extra to install.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, ClassVar

EXTRA_HINT = "pip install 'swanlabd[media]'"


class MissingExtraError(ImportError):
    """A media type needs an optional library that is not installed (install the media extra)."""

    def __init__(self, module: str, what: str) -> None:
        super().__init__(f"{what} needs the {module!r} package: {EXTRA_HINT}")
        self.module = module


def require(module: str, what: str) -> Any:
    """`import module`, or MissingExtraError naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module.split(".")[0], what) from exc


def instance_of(value: object, module: str, name: str) -> bool:
    """isinstance(value, module.name) if that module is loaded, without importing it.

    A module another thread is still importing (the encoder pool imports Pillow) is in
    sys.modules before its classes exist: a class not defined yet has no instances.
    """
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(value, cls)


def is_torch_tensor(value: object) -> bool:
    return instance_of(value, "torch", "Tensor")


def check_caption(caption: object) -> str | None:
    if caption is None or isinstance(caption, str):
        return caption
    raise TypeError(f"caption must be a str or None, not {type(caption).__name__}")


class Media:
    """Base of the media types. Subclasses set KEY_TYPE, MEDIUM and implement `encode`.

    KEY_TYPE is the KeyType of the key in the backup (and the column type in the cloud);
    MEDIUM is the folder under `media/` its files go to (the official SDK's names).
    """

    KEY_TYPE: ClassVar[str]
    MEDIUM: ClassVar[str]

    caption: str | None
    ext: str

    def encode(self) -> bytes:
        """The file's content. Called in the encoder thread; never touches the script's objects."""
        raise NotImplementedError

    @property
    def nbytes(self) -> int:
        """About how much memory this object holds until it is encoded (for the queue's bound)."""
        return 0

    def _nested(self, data: object, caption: object) -> bool:
        """`Image(other_image, caption=...)`: the official SDK's nesting, a copy with a new caption."""
        if not isinstance(data, type(self)):
            return False
        self.__dict__.update(data.__dict__)
        if caption is not None:
            self.caption = check_caption(caption)
        return True

    def __repr__(self) -> str:
        caption = f", caption={self.caption!r}" if self.caption else ""
        return f"{type(self).__name__}({self.ext}{caption})"
