"""The log_* helpers (`log_image(key=..., data=...)`), module-level and as Run methods.

Each wraps its data as the official SDK's do: a single value or a list, already media objects
or raw data; caption (and Image's mode, file_type, size) either one value for all or a list of
the same length. Then it calls log({key: [...]}, step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swanlab_client.media._base import Media
from swanlab_client.media.audio import Audio
from swanlab_client.media.chart import ECharts
from swanlab_client.media.image import Image
from swanlab_client.media.molecule import Molecule
from swanlab_client.media.object3d import Object3D
from swanlab_client.media.text import Html, Text
from swanlab_client.media.video import Video

if TYPE_CHECKING:
    from swanlab_client._run import Run


def normalize(cls: Any, data: Any, **kwargs: Any) -> list[Media]:
    """`data` (one value or a list) as a list of `cls`, each with its share of `kwargs`."""
    given = {k: v for k, v in kwargs.items() if v is not None}
    values = data if isinstance(data, list) else [data]
    if not given and all(isinstance(v, cls) for v in values):
        return values
    per_item: dict[str, list[Any]] = {}
    for name, value in given.items():
        if isinstance(value, list) and not (name == "size" and not isinstance(data, list)):
            if len(value) != len(values):
                raise ValueError(f"Length of {name} ({len(value)}) must match data length ({len(values)})")
            per_item[name] = value
        else:
            per_item[name] = [value] * len(values)
    return [cls(v, **{k: vs[i] for k, vs in per_item.items()}) for i, v in enumerate(values)]


def _current() -> Run:
    from swanlab_client import _run
    from swanlab_client._errors import NotInitializedError

    if _run._current is None:
        raise NotInitializedError("log")
    return _run._current


def run_log_text(self: Run, *, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log text (a str, a Text, or a list of them) under `key`."""
    self.log({key: normalize(Text, data, caption=caption)}, step=step)


def run_log_image(
    self: Run,
    *,
    key: str,
    data: Any,
    mode: Any = None,
    caption: Any = None,
    file_type: Any = None,
    size: Any = None,
    step: int | None = None,
) -> None:
    """Log images (anything Image takes, or a list) under `key`."""
    items = normalize(Image, data, mode=mode, caption=caption, file_type=file_type, size=size)
    self.log({key: items}, step=step)


def run_log_audio(
    self: Run, *, key: str, data: Any, sample_rate: Any = 44100, caption: Any = None, step: int | None = None
) -> None:
    """Log audio (anything Audio takes, or a list) under `key`."""
    self.log({key: normalize(Audio, data, sample_rate=sample_rate, caption=caption)}, step=step)


def run_log_video(self: Run, *, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log videos (GIF paths or bytes, Video, or a list) under `key`."""
    self.log({key: normalize(Video, data, caption=caption)}, step=step)


def run_log_echarts(self: Run, *, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log charts (pyecharts charts, ECharts, or a list) under `key`."""
    self.log({key: normalize(ECharts, data, caption=caption)}, step=step)


def run_log_html(self: Run, *, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log HTML (a string, a .html path, a file object, Html, or a list) under `key`."""
    self.log({key: normalize(Html, data, caption=caption)}, step=step)


def run_log_object3d(self: Run, *, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log 3D objects (anything Object3D takes, or a list) under `key`."""
    self.log({key: normalize(Object3D, data, caption=caption)}, step=step)


def run_log_molecule(self: Run, *, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log molecules (anything Molecule takes, or a list) under `key`."""
    self.log({key: normalize(Molecule, data, caption=caption)}, step=step)


def log_text(*, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log text under `key` in the current run (see Run.log_text)."""
    run_log_text(_current(), key=key, data=data, caption=caption, step=step)


def log_image(
    *,
    key: str,
    data: Any,
    mode: Any = None,
    caption: Any = None,
    file_type: Any = None,
    size: Any = None,
    step: int | None = None,
) -> None:
    """Log images under `key` in the current run (see Run.log_image)."""
    run_log_image(_current(), key=key, data=data, mode=mode, caption=caption, file_type=file_type, size=size, step=step)


def log_audio(*, key: str, data: Any, sample_rate: Any = 44100, caption: Any = None, step: int | None = None) -> None:
    """Log audio under `key` in the current run (see Run.log_audio)."""
    run_log_audio(_current(), key=key, data=data, sample_rate=sample_rate, caption=caption, step=step)


def log_video(*, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log videos under `key` in the current run (see Run.log_video)."""
    run_log_video(_current(), key=key, data=data, caption=caption, step=step)


def log_echarts(*, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log charts under `key` in the current run (see Run.log_echarts)."""
    run_log_echarts(_current(), key=key, data=data, caption=caption, step=step)


def log_html(*, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log HTML under `key` in the current run (see Run.log_html)."""
    run_log_html(_current(), key=key, data=data, caption=caption, step=step)


def log_object3d(*, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log 3D objects under `key` in the current run (see Run.log_object3d)."""
    run_log_object3d(_current(), key=key, data=data, caption=caption, step=step)


def log_molecule(*, key: str, data: Any, caption: Any = None, step: int | None = None) -> None:
    """Log molecules under `key` in the current run (see Run.log_molecule)."""
    run_log_molecule(_current(), key=key, data=data, caption=caption, step=step)
