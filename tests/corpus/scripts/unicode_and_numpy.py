"""Keys and values from real scripts: Chinese metric names, acc(%), a:b, nested dicts, NumPy scalars, NaN and inf."""

import numpy as np
import swanlab

swanlab.init(project="unicode_and_numpy", experiment_name="中文实验", config={"学习率": 0.01, "batch": 8, "β1": 0.9})
for step in range(12):
    loss = np.float32(1.0) / (step + 1)
    swanlab.log(
        {
            "训练/损失": loss,
            "acc(%)": np.float64(50 + step),
            "top1:val": step % 3,
            "eval": {"bleu": np.float16(0.25), "rouge": {"l": 0.5}},
            "one_element": np.array([step * 2.0]),
            "lr": "0.001",
            "spiky": float("nan")
            if step == 3
            else (float("inf") if step == 4 else -float("inf") if step == 5 else 1.0),
            "flag": step % 2 == 0,
        },
        step=step,
    )
print("平均损失", 0.25)
swanlab.finish()
