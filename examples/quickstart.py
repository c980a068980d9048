"""A small training-style run logged through swanlabd (no torch needed).

    python examples/quickstart.py

The first init() on a machine starts the daemon for you (detached; it keeps running and serves
every later run). The run is recorded offline: `swanlabctl sync` uploads it to SwanLab later.
"""

import math
import random

import swanlab_client as swanlab


def main() -> None:
    config = {"lr": 0.05, "epochs": 5, "steps_per_epoch": 200, "seed": 0}
    run = swanlab.init(project="quickstart", experiment_name="toy-regression", config=config, mode="offline")
    rng = random.Random(config["seed"])
    w, b = 0.0, 0.0  # fit y = 3x + 1 with SGD
    step = 0
    for epoch in range(config["epochs"]):
        for _ in range(config["steps_per_epoch"]):
            x = rng.uniform(-1, 1)
            y = 3 * x + 1 + rng.gauss(0, 0.1)
            err = (w * x + b) - y
            w -= config["lr"] * err * x
            b -= config["lr"] * err
            swanlab.log({"train": {"loss": err * err, "w": w, "b": b}}, step=step)
            step += 1
        val = sum(((w * x + b) - (3 * x + 1)) ** 2 for x in (i / 50 - 1 for i in range(101))) / 101
        swanlab.log({"val/mse": val, "val/acc": math.exp(-val), "epoch": epoch}, step=step - 1)
    swanlab.finish()
    print(f"run {run.run_id}: {step} steps logged, w={w:.3f} b={b:.3f}")
    print(f"run folder: {run.run_dir}")
    print("see it with:  swanlabctl ls")
    print(f"              swanlabctl dump {run.run_dir}")
    print(f"upload it:    swanlabctl login && swanlabctl sync {run.run_id}")


if __name__ == "__main__":
    main()
