"""A CIFAR-10 script driven by argparse: the Namespace goes into the config through config.update()."""

import argparse

import numpy as np
import swanlab

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--momentum", type=float, default=0.9)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--arch", default="resnet18")
parser.add_argument("--augment", action="store_true", default=True)
args = parser.parse_args([])

swanlab.init(project="argparse_cifar", experiment_name=f"{args.arch}-lr{args.lr}", config=vars(args))
swanlab.config.update(argparse.Namespace(weight_decay=5e-4, classes=10))

rng = np.random.default_rng(1)
steps_per_epoch = 12
for epoch in range(args.epochs):
    for it in range(steps_per_epoch):
        global_step = epoch * steps_per_epoch + it
        loss = 2.3 * 0.93**global_step + rng.uniform(0, 0.05)
        swanlab.log({"train_loss": loss, "lr": args.lr * 0.1 ** (epoch // 1)}, step=global_step)
    top1 = 30 + 20 * epoch + float(rng.uniform())
    swanlab.log({"test/top1": top1, "test/top5": min(99.0, top1 + 40)}, step=(epoch + 1) * steps_per_epoch - 1)
swanlab.finish()
