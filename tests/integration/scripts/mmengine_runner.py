"""A tiny regressor trained for 2 epochs by MMEngine's Runner on the CPU, logging through
SwanLab's visualization backend, named in a config file as SwanLab's docs show."""

from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, HOOKS, METRICS, MODELS
from mmengine.runner import Runner
from torch.utils.data import Dataset

CONFIG = """
custom_imports = dict(imports=["swanlab.integration.mmengine"], allow_failed_imports=False)
model = dict(type="TinyRegressor", hidden=4)
work_dir = "work"
train_dataloader = dict(
    batch_size=4,
    dataset=dict(type="TinyData", size=24, seed=0),
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="default_collate"),
)
val_dataloader = dict(
    batch_size=4,
    dataset=dict(type="TinyData", size=8, seed=1),
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="default_collate"),
)
val_evaluator = dict(type="MeanSquaredError")
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.05, momentum=0.9))
default_hooks = dict(logger=dict(type="LoggerHook", interval=2), checkpoint=None)
custom_hooks = [dict(type="PredictionImageHook")]
visualizer = dict(
    type="Visualizer",
    vis_backends=[dict(type="SwanlabVisBackend", init_kwargs=dict(project="integ", experiment_name="mmengine"))],
)
randomness = dict(seed=0)
launcher = "none"
"""


@MODELS.register_module()
class TinyRegressor(BaseModel):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def forward(self, inputs, targets, mode="tensor"):
        predictions = self.net(inputs)
        if mode == "loss":
            return {"loss": torch.nn.functional.mse_loss(predictions, targets)}
        return list(zip(predictions, targets, strict=True))


@DATASETS.register_module()
class TinyData(Dataset):
    def __init__(self, size: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(size, 3, generator=generator)
        self.targets = self.inputs.sum(dim=1, keepdim=True)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict:
        return {"inputs": self.inputs[index], "targets": self.targets[index]}


@METRICS.register_module()
class MeanSquaredError(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results.extend(float((p - t).pow(2).sum()) for p, t in data_samples)

    def compute_metrics(self, results) -> dict:
        return {"mse": sum(results) / len(results)}


@HOOKS.register_module()
class PredictionImageHook(Hook):
    """Draws an image per validation, as a detector's visualization hook would."""

    def after_val_epoch(self, runner, metrics=None) -> None:
        image = np.full((8, 8, 3), min(255, int(metrics["mse"] * 100)), dtype=np.uint8)
        runner.visualizer.add_image("val/prediction", image, step=runner.epoch)


torch.manual_seed(0)
Path("tiny_config.py").write_text(CONFIG)
Runner.from_cfg(Config.fromfile("tiny_config.py")).train()
