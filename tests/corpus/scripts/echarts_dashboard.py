"""Custom charts with swanlab.echarts: bar, line, pie, scatter, heatmap, a Table, a chart logged bare."""

import swanlab
from swanlab import echarts

swanlab.init(project="echarts_dashboard", experiment_name="charts")
classes = ["cat", "dog", "bird"]
for step in range(2):
    bar = echarts.Bar().add_xaxis(classes).add_yaxis("count", [10 + step, 20, 30 - step])
    line = echarts.Line().add_xaxis(["e1", "e2", "e3"]).add_yaxis("loss", [0.9, 0.5 - 0.1 * step, 0.3])
    pie = echarts.Pie().add("split", [("train", 80), ("val", 10 + step), ("test", 10)])
    scatter = echarts.Scatter().add_xaxis([1, 2, 3]).add_yaxis("emb", [3, 1, 2 + step])
    heat = (
        echarts.HeatMap()
        .add_xaxis(classes)
        .add_yaxis("corr", classes, [[i, j, (i + j + step) % 3] for i in range(3) for j in range(3)])
        .set_global_opts(visualmap_opts=echarts.options.VisualMapOpts(max_=3))
    )
    table = echarts.Table()
    table.add(["class", "precision", "recall"], [[c, 0.8 + 0.01 * step, 0.7] for c in classes])
    swanlab.log(
        {
            "charts/bar": swanlab.ECharts(bar, caption="per class"),
            "charts/line": line,
            "charts/pie": pie,
            "charts/scatter": scatter,
            "charts/heatmap": heat,
            "metrics_table": table,
        },
        step=step,
    )
swanlab.log_echarts(key="charts/extra", data=echarts.Bar().add_xaxis(["x"]).add_yaxis("y", [1]), step=2)
swanlab.finish()
