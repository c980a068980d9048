"""wandb's calls copied into SwanLab by sync_wandb(wandb_run=...); wandb.init() starts the run.

Argument `true`: W&B keeps its run, offline here (no network); `false`: sync_wandb makes it
offline itself, so wandb.init() is given no mode; `disabled`: W&B's no-op run, which gets no
Run.log or Run.finish, so only the config W&B gives Config.update reaches SwanLab.
"""

import sys

import numpy as np
import swanlab
import wandb

case = sys.argv[1]
swanlab.sync_wandb(wandb_run=case != "false")
wandb.init(
    project="integ",
    name=f"wandb-run-{case}",
    notes="copied by sync_wandb",
    tags=["bridge"],
    config={"lr": 0.01, "layers": [16, 8], "optimizer": {"name": "sgd", "momentum": 0.9}},
    **({"mode": "offline"} if case == "true" else {"mode": "disabled"} if case == "disabled" else {}),
)
wandb.config.update({"batch_size": 32})
wandb.config["epochs"] = 3  # item assignment is not patched: W&B only, as officially
for step in range(5):
    wandb.log({"loss": 1 / (step + 1), "acc": step / 5, "ok": step % 2 == 0, "as_text": str(step / 2)})
    wandb.log({"np64": np.float64(step), "np32": np.float32(step), "hist": wandb.Histogram([1, 2, 3])})
    wandb.log({"lagging": step * 2}, commit=False)
wandb.log({"sample": wandb.Image(np.full((8, 8, 3), 90, np.uint8), caption="gray")})
wandb.log({"samples": [wandb.Image(np.full((4, 4, 3), v, np.uint8)) for v in (0, 255)]}, step=20)
wandb.log({"late": 1.0}, step=25)
wandb.finish()
