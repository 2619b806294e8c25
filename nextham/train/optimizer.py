"""The optimizer and its schedule, from the ``optimizer`` config section on top of the packaged
defaults (``nextham/configs/optimizer/adam.yaml``, the only place they are written)."""
from __future__ import annotations

import math

import torch

from ..configs import CONFIG_ROOT, load_config

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
