"""``nextham fit``: train from a config, resuming exactly where ``last.ckpt`` stopped."""
from __future__ import annotations

import lightning as L

from .builders import build_datamodule, build_module, build_trainer
from .checkpoints import last_checkpoint


def fit(config, resume: bool = True) -> tuple:
    """Train; with ``resume`` an existing ``<output>/checkpoints/last.ckpt`` is continued exactly
    (weights, optimizer, scheduler, epoch and step)."""
    L.seed_everything(int(config.get("seed", 0)), workers=True, verbose=False)
    data = build_datamodule(config)
    module = build_module(config, data)
    trainer = build_trainer(config)
    checkpoint = last_checkpoint(config) if resume else None
    trainer.fit(module, datamodule=data, ckpt_path=str(checkpoint) if checkpoint else None)
    return trainer, module, checkpoint
