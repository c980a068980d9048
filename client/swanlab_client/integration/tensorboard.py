"""`sync_tensorboard_torch()` and `sync_tensorboardX()`: a TensorBoard SummaryWriter's values, also in a run.

    import swanlab_client as swanlab
    swanlab.sync_tensorboard_torch()          # before the SummaryWriter is made
    writer = SummaryWriter(log_dir="runs/a")  # starts a run (or joins the active one)
    writer.add_scalar("loss", 0.5, global_step=3)
    writer.close()                            # finishes the run

As the official SDK 0.10.3's bridges, they patch the SummaryWriter class (torch.utils.tensorboard's
or tensorboardX's): a new writer starts a run with config `tensorboard_logdir` (or adds it to the
active run's config); `add_scalar(tag, v, step)` logs `{tag: v}` at `step`, `add_scalars(main,
{sub: v}, step)` logs each `main/sub` at `step`, one log() per value; `add_image` an Image,
`add_text` a Text; `close()` finishes the run. A missing global_step is the next step. `types`
("scalar", "scalars", "image", "text") limits what is copied; TensorBoard itself still gets it all.
The tracker is imported when sync_* is called, not with swanlab_client.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from swanlab_client import _run
from swanlab_client.integration._common import call_args, originals
from swanlab_client.media import Image, Text

_logger = logging.getLogger("swanlab_client")
PATCHED = ("__init__", "add_scalar", "add_scalars", "add_image", "add_text", "close")

LogdirOf = Callable[[Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]


def sync_tensorboard_torch(types: Sequence[str] | None = None) -> None:
    """Copy what torch.utils.tensorboard's SummaryWriter logs into swanlab_client's run; call before making one."""
    from torch.utils.tensorboard import SummaryWriter

    def logdir(init: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return call_args(init, args, kwargs, ["log_dir"])[0]

    _patch(SummaryWriter, logdir, types)


def sync_tensorboardX(types: Sequence[str] | None = None) -> None:  # noqa: N802 - the official SDK's name
    """Copy what tensorboardX's SummaryWriter logs into swanlab_client's run; call before making one."""
    from tensorboardX import SummaryWriter

    def logdir(init: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        logdir, log_dir = call_args(init, args, kwargs, ["logdir", "log_dir"])
        return logdir or log_dir

    _patch(SummaryWriter, logdir, types)


def _patch(writer: type, logdir_of: LogdirOf, types: Sequence[str] | None) -> None:
    original = originals(writer, PATCHED)
    wanted = None if types is None else set(types)

    def copies(kind: str) -> bool:
        return wanted is None or kind in wanted

    @functools.wraps(original["__init__"])
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        config = {"tensorboard_logdir": logdir_of(original["__init__"], (self, *args), kwargs)}
        if _run.has_run():
            _run.config.update(config)
        else:
            _run.init(config=config)
        original["__init__"](self, *args, **kwargs)

    @functools.wraps(original["add_scalar"])
    def add_scalar(self: Any, *args: Any, **kwargs: Any) -> Any:
        if copies("scalar"):
            names = ["tag", "scalar_value", "global_step"]
            tag, value, step = call_args(original["add_scalar"], (self, *args), kwargs, names)
            if tag is not None and value is not None:
                _run.log({tag: value}, step=_step(step))
        return original["add_scalar"](self, *args, **kwargs)

    @functools.wraps(original["add_scalars"])
    def add_scalars(self: Any, *args: Any, **kwargs: Any) -> Any:
        if copies("scalars"):
            names = ["main_tag", "tag_scalar_dict", "global_step"]
            main_tag, values, step = call_args(original["add_scalars"], (self, *args), kwargs, names)
            if main_tag is not None and values is not None:
                # One log() per value, as officially: without a global_step each gets a step of its own.
                for tag, value in values.items():
                    _run.log({f"{main_tag}/{tag}": value}, step=_step(step))
        return original["add_scalars"](self, *args, **kwargs)

    @functools.wraps(original["add_image"])
    def add_image(self: Any, *args: Any, **kwargs: Any) -> Any:
        if copies("image"):
            names = ["tag", "img_tensor", "global_step", "dataformats"]
            tag, image, step, dataformats = call_args(original["add_image"], (self, *args), kwargs, names)
            if tag is not None and image is not None:
                array = _hwc(image, dataformats or "CHW")
                if array is not None:
                    _run.log({tag: Image(array)}, step=_step(step))
        return original["add_image"](self, *args, **kwargs)

    @functools.wraps(original["add_text"])
    def add_text(self: Any, *args: Any, **kwargs: Any) -> Any:
        if copies("text"):
            names = ["tag", "text_string", "global_step"]
            tag, text, step = call_args(original["add_text"], (self, *args), kwargs, names)
            if tag is not None and text is not None:
                _run.log({tag: Text(text)}, step=_step(step))
        return original["add_text"](self, *args, **kwargs)

    @functools.wraps(original["close"])
    def close(self: Any, *args: Any, **kwargs: Any) -> None:
        original["close"](self, *args, **kwargs)
        _run.finish()

    patches = {
        "__init__": __init__,
        "add_scalar": add_scalar,
        "add_scalars": add_scalars,
        "add_image": add_image,
        "add_text": add_text,
        "close": close,
    }
    for name, patch in patches.items():
        setattr(writer, name, patch)


def _step(global_step: Any) -> int | None:
    return None if global_step is None else int(global_step)


def _hwc(image: Any, dataformats: str) -> Any:
    """A NumPy array Image takes, from a TensorBoard image of `dataformats`; None (with a warning)
    if it cannot be read so: the value is not logged, and TensorBoard still gets it."""
    import numpy as np

    try:
        if hasattr(image, "detach"):  # a torch tensor
            image = image.detach().cpu().numpy()
        array = np.asarray(image)
        if dataformats == "CHW":
            return np.transpose(array, (1, 2, 0))
        if dataformats == "NCHW":
            return np.transpose(array[0], (1, 2, 0))
        # HWC as it is. HW too: the official bridge makes it (H, W, 1), which its Image refuses.
        return array
    except Exception as exc:  # noqa: BLE001 - any bad image is skipped, as officially, never raised into training
        _logger.warning("swanlab_client: failed to convert tensorboard image (%s: %s)", type(exc).__name__, exc)
        return None
