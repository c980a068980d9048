"""define_metric: eval metrics against an epoch axis, a section for a prefix, a hidden debug key."""

import swanlab

swanlab.init(project="define_metric_axes", experiment_name="axes")
swanlab.define_metric("epoch", hidden=True)
swanlab.define_metric("eval/*", step_metric="epoch", section_name="Evaluation")
swanlab.define_metric("debug/grad_scale", hidden=True)
swanlab.define_metric("train/loss", section_name="Training")

for step in range(24):
    swanlab.log({"train/loss": 1.0 / (1 + step), "debug/grad_scale": 2.0 ** (step % 4)})
    if step % 6 == 5:
        epoch = step // 6
        swanlab.log({"epoch": epoch, "eval/acc": 0.5 + 0.1 * epoch, "eval/f1": 0.4 + 0.1 * epoch})
swanlab.finish()
