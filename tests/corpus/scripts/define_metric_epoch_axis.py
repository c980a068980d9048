"""Validation metrics logged every step but drawn against the epoch: one point per epoch value stays."""

import swanlab

swanlab.init(project="define_metric_epoch_axis", experiment_name="epochs")
swanlab.define_metric("val/*", step_metric="epoch")
swanlab.define_metric("lr", x_axis="epoch")
swanlab.define_metric("grad_norm", x_axis="epoch", step_sync=False)

for step in range(30):
    epoch = step // 10
    row = {"val/loss": 1.0 / (step + 1), "val/acc": step / 30}
    if step % 10 == 0:
        row["epoch"] = epoch  # logged with the row that starts the epoch; step_sync adds it to the others
    swanlab.log(row)
    swanlab.log({"lr": 0.1 / (epoch + 1), "epoch": epoch})
    swanlab.log({"grad_norm": 0.01 * step})
swanlab.finish()
