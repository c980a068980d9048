"""`Image`: NumPy arrays, PIL images, torch tensors, matplotlib figures and image files -> PNG/JPEG/BMP.

The pipeline is the official SDK's (swanlab 0.10.3), so the same array gives the same file: an
array is clipped to 0..255 and cast to uint8 (floats are not rescaled), `mode` converts, `size`
resizes, then Pillow saves. Beyond it: CHW arrays (C = 1, 3 or 4) are accepted and transposed.
"""

from __future__ import annotations

import io
import math
import os
from typing import Any, ClassVar

from swanlab_client.media._base import Media, check_caption, instance_of, is_torch_tensor, require

FILE_TYPES = ("png", "jpg", "jpeg", "bmp")
_WHAT = "swanlab_client.Image"


def _pil() -> Any:
    return require("PIL.Image", _WHAT)


def _check_size(size: object) -> None:
    if size is None or (type(size) is int and size > 0):
        return
    if isinstance(size, (list, tuple)) and 1 <= len(size) <= 2:
        if all(s is None or (type(s) is int and s > 0) for s in size) and any(s is not None for s in size):
            return
    raise ValueError(f"size must be a positive int, or a list/tuple of 1-2 positive ints or None, not {size!r}")


def _resize(image: Any, size: Any) -> Any:
    if size is None:
        return image
    if isinstance(size, int):
        if max(image.size) > size:
            image.thumbnail((size, size))
        return image
    w, h = (tuple(size) + (None,))[:2]
    if w is not None and h is not None:
        return image.resize((int(w), int(h)))
    if w is not None:
        return image.resize((int(w), int(image.size[1] * w / image.size[0])))
    return image.resize((int(image.size[0] * h / image.size[1]), int(h)))


def _grid(np: Any, t: Any) -> Any:
    """torchvision's make_grid(t, normalize=True) in NumPy (nrow 8, padding 2), CHW float32."""
    t = t.astype(np.float32)
    if t.ndim == 2:
        t = t[None]
    if t.ndim == 3:
        if t.shape[0] == 1:
            t = np.concatenate([t, t, t], 0)
        t = t[None]
    if t.ndim == 4 and t.shape[1] == 1:
        t = np.concatenate([t, t, t], 1)
    low, high = t.min(), t.max()
    t = (np.clip(t, low, high) - low) / np.float32(max(high - low, 1e-5))
    if t.shape[0] == 1:
        return t[0]
    n, c, h, w = t.shape
    cols = min(8, n)
    rows = math.ceil(n / cols)
    hh, ww = h + 2, w + 2
    grid = np.zeros((c, hh * rows + 2, ww * cols + 2), np.float32)
    for k in range(n):
        y, x = divmod(k, cols)
        grid[:, y * hh + 2 : y * hh + hh, x * ww + 2 : x * ww + ww] = t[k]
    return grid


class Image(Media):
    """An image, logged as `log({"key": Image(...)})` or a list of them under one key.

    data_or_path: a file path (PNG/JPG/JPEG/BMP; GIF is refused), a PIL image, a NumPy array
    (H, W), (H, W, 3|4) or (C, H, W) with C in 1, 3, 4, a torch tensor (made into a grid as
    torchvision's make_grid(normalize=True) does), a matplotlib figure or `matplotlib.pyplot`
    (its current figure), or another Image.
    mode: the PIL mode to convert to ("RGB", "L", ...). caption: shown under the image.
    file_type: png (default), jpg, jpeg or bmp. size: an int (longest side, aspect kept), or
    (w, h), (w, None), (None, h).

    Only checks and copies here; the file is encoded in the background after log().
    """

    KEY_TYPE: ClassVar[str] = "IMAGE"
    MEDIUM: ClassVar[str] = "image"

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        file_type: str | None = None,
        size: int | list[int | None] | tuple[int | None, ...] | None = None,
    ) -> None:
        if self._nested(data_or_path, caption):
            return
        ft = (file_type or "png").lower() if isinstance(file_type, str) or file_type is None else file_type
        if ft not in FILE_TYPES:
            raise ValueError(f"Unsupported file_type {file_type!r}. Accepted: {FILE_TYPES}")
        if mode is not None and not isinstance(mode, str):
            raise TypeError(f"mode must be a PIL mode string or None, not {type(mode).__name__}")
        _check_size(size)
        self.ext = ft
        self.mode = mode
        self.size = tuple(size) if isinstance(size, list) else size
        self.caption = check_caption(caption)
        self._file: bytes | None = None  # an encoded image (a file, a saved figure)
        self._pil: Any = None  # a PIL image (our copy)
        self._array: Any = None  # a NumPy array (our copy), HW or HWC
        self._tensor: Any = None  # a torch tensor's data as a NumPy array, for the grid
        data = data_or_path
        if isinstance(data, (str, os.PathLike)):
            self._file = self._read_file(os.fspath(data))
        elif instance_of(data, "PIL.Image", "Image"):
            if getattr(data, "format", None) == "GIF":
                raise TypeError("GIF images are not supported. Please convert to PNG or JPG first.")
            data.load()
            self._pil = data.copy()
        elif is_torch_tensor(data):
            self._tensor = data.detach().cpu().numpy().copy()
            if self._tensor.ndim not in (2, 3, 4):
                raise TypeError(f"Invalid tensor shape for Image: expected 2 to 4 dimensions, got {self._tensor.shape}")
        elif hasattr(data, "savefig"):
            buf = io.BytesIO()
            try:
                data.savefig(buf, format=ft)
            except Exception as exc:
                raise TypeError("Failed to convert matplotlib figure to image") from exc
            self._file = buf.getvalue()
        elif instance_of(data, "numpy", "ndarray"):
            self._array = self._check_array(require("numpy", _WHAT), data)
        else:
            raise TypeError(
                f"Unsupported image type: {type(data).__name__}. "
                "Please provide a file path, PIL.Image, numpy.ndarray, torch.Tensor, or matplotlib figure."
            )

    @staticmethod
    def _read_file(path: str) -> bytes:
        if path.lower().endswith(".gif"):
            raise TypeError("GIF images are not supported. Please convert to PNG or JPG first.")
        pil = _pil()
        try:
            with open(path, "rb") as f:
                content = f.read()
            with pil.open(io.BytesIO(content)) as probe:  # reads the header only
                fmt = probe.format
        except Exception as exc:
            raise ValueError(f"Failed to open image file: {path!r}") from exc
        if fmt == "GIF":
            raise TypeError("GIF images are not supported. Please convert to PNG or JPG first.")
        return content

    @staticmethod
    def _check_array(np: Any, arr: Any) -> Any:
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"Invalid numpy array dtype for Image: {arr.dtype} (numbers expected)")
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4)):
            return np.array(arr, copy=True)
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):
            chw = np.array(arr, copy=True)
            return chw[0] if chw.shape[0] == 1 else chw.transpose(1, 2, 0)
        raise TypeError(
            f"Invalid numpy array shape for Image: expected (H, W), (H, W, 3/4) or (1/3/4, H, W), got {arr.shape}"
        )

    @property
    def nbytes(self) -> int:
        for held in (self._array, self._tensor):
            if held is not None:
                return int(held.nbytes)
        if self._pil is not None:
            return self._pil.width * self._pil.height * len(self._pil.getbands())
        return len(self._file or b"")

    def encode(self) -> bytes:
        pil = _pil()
        if self._file is not None:
            with pil.open(io.BytesIO(self._file)) as opened:
                image = opened.convert(self.mode)
        elif self._pil is not None:
            image = self._pil.convert(self.mode)
        elif self._array is not None:
            np = require("numpy", _WHAT)
            image = pil.fromarray(np.clip(self._array, 0, 255).astype(np.uint8))
            if self.mode is not None and image.mode != self.mode:
                image = image.convert(self.mode)
        else:
            np = require("numpy", _WHAT)
            grid = _grid(np, self._tensor)
            hwc = np.clip(grid * np.float32(255), 0, 255).astype(np.uint8).transpose(1, 2, 0)
            image = pil.fromarray(np.ascontiguousarray(hwc))
            if self.mode is not None:
                image = image.convert(self.mode)
        image = _resize(image, self.size)
        out = io.BytesIO()
        image.save(out, format="jpeg" if self.ext == "jpg" else self.ext)
        return out.getvalue()
