"""A GAN-style loop: scalars and media in one log() call, images every few steps, a config changed mid-run."""

import numpy as np
import swanlab

rng = np.random.default_rng(5)
run = swanlab.init(project="mixed_media_training", experiment_name="gan", config={"z_dim": 16, "img_size": 8})
for step in range(20):
    row = {"loss/generator": 1.0 + np.sin(step / 3), "loss/discriminator": 0.7 - 0.01 * step}
    if step % 5 == 0:
        fakes = rng.uniform(0, 1, size=(4, 8, 8))
        row["samples"] = [swanlab.Image(f, caption=f"z{i}") for i, f in enumerate(fakes * 255)]
        row["samples_text"] = swanlab.Text(f"step {step}: {fakes.mean():.3f}")
    run.log(row, step=step)
    if step == 10:
        run.config.update({"lr_decay_at": step})
run.finish()
