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


ROLES = ("hamiltonian", "auxiliary")
GAUGE_COMPONENTS = (None, "rspace", "p", "q")


class LossTerm(torch.nn.Module):
    """One scalar term computed from a :class:`~nextham.losses.context.LossContext`.

    ``weight`` is its coefficient in the total; options of the config entry become constructor
    arguments. A term declares what it is, and :class:`~nextham.losses.composite.CompositeLoss` reads
    only these declarations:

    * ``role``: ``"hamiltonian"`` terms are summed into L_H; ``"auxiliary"`` terms (the TraceGrad
      target) form L_T, balanced against L_H by ``trace_balance``;
    * ``gauge_component``: the part of the closed-form energy gauge μ the term is minimised by —
      ``"rspace"`` (R-space blocks), ``"p"`` or ``"q"`` (projected k-space blocks) — or None."""

    registry_name = "unregistered"
    role = "hamiltonian"
    gauge_component = None

    def __init__(self, weight: float = 1.0):
        super().__init__()
        self.weight = float(weight)
        if self.role not in ROLES or self.gauge_component not in GAUGE_COMPONENTS:
            raise ValueError(f"loss term {type(self).__qualname__}: role must be one of {ROLES} and gauge_component "
                             f"one of {GAUGE_COMPONENTS}, got {self.role!r} and {self.gauge_component!r}")

    def gauge_weight(self) -> float:
        """Its weight in the closed-form gauge (zero unless it declares a ``gauge_component``)."""
        return self.weight if self.gauge_component is not None else 0.0

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
