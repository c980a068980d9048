"""Evaluation in the background with async_log(): the training loop does not wait for it."""

import time

import swanlab


def evaluate(epoch):
    time.sleep(0.01)
    return {"eval/acc": 0.6 + 0.1 * epoch, "eval/epoch": epoch}


swanlab.init(project="async_eval", experiment_name="async")
pending = None
for epoch in range(3):
    for it in range(5):
        swanlab.log({"train/loss": 1.0 / (1 + epoch * 5 + it)}, step=epoch * 5 + it)
    # One evaluation in flight at a time: the previous one ends before the next starts.
    if pending is not None:
        pending.result()
    pending = swanlab.async_log(evaluate, epoch, step=100 + epoch)
swanlab.finish()
