"""A NumPy MLP on MNIST-shaped data: the quick-start loop (config at init, loss and acc per step, val per epoch)."""

import numpy as np
import swanlab

rng = np.random.default_rng(0)
X = rng.normal(size=(256, 784)).astype(np.float32)
y = rng.integers(0, 10, size=256)

run = swanlab.init(
    project="mnist_mlp",
    experiment_name="mlp-baseline",
    description="NumPy MLP on MNIST-shaped noise",
    config={"learning_rate": 0.05, "batch_size": 32, "epochs": 3, "hidden": 64, "optimizer": "sgd"},
)

w1 = rng.normal(scale=0.05, size=(784, run.config.hidden))
w2 = rng.normal(scale=0.05, size=(run.config.hidden, 10))
lr = run.config["learning_rate"]
step = 0
for epoch in range(run.config.epochs):
    for i in range(0, len(X), run.config.batch_size):
        xb, yb = X[i : i + run.config.batch_size], y[i : i + run.config.batch_size]
        h = np.maximum(xb @ w1, 0)
        logits = h @ w2
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        loss = float(-np.log(p[np.arange(len(yb)), yb] + 1e-9).mean())
        acc = float((p.argmax(1) == yb).mean())
        grad = p
        grad[np.arange(len(yb)), yb] -= 1
        w2 -= lr * h.T @ grad / len(yb)
        swanlab.log({"train/loss": loss, "train/acc": acc}, step=step)
        step += 1
    val_acc = float((np.maximum(X @ w1, 0) @ w2).argmax(1).__eq__(y).mean())
    swanlab.log({"val/acc": val_acc, "epoch": epoch}, step=step)
    print(f"epoch {epoch}: val acc {val_acc:.4f}")

swanlab.finish()
