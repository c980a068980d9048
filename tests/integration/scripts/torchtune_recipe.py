"""A tiny Llama 2 trained a few steps on random tokens, on the CPU, in the loop a torchtune
recipe runs: the model, optimizer, loss and metric logger instantiated from an OmegaConf config
by torchtune.config.instantiate, the config logged by the logger, metrics by log_dict() and
log(), close() at the end.

The official SDK 0.10.3's logger imports torchtune.utils.metric_logging and
torchtune.utils._distributed, which torchtune 0.3 moved to torchtune.training: the script names
the moved modules by their old names too, so that the official logger imports with torchtune
0.6.1 (swanlab_client's takes torchtune.training's). --no-old-names leaves them out.
"""

import sys
import time

import torch
import torchtune.training._distributed
import torchtune.training.metric_logging
import torchtune.utils
from omegaconf import OmegaConf
from torchtune import config

if "--no-old-names" not in sys.argv[1:]:
    for name in ("metric_logging", "_distributed"):
        module = sys.modules[f"torchtune.training.{name}"]
        sys.modules[f"torchtune.utils.{name}"] = module
        setattr(torchtune.utils, name, module)

CONFIG = """
output_dir: out
seed: 0
batch_size: 4
seq_len: 8
max_steps: 6
vocab_size: 32
model:
  _component_: torchtune.models.llama2.llama2
  vocab_size: ${vocab_size}
  num_layers: 1
  num_heads: 2
  num_kv_heads: 2
  embed_dim: 16
  max_seq_len: 16
optimizer:
  _component_: torch.optim.AdamW
  lr: 0.01
  weight_decay: 0.0
loss:
  _component_: torch.nn.CrossEntropyLoss
metric_logger:
  _component_: swanlab.integration.torchtune.SwanLabLogger
  project: integ
  experiment_name: torchtune-${model.num_layers}layer
"""

cfg = OmegaConf.create(CONFIG)
torch.manual_seed(cfg.seed)
metric_logger = config.instantiate(cfg.metric_logger)
metric_logger.log_config(cfg)
model = config.instantiate(cfg.model)
optimizer = config.instantiate(cfg.optimizer, model.parameters())
loss_fn = config.instantiate(cfg.loss)
generator = torch.Generator().manual_seed(cfg.seed)
for step in range(1, cfg.max_steps + 1):
    start = time.perf_counter()
    tokens = torch.randint(0, cfg.vocab_size, (cfg.batch_size, cfg.seq_len), generator=generator)
    logits = model(tokens)
    loss = loss_fn(logits[:, :-1].reshape(-1, cfg.vocab_size), tokens[:, 1:].reshape(-1))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    metric_logger.log_dict(
        {
            "loss": loss.item(),
            "lr": optimizer.param_groups[0]["lr"],
            "tokens_per_second_per_gpu": tokens.numel() / (time.perf_counter() - start),
        },
        step=step,
    )
    if step % 3 == 0:
        with torch.no_grad():
            held_out = torch.randint(0, cfg.vocab_size, (cfg.batch_size, cfg.seq_len), generator=generator)
            logits = model(held_out)
            val = loss_fn(logits[:, :-1].reshape(-1, cfg.vocab_size), held_out[:, 1:].reshape(-1))
        metric_logger.log("val_loss", val.item(), step=step)
metric_logger.close()
