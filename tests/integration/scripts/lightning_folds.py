"""Two folds of a tiny Lightning model on the CPU, each its own SwanLab run (SwanLabLogger)."""

import lightning as L
import swanlab
import torch
from swanlab.integration.pytorch_lightning import SwanLabLogger
from torch.utils.data import DataLoader, TensorDataset


class Tiny(L.LightningModule):
    def __init__(self, lr: float = 0.1, hidden: int = 4):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


torch.manual_seed(0)
x = torch.randn(64, 3)
data = TensorDataset(x, x.sum(dim=1, keepdim=True))
for fold in range(2):
    train, valid = torch.utils.data.random_split(data, [48, 16], generator=torch.Generator().manual_seed(fold))
    logger = SwanLabLogger(project="integ", experiment_name=f"fold-{fold}")
    trainer = L.Trainer(
        max_epochs=2,
        logger=logger,
        log_every_n_steps=2,
        accelerator="cpu",
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Tiny(), DataLoader(train, batch_size=8), DataLoader(valid, batch_size=8))
    swanlab.finish()
