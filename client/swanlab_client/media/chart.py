"""`ECharts`: a pyecharts chart (or `echarts.Table`) stored as its options JSON."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from swanlab_client.media._base import Media, check_caption


class ECharts(Media):
    """A chart: any object with pyecharts' `dump_options()` (every `swanlab_client.echarts`
    chart and Table). The options are dumped here, so later changes to the chart are not seen."""

    KEY_TYPE: ClassVar[str] = "ECHARTS"
    MEDIUM: ClassVar[str] = "echarts"

    def __init__(self, chart: Any, caption: str | None = None) -> None:
        if self._nested(chart, caption):
            return
        if not callable(getattr(chart, "dump_options", None)):
            raise TypeError(
                f"Unsupported chart type: {type(chart).__name__}. "
                "Expected a pyecharts chart object with dump_options() method."
            )
        self.ext = "json"
        self.caption = check_caption(caption)
        self.json_content: str = chart.dump_options()

    @property
    def nbytes(self) -> int:
        return len(self.json_content)

    def encode(self) -> bytes:
        return self.json_content.encode("utf-8")


def is_chart(value: object) -> bool:
    """A pyecharts chart or table, which log() wraps in ECharts as the official SDK does."""
    if "pyecharts" not in sys.modules:
        return False
    return type(value).__module__.startswith(("pyecharts.", "swanlab_client.")) and callable(
        getattr(value, "dump_options", None)
    )
