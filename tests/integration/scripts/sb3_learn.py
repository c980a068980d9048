"""A2C on CartPole for a few hundred timesteps (CPU), logging through the SwanLab callback."""

import gymnasium as gym
import swanlab
from stable_baselines3 import A2C
from swanlab.integration.sb3 import SwanLabCallback

env = gym.make("CartPole-v1")
model = A2C("MlpPolicy", env, n_steps=8, seed=0, device="cpu", policy_kwargs={"net_arch": [8]})
model.learn(total_timesteps=400, callback=SwanLabCallback(project="integ", experiment_name="sb3"), log_interval=10)
swanlab.finish()
