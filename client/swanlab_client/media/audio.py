"""`Audio`: NumPy arrays (channels, frames) and audio files -> WAV, written by soundfile as the
official SDK writes it (16-bit PCM), so the same array gives the same file."""

from __future__ import annotations

import io
import os
from typing import Any, ClassVar

from swanlab_client.media._base import Media, check_caption, instance_of, require

_WHAT = "swanlab_client.Audio"
_DTYPES = ("float32", "float64", "int16", "int32")


class Audio(Media):
    """Audio, logged as `log({"key": Audio(...)})` or a list of them under one key.

    data_or_path: a NumPy array of shape (frames,) or (channels, frames) with 1 or 2 channels
    and dtype float32, float64, int16 or int32, a path to an audio file soundfile can read (its
    own sample rate is used), or another Audio. sample_rate: of the array, in Hz.
    """

    KEY_TYPE: ClassVar[str] = "AUDIO"
    MEDIUM: ClassVar[str] = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int = 44100, caption: str | None = None) -> None:
        if self._nested(data_or_path, caption):
            return
        self.ext = "wav"
        self.caption = check_caption(caption)
        self._file: bytes | None = None
        self._array: Any = None
        self.sample_rate = sample_rate
        if isinstance(data_or_path, (str, os.PathLike)):
            sf = require("soundfile", _WHAT)
            path = os.fspath(data_or_path)
            try:
                self.sample_rate = sf.info(path).samplerate  # reads the header: a bad file fails here
                with open(path, "rb") as f:
                    self._file = f.read()
            except Exception as exc:
                raise ValueError(f"Failed to open audio file: {path!r}: {exc}") from exc
        elif instance_of(data_or_path, "numpy", "ndarray"):
            np = require("numpy", _WHAT)
            arr = data_or_path
            if arr.dtype.name not in _DTYPES:
                raise TypeError(f"Invalid numpy array dtype for audio, supported: {list(_DTYPES)}, but got {arr.dtype}")
            if arr.ndim == 1:
                arr = arr.reshape(1, -1)
            if arr.ndim != 2 or arr.shape[0] not in (1, 2):
                raise TypeError(
                    "Invalid numpy array for audio, support shape is (num_channels, num_frames) with 1 or 2 channels"
                )
            if type(sample_rate) is not int or sample_rate <= 0:
                raise ValueError(f"sample_rate must be a positive int, not {sample_rate!r}")
            self._array = np.array(arr, copy=True)
        else:
            raise TypeError("Unsupported audio type. Please provide a valid path or numpy array.")

    @property
    def nbytes(self) -> int:
        return int(self._array.nbytes) if self._array is not None else len(self._file or b"")

    def encode(self) -> bytes:
        sf = require("soundfile", _WHAT)
        data = self._array.T if self._array is not None else sf.read(io.BytesIO(self._file or b""))[0]
        out = io.BytesIO()
        sf.write(out, data, self.sample_rate, format="wav")
        return out.getvalue()
