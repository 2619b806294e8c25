"""Everything a training run is built from, each from its config section: the datamodule (``data``),
the LightningModule (``model``, ``loss``, ``optimizer``), the callbacks (``callbacks``), the logger and
the Trainer (``trainer``)."""
from __future__ import annotations

from pathlib import Path

import lightning as L

from ..graph.datamodule import HamiltonianDataModule
from .callbacks import KSpaceValidationCallback
from .module import NextHAMModule

CHECKPOINT_DIR = "checkpoints"


def build_datamodule(config) -> HamiltonianDataModule:
    return HamiltonianDataModule(**config["data"])


def build_module(config, data: HamiltonianDataModule) -> NextHAMModule:
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
