"""A tiny BERT trained by the transformers Trainer on random tokens, on the CPU, logging to SwanLab.

--callback builtin: transformers' own `report_to="swanlab"`;
--callback swanlab: `swanlab.integration.transformers.SwanLabCallback`.
--init-first: the script calls swanlab.init() before training (transformers 5.24's own callback
needs it with swanlab 0.10: it asks get_run(), which raises without a run).
"""

import argparse

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

parser = argparse.ArgumentParser()
parser.add_argument("--callback", choices=["builtin", "swanlab"], required=True)
parser.add_argument("--init-first", action="store_true")
args = parser.parse_args()
if args.init_first:
    import swanlab

    swanlab.init(project="integ", experiment_name="hf-tiny")

torch.manual_seed(0)
model = BertForSequenceClassification(
    BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
)
generator = torch.Generator().manual_seed(0)
samples = [
    {"input_ids": torch.randint(0, 64, (8,), generator=generator), "labels": torch.tensor(i % 2)} for i in range(32)
]
training = TrainingArguments(
    output_dir="out",
    run_name="hf-tiny",
    max_steps=6,
    per_device_train_batch_size=4,
    logging_steps=2,
    eval_strategy="steps",
    eval_steps=3,
    save_strategy="no",
    use_cpu=True,
    seed=0,
    report_to="swanlab" if args.callback == "builtin" else "none",
    disable_tqdm=True,
)
callbacks = []
if args.callback == "swanlab":
    from swanlab.integration.transformers import SwanLabCallback

    callbacks.append(SwanLabCallback(project="integ", experiment_name="hf-tiny"))
trainer = Trainer(model=model, args=training, train_dataset=samples, eval_dataset=samples[:8], callbacks=callbacks)
trainer.train()
# After training: an evaluation at the last step, which training evaluated already.
trainer.evaluate()
# A script's end, with no finish(): the SDK's exit hook finishes the run, as users rely on.
