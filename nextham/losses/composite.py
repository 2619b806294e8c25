"""The total loss: weighted registered terms, the closed-form gauge, and the TraceGrad balance."""
from __future__ import annotations

import torch

from .context import LossContext
from .registry import build_terms
from .terms import KSpaceP, KSpaceQ, TraceGradLoss


class CompositeLoss(torch.nn.Module):
    """L = (1 − λ_C)·Σ_t w_t L_t + λ_C·stopgrad(Σ_t w_t L_t / L_T)·L_T.

    L_T is the TraceGrad term when configured (``trace_balance`` = λ_C keeps it at the magnitude of
    the Hamiltonian loss, the paper's dynamic balance); otherwise L = Σ_t w_t L_t."""

    def __init__(self, terms: dict, trace_balance: float = 0.2, kspace: dict | None = None):
        super().__init__()
        self.trace_term = next((t for t in terms.values() if isinstance(t, TraceGradLoss)), None)
        self.terms = torch.nn.ModuleDict({n: t for n, t in terms.items() if not isinstance(t, TraceGradLoss)})
        self.trace_balance = float(trace_balance)
        self.kspace = dict(kspace or {})

    @classmethod
    def from_config(cls, config: dict) -> "CompositeLoss":
        return cls(build_terms(config), trace_balance=config.get("trace_balance", 0.2), kspace=config.get("kspace"))

    def gauge_weights(self):
        weight_p = sum(t.gauge_weight() for t in self.terms.values() if isinstance(t, KSpaceP))
        weight_q = sum(t.gauge_weight() for t in self.terms.values() if isinstance(t, KSpaceQ))
        weight_r = sum(t.gauge_weight() for t in self.terms.values()) - weight_p - weight_q
        return weight_r, weight_p, weight_q

    def forward(self, prediction: dict, batch, edge_mask=None, generator=None):
        """Returns (total, {term name: unweighted value}, context)."""
        context = LossContext(prediction, batch, edge_mask, self.kspace, self.gauge_weights(), generator)
        parts = {name: term(context) for name, term in self.terms.items()}
        total = sum(term.weight * parts[name] for name, term in self.terms.items())
        if self.trace_term is not None and prediction.get("trace") is not None:
            trace_loss = self.trace_term(context)
            parts[self.trace_term.registry_name] = trace_loss
            balance = (total / trace_loss.clamp_min(1e-12)).detach()
            total = (1.0 - self.trace_balance) * total + self.trace_balance * balance * trace_loss
        return total, parts, context
