"""Rollouts of an RL agent as GIFs: Video from a path and from bytes, log_video."""

import io

import numpy as np
import swanlab
from PIL import Image as PILImage

frames = [PILImage.fromarray(np.full((12, 12, 3), 40 * i, dtype=np.uint8)) for i in range(4)]
frames[0].save("rollout.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
buffer = io.BytesIO()
frames[-1].save(buffer, format="GIF", save_all=True, append_images=frames[:1], duration=50)

swanlab.init(project="video_gif", experiment_name="ppo")
for episode in range(3):
    swanlab.log({"episode/return": 10.0 * episode, "episode/length": 100 + episode}, step=episode)
swanlab.log({"rollout": swanlab.Video("rollout.gif", caption="ep 2")}, step=2)
swanlab.log({"rollout_bytes": swanlab.Video(buffer.getvalue())}, step=2)
swanlab.log_video(key="rollout_helper", data="rollout.gif", caption="helper", step=3)
swanlab.finish()
