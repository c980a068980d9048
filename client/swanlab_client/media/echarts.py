"""`swanlab_client.echarts`: pyecharts' charts and options, a Table, and three metric charts.

    from swanlab_client import echarts
    swanlab_client.log({"cm": echarts.confusion_matrix(y, y_hat, ["cat", "dog"])})

The pyecharts names (`Bar`, `Line`, `HeatMap`, ..., `options`) are pyecharts' own, imported on
first use (the media extra). `roc_curve`, `pr_curve` and `confusion_matrix` compute what
scikit-learn's functions of the same names compute, with NumPy alone.
"""

from __future__ import annotations

import functools
from typing import Any

from swanlab_client.media._base import require

_CHARTS = (
    "Bar Bar3D Boxplot Calendar EffectScatter Funnel Gauge Graph Grid HeatMap Kline Line Line3D Liquid "
    "Parallel PictorialBar Pie Polar Radar Sankey Scatter Scatter3D Sunburst Surface3D ThemeRiver Tree TreeMap"
).split()
_WHAT = "swanlab_client.echarts"

# The pyecharts names are resolved lazily by __getattr__, so only ours are listed for `import *`.
__all__ = ["confusion_matrix", "pr_curve", "roc_curve"]


def __dir__() -> list[str]:
    return sorted([*__all__, "Base", "Table", "options", *_CHARTS])


def __getattr__(name: str) -> Any:
    if name in _CHARTS:
        return getattr(require("pyecharts.charts", _WHAT), name)
    if name == "Base":
        return require("pyecharts.charts.base", _WHAT).Base
    if name == "options":
        return require("pyecharts.options", _WHAT)
    if name == "Table":
        return _table_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _table_class() -> type:
    """A pyecharts Table whose options are what SwanLab's table view reads (colDefs, rowData)."""
    components = require("pyecharts.components", _WHAT)
    utils = require("pyecharts.commons.utils", _WHAT)
    simplejson = require("simplejson", _WHAT)  # pyecharts' own JSON library: NaN becomes null

    class Table(components.Table):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.options: dict = {"_swanLab": "table", "headers": [], "rows": []}

        def add(self, headers: Any, rows: Any, attributes: dict | None = None, **kwargs: Any) -> Table:
            super().add(headers, rows, attributes, **kwargs)
            self.options.update({"headers": headers, "rows": rows})
            return self

        def set_global_opts(self, title_opts: Any = None) -> None:
            raise NotImplementedError("set_global_opts is not supported in swanlab_client.echarts.Table")

        def dump_options(self) -> str:
            data = dict(utils.remove_key_with_none_value(self.options))
            headers, rows = data.pop("headers", []), data.pop("rows", [])
            data["colDefs"] = [{"field": h} for h in headers]
            data["rowData"] = [dict(zip(headers, row, strict=False)) for row in rows]
            return utils.replace_placeholder(simplejson.dumps(data, default=_json_default(utils), ignore_nan=True))

    Table.__module__ = __name__
    return Table


def _json_default(utils: Any) -> Any:
    import datetime

    def default(o: Any) -> Any:
        if isinstance(o, (datetime.date, datetime.datetime)):
            return o.isoformat()
        if isinstance(o, utils.JsCode):
            return o.js_code
        opts = getattr(o, "opts", None)
        if opts is not None:
            return [utils.remove_key_with_none_value(i) for i in opts] if isinstance(opts, list) else opts
        return str(o)

    return default


# -- metrics, as scikit-learn computes them -------------------------------------------------


def _binary_curve(y_true: Any, y_score: Any) -> tuple[Any, Any, Any]:
    """False and true positives at each distinct score, highest first (sklearn's _binary_clf_curve)."""
    np = require("numpy", _WHAT)
    y_true = np.asarray(y_true).ravel()
    y_score = np.asarray(y_score, dtype=np.float64).ravel()
    if y_true.shape != y_score.shape:
        raise ValueError(f"ground_truth and predictions differ in length: {y_true.size} != {y_score.size}")
    classes = np.unique(y_true)
    if classes.size > 2 or not set(classes.tolist()) <= {0, 1, -1}:
        raise ValueError(f"ground_truth must be binary labels (0/1 or -1/1), got {classes.tolist()[:10]}")
    positive = (y_true == 1).astype(np.float64)
    order = np.argsort(y_score, kind="mergesort")[::-1]
    y_score, positive = y_score[order], positive[order]
    last = np.r_[np.where(np.diff(y_score))[0], y_true.size - 1]
    tps = np.cumsum(positive)[last]
    fps = 1 + last - tps
    return fps, tps, y_score[last]


def _auc(np: Any, x: Any, y: Any) -> float:
    dx = np.diff(x)
    direction = -1 if np.any(dx < 0) and np.all(dx <= 0) else 1
    return float(direction * np.trapezoid(y, x))


def _title(opts: Any, title: Any, default: str) -> Any:
    if title is True:
        return opts.TitleOpts(title=default, pos_left="center")
    if isinstance(title, str):
        return opts.TitleOpts(title=title, pos_left="center")
    return opts.TitleOpts()


def roc_curve(ground_truth: Any, predictions: Any, title: Any = None) -> Any:
    """A Line chart of the ROC curve (TPR over FPR) and the diagonal; title=True shows the AUC."""
    np = require("numpy", _WHAT)
    opts = require("pyecharts.options", _WHAT)
    fps, tps, _ = _binary_curve(ground_truth, predictions)
    if len(fps) > 2:  # sklearn's drop_intermediate: only the corners of the curve
        keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    no_labels = opts.LabelOpts(is_show=False)
    line = __getattr__("Line")()
    line.add_xaxis(xaxis_data=fpr.tolist())
    line.add_yaxis(
        series_name="TPR",
        y_axis=tpr.tolist(),
        is_smooth=True,
        is_symbol_show=False,
        label_opts=no_labels,
        linestyle_opts=opts.LineStyleOpts(width=2),
    )
    line.add_yaxis(
        series_name="",
        y_axis=fpr.tolist(),
        is_symbol_show=False,
        label_opts=no_labels,
        linestyle_opts=opts.LineStyleOpts(width=2, type_="dashed"),
    )
    line.set_global_opts(
        title_opts=_title(opts, title, f"ROC Curve (AUC = {_auc(np, fpr, tpr):.2f})"),
        legend_opts=opts.LegendOpts(is_show=False),
        xaxis_opts=opts.AxisOpts(type_="value", name="FPR"),
        yaxis_opts=opts.AxisOpts(type_="value", name="TPR"),
    )
    return line


def pr_curve(ground_truth: Any, predictions: Any, title: Any = None) -> Any:
    """A Line chart of precision over recall; title=True shows the area under it."""
    np = require("numpy", _WHAT)
    opts = require("pyecharts.options", _WHAT)
    fps, tps, _ = _binary_curve(ground_truth, predictions)
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    precision, recall = np.r_[precision[::-1], 1], np.r_[recall[::-1], 0]
    line = __getattr__("Line")()
    line.add_xaxis(xaxis_data=recall.tolist())
    line.add_yaxis(
        series_name="Precision",
        y_axis=precision.tolist(),
        is_smooth=True,
        is_symbol_show=False,
        label_opts=opts.LabelOpts(is_show=False),
        linestyle_opts=opts.LineStyleOpts(width=2),
    )
    line.set_global_opts(
        xaxis_opts=opts.AxisOpts(type_="value", name="Recall"),
        yaxis_opts=opts.AxisOpts(type_="value", name="Precision"),
        legend_opts=opts.LegendOpts(is_show=False),
        title_opts=_title(opts, title, f"PR Curve (AUC = {_auc(np, recall, precision):.2f})"),
    )
    return line


def confusion_matrix_values(ground_truth: Any, predictions: Any) -> Any:
    """Counts [true label i, predicted label j] over the sorted labels of both (sklearn's)."""
    np = require("numpy", _WHAT)
    y_true, y_pred = np.asarray(ground_truth).ravel(), np.asarray(predictions).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"ground_truth and predictions differ in length: {y_true.size} != {y_pred.size}")
    labels = np.unique(np.r_[y_true, y_pred])
    n = labels.size
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (np.searchsorted(labels, y_true), np.searchsorted(labels, y_pred)), 1)
    return cm


def confusion_matrix(ground_truth: Any, predictions: Any, class_names: list[str], title: Any = None) -> Any:
    """A HeatMap of the confusion matrix, each row normalized by its true label's count."""
    np = require("numpy", _WHAT)
    opts = require("pyecharts.options", _WHAT)
    cm = confusion_matrix_values(ground_truth, predictions).astype(float)
    if cm.shape[0] != len(class_names):
        raise ValueError(f"{len(class_names)} class_names for {cm.shape[0]} labels in the data")
    with np.errstate(invalid="ignore", divide="ignore"):
        cm = cm / cm.sum(axis=1)[:, np.newaxis]
    data = [[a, b, cm[i][j]] for i, a in enumerate(class_names) for j, b in enumerate(class_names)]
    split = opts.SplitLineOpts(is_show=True, linestyle_opts=opts.LineStyleOpts(color="#fff", width=2))
    heatmap = __getattr__("HeatMap")()
    heatmap.add_xaxis(class_names)
    heatmap.add_yaxis(
        series_name="Confusion Matrix",
        yaxis_data=class_names,
        value=data,
        label_opts=opts.LabelOpts(is_show=True, position="inside"),
    )
    blues = ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]
    heatmap.set_global_opts(
        title_opts=_title(opts, title, "Confusion Matrix"),
        legend_opts=opts.LegendOpts(is_show=False),
        xaxis_opts=opts.AxisOpts(name="Prediction", type_="category", splitline_opts=split),
        yaxis_opts=opts.AxisOpts(name="Ground truth", type_="category", splitline_opts=split),
        visualmap_opts=opts.VisualMapOpts(
            pos_right="right",
            pos_top="center",
            orient="vertical",
            min_=0,
            max_=1,
            is_piecewise=False,
            range_color=blues,
        ),
    )
    return heatmap
