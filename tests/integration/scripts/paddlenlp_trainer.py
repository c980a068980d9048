"""A tiny BERT built from a config, trained a few steps by PaddleNLP's Trainer on random tokens,
on the CPU, logging through SwanLab's callback (no hub, no tokenizer)."""

import numpy as np
import paddle
from paddlenlp.trainer import Trainer, TrainingArguments
from paddlenlp.transformers import BertConfig, BertForSequenceClassification
from swanlab.integration.paddlenlp import SwanLabCallback

paddle.set_device("cpu")
paddle.seed(0)
model = BertForSequenceClassification(
    BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
)
rng = np.random.default_rng(0)
samples = [{"input_ids": rng.integers(0, 64, 8).astype("int64"), "labels": np.int64(i % 2)} for i in range(32)]
training = TrainingArguments(
    output_dir="out",
    logging_dir="out/runs",  # PaddleNLP's default holds the clock: out/runs/<date_time>_<host>
    max_steps=6,
    per_device_train_batch_size=4,
    per_device_eval_batch_size=4,
    logging_steps=2,
    evaluation_strategy="steps",
    eval_steps=3,
    save_strategy="steps",
    save_steps=3,
    seed=0,
    report_to="none",
    disable_tqdm=True,
)
trainer = Trainer(
    model=model,
    args=training,
    train_dataset=samples,
    eval_dataset=samples[:8],
    callbacks=[SwanLabCallback(project="integ")],
)
trainer.train()
trainer.evaluate()
