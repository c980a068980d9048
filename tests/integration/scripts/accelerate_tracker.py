"""A tiny regression trained with Accelerate on the CPU, logging through an Accelerate tracker.

--tracker builtin: `Accelerator(log_with="swanlab")`, accelerate's own tracker;
--tracker swanlab: `swanlab.integration.accelerate.SwanLabTracker`.
"""

import argparse

import torch
from accelerate import Accelerator

parser = argparse.ArgumentParser()
parser.add_argument("--tracker", choices=["builtin", "swanlab"], required=True)
args = parser.parse_args()
project = "integ"

if args.tracker == "builtin":
    accelerator = Accelerator(cpu=True, log_with="swanlab")
    accelerator.init_trackers(
        project, config={"lr": 0.1, "epochs": 3}, init_kwargs={"swanlab": {"experiment_name": "acc"}}
    )
else:
    from swanlab.integration.accelerate import SwanLabTracker

    accelerator = Accelerator(cpu=True, log_with=SwanLabTracker(project=project, experiment_name="acc"))
    accelerator.init_trackers(project, config={"lr": 0.1, "epochs": 3})

torch.manual_seed(0)
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(32, 3)
y = x.sum(dim=1, keepdim=True)
model, optimizer = accelerator.prepare(model, optimizer)
for step in range(12):
    loss = torch.nn.functional.mse_loss(model(x), y)
    accelerator.backward(loss)
    optimizer.step()
    optimizer.zero_grad()
    accelerator.log({"train/loss": loss.item(), "lr": 0.1}, step=step)
accelerator.end_training()
