"""The steps of one key sent so far, as rising runs of one stride plus the stragglers.

A point whose step is at or below a key's highest sent step is sent unless that very step went
up already (the official SDK drops only exact repeats, and steps at or below where a resumed run
began): an evaluation logged late, an `async_log()` result that lands after a later step. So
the uploader must answer "was step s of this key sent?" for any s, for the life of the upload.

A set of every step would hold 60 bytes or more per point. Training logs steps 0, 1, 2... or
every N steps, so runs `(start, stride, count)` hold a key's whole history in a few numbers;
steps that arrive below the top go in a plain set (few, in any real run). Irregular rising
steps cost at worst one run per two points, in `array`s of 8-byte integers.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence

__all__ = ["StepSet"]


class StepSet:
    """A set of non-negative steps below 2**63, cheap for rising, evenly spaced ones."""

    __slots__ = ("_counts", "_extra", "_starts", "_strides", "top")

    def __init__(self) -> None:
        self._starts = array("q")
        self._strides = array("q")  # 0 for a run of one step
        self._counts = array("q")
        self._extra: set[int] = set()  # steps added below `top`
        self.top = -1  # the highest step in the set

    def __contains__(self, step: int) -> bool:
        if step > self.top or step < 0:
            return False
        if step in self._extra:
            return True
        i = bisect.bisect_right(self._starts, step) - 1
        if i < 0:
            return False
        offset = step - self._starts[i]
        stride = self._strides[i]
        if stride == 0:
            return offset == 0
        return offset % stride == 0 and offset // stride < self._counts[i]

    def __len__(self) -> int:
        return sum(self._counts) + len(self._extra)

    def add(self, step: int) -> None:
        if step > self.top:
            self._append(step)
        elif step not in self:
            self._extra.add(step)

    def add_rising(self, steps: Sequence[int]) -> None:
        """Add steps that rise strictly, all above `top`: one run if they are evenly spaced."""
        if len(steps) < 3 or steps[0] <= self.top:
            for step in steps:
                self.add(step)
            return
        first, stride = steps[0], steps[1] - steps[0]
        if list(range(first, steps[-1] + 1, stride)) != list(steps):
            for step in steps:
                self._append(step)
            return
        if self._counts and self._continues(first, stride):
            self._append(first)
            self._counts[-1] += len(steps) - 1
        else:
            self._starts.append(first)
            self._strides.append(stride)
            self._counts.append(len(steps))
        self.top = steps[-1]

    def update(self, other: StepSet) -> None:
        """Add every step of `other`."""
        for start, stride, count in zip(other._starts, other._strides, other._counts, strict=True):
            if count > 2 and start > self.top:
                self.add_rising(range(start, start + stride * count, stride))
            else:
                for n in range(count):
                    self.add(start + stride * n)
        for step in other._extra:
            self.add(step)

    def _continues(self, step: int, stride: int) -> bool:
        """The last run goes on to `step` with this stride (or takes it, being one step so far)."""
        last_stride = self._strides[-1]
        if last_stride == 0:
            return step - self._starts[-1] == stride
        return last_stride == stride and step == self._starts[-1] + stride * self._counts[-1]

    def _append(self, step: int) -> None:
        """Add a step above `top`: it extends the last run or begins one."""
        if self._counts:
            last_stride = self._strides[-1]
            if last_stride == 0:
                self._strides[-1] = step - self._starts[-1]
                self._counts[-1] = 2
                self.top = step
                return
            if step == self._starts[-1] + last_stride * self._counts[-1]:
                self._counts[-1] += 1
                self.top = step
                return
        self._starts.append(step)
        self._strides.append(0)
        self._counts.append(1)
        self.top = step
