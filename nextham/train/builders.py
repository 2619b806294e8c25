"""Everything a training run is built from, each from its config section: the datamodule (``data``),
the LightningModule (``model``, ``loss``, ``optimizer``), the optimizer and its schedule, the callbacks
(``callbacks``), the logger and the Trainer (``trainer``)."""
from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import torch

from ..configs import CONFIG_ROOT, load_config
from ..graph.datamodule import HamiltonianDataModule
from .callbacks import KSpaceValidationCallback

CHECKPOINT_DIR = "checkpoints"
OPTIMIZER_CONFIG = CONFIG_ROOT / "optimizer" / "adam.yaml"


def optimizer_options(overrides: dict | None = None) -> dict:
    """The optimizer section: the defaults of ``nextham/configs/optimizer/adam.yaml`` with ``overrides`` on top."""
    return {**load_config(OPTIMIZER_CONFIG), **(overrides or {})}


def build_optimizer(parameters, options: dict, max_epochs: int) -> dict:
    """Adam, linear warm-up over ``warmup_epochs`` then cosine down to ``min_lr`` at ``max_epochs``; in
    Lightning's ``configure_optimizers`` form."""
    options = dict(options)
    warmup, min_lr = int(options.pop("warmup_epochs")), float(options.pop("min_lr"))
    optimizer = torch.optim.Adam(parameters, **options)
    total, base = max(int(max_epochs or 1), 1), options["lr"]

    def factor(epoch):
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / max(total - warmup, 1)
        return (min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))) / base

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


def build_datamodule(config) -> HamiltonianDataModule:
    return HamiltonianDataModule(**config["data"])


def build_module(config, data: HamiltonianDataModule):
    from .module import NextHAMModule

    return NextHAMModule(data.layout.slot_ls, data.spinful, model=config["model"], loss=config["loss"],
                         optimizer=config.get("optimizer"), members_to_train=config.get("members_to_train", "all"),
                         seed=int(config.get("seed", 0)))


def build_trainer(config, **overrides) -> L.Trainer:
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    output = Path(config["output"])
    checkpoint = ModelCheckpoint(dirpath=output / CHECKPOINT_DIR, filename="epoch{epoch:03d}",
                                 auto_insert_metric_name=False, **config["callbacks"]["checkpoint"])
    callbacks = [checkpoint, KSpaceValidationCallback(**config["callbacks"]["kspace"])]
    options = {**config["trainer"], **overrides}
    return L.Trainer(logger=TensorBoardLogger(output, name="logs"), callbacks=callbacks,
                     default_root_dir=output, use_distributed_sampler=False, **options)
