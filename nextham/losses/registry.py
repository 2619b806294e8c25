"""Loss registry: terms registered by name beside their class, composed with weights from a config.

A term of your own, in your own module::

    from nextham.losses import LossTerm, register_loss

    @register_loss("onsite_l1")
    class OnsiteL1(LossTerm):
        def forward(self, context):
            onsite = context.batch.edge_lengths < 1e-9
            return (context.delta_error[onsite].abs() * context.mask[onsite]).sum() / context.mask[onsite].sum()

and in the config ``loss: {imports: [my_package.my_losses], terms: {onsite_l1: {weight: 0.1}}}``.
"""
from __future__ import annotations

import importlib

import torch

LOSSES: dict = {}


def register_loss(name: str):
    """Class decorator adding a :class:`LossTerm` subclass to ``LOSSES`` under ``name``."""

    def decorator(cls):
        if name in LOSSES and LOSSES[name] is not cls:
            raise ValueError(f"a loss term named {name!r} is already registered ({LOSSES[name].__qualname__})")
        LOSSES[name] = cls
        cls.registry_name = name
        return cls

    return decorator


class LossTerm(torch.nn.Module):
    """One scalar term computed from a :class:`~nextham.losses.context.LossContext`.

    ``weight`` is its coefficient in the total; options of the config entry become constructor
    arguments. Terms that take part in the closed-form energy gauge μ say so with ``gauge_weight``."""

    registry_name = "unregistered"

    def __init__(self, weight: float = 1.0):
        super().__init__()
        self.weight = float(weight)

    def gauge_weight(self) -> float:
        return 0.0

    def forward(self, context) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def build_terms(config: dict) -> dict:
    """Instantiate the terms of ``config['terms']`` ({name: {weight, options...}}) after importing
    the modules listed in ``config['imports']`` (where user terms register themselves)."""
    for module in config.get("imports", []) or []:
        importlib.import_module(module)
    terms = {}
    for name, options in (config.get("terms") or {}).items():
        if name not in LOSSES:
            raise ValueError(f"unknown loss term {name!r}; registered: {sorted(LOSSES)} "
                             f"(a term of your own must be imported through loss.imports)")
        terms[name] = LOSSES[name](**dict(options or {}))
    if not terms:
        raise ValueError("the loss has no terms")
    return terms
