"""Fine-tuning tutorial style: the config is filled before init(), init() adds to it, the run updates it."""

import math

import swanlab

swanlab.config.update({"model": "qwen2-0.5b", "lora_rank": 8, "lora_alpha": 16})
swanlab.config["max_seq_len"] = 512
swanlab.config.dataset = "alpaca-zh"

swanlab.init(
    project="finetune_config_before_init",
    experiment_name="lora-r8",
    config={"learning_rate": 2e-4, "warmup_steps": 5, "lora_rank": 16},
)
swanlab.config.update({"total_steps": 30, "scheduler": "cosine"})
print("lora rank", swanlab.config.lora_rank, "dataset", swanlab.config["dataset"])

for step in range(swanlab.config.total_steps):
    warm = min(1.0, (step + 1) / swanlab.config.warmup_steps)
    lr = swanlab.config.learning_rate * warm * 0.5 * (1 + math.cos(math.pi * step / swanlab.config.total_steps))
    loss = 2.5 * math.exp(-step / 12) + 0.3
    swanlab.log({"train/loss": loss, "train/learning_rate": lr, "train/grad_norm": 1.0 / (step + 1)})

swanlab.config.update({"best_loss": 0.3})
swanlab.finish()
