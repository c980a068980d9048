"""Save the training config and a checkpoint with swanlab.save(), live and at the end."""

import json
from pathlib import Path

import swanlab

Path("configs").mkdir(exist_ok=True)
Path("configs/train.yaml").write_text("lr: 0.001\nbatch_size: 16\n")
Path("configs/model.json").write_text(json.dumps({"layers": 4, "dim": 128}))

swanlab.init(project="save_artifacts", experiment_name="with-files", config="configs/model.json")
saved = swanlab.save("configs/*", policy="now")
print("saved", sorted(saved))

for step in range(10):
    swanlab.log({"loss": 0.9**step})
    Path("checkpoint.txt").write_text(f"weights at step {step}\n")
swanlab.save("checkpoint.txt", policy="end")
swanlab.finish()
