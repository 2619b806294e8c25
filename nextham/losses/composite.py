"""The total loss: weighted registered terms, the closed-form gauge, and the TraceGrad balance.
Terms are told apart by what they declare (``role``, ``gauge_component``), never by their class, so
a registered term of your own can supply the gauge or the auxiliary target like a built-in one."""
from __future__ import annotations

import torch

from .context import LossContext
from .registry import build_terms


class CompositeLoss(torch.nn.Module):
    """L = (1 − λ_C)·L_H + λ_C·stopgrad(L_H / L_T)·L_T with L_H = Σ w_t L_t over the Hamiltonian terms
    and L_T = Σ w_t L_t over the auxiliary ones.

    ``trace_balance`` = λ_C keeps L_T at the magnitude of L_H (the paper's dynamic balance); without
    auxiliary terms L = L_H."""

    def __init__(self, terms: dict, trace_balance: float = 0.2, kspace: dict | None = None):
        super().__init__()
        self.terms = torch.nn.ModuleDict({n: t for n, t in terms.items() if t.role == "hamiltonian"})
        self.auxiliary_terms = torch.nn.ModuleDict({n: t for n, t in terms.items() if t.role == "auxiliary"})
        self.trace_balance = float(trace_balance)
        self.kspace = dict(kspace or {})

    @classmethod
    def from_config(cls, config: dict) -> "CompositeLoss":
        return cls(build_terms(config), trace_balance=config.get("trace_balance", 0.2), kspace=config.get("kspace"))

    def gauge_weights(self):
        """(λ_R, λ_P, λ_Q): the summed weights of the terms in each gauge component."""
        weights = {"rspace": 0.0, "p": 0.0, "q": 0.0}
        for term in (*self.terms.values(), *self.auxiliary_terms.values()):
            if term.gauge_component is not None:
                weights[term.gauge_component] += term.gauge_weight()
        return weights["rspace"], weights["p"], weights["q"]

    def forward(self, prediction: dict, batch, edge_mask=None, generator=None):
        """Returns (total, {term name: unweighted value}, context)."""
        context = LossContext(prediction, batch, edge_mask, self.kspace, self.gauge_weights(), generator)
        parts = {name: term(context) for name, term in self.terms.items()}
        total = sum(term.weight * parts[name] for name, term in self.terms.items())
        if len(self.auxiliary_terms) and prediction.get("trace") is not None:
            auxiliary = 0.0
            for name, term in self.auxiliary_terms.items():
                parts[name] = term(context)
                auxiliary = auxiliary + term.weight * parts[name]
            balance = (total / auxiliary.clamp_min(1e-12)).detach()
            total = (1.0 - self.trace_balance) * total + self.trace_balance * balance * auxiliary
        return total, parts, context
