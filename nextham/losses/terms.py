"""Built-in loss terms. Each registers itself by name; weights and options come from the config."""
from __future__ import annotations

import torch

from ..nn.tracegrad import trace_targets
from .registry import LossTerm, register_loss


@register_loss("rspace_mse")
class RSpaceMSE(LossTerm):
    """Mean |ΔĤ − ΔH|² over existing orbitals (real and imaginary parts), averaged per structure."""

    def forward(self, context):
        return context.per_structure_mean(context.delta_error.abs().pow(2))


@register_loss("rspace_l1")
class RSpaceL1(LossTerm):
    """Mean |Re(ΔĤ − ΔH)| + |Im(ΔĤ − ΔH)| over existing orbitals, averaged per structure."""

    def forward(self, context):
        error = context.delta_error
        values = error.real.abs() + (error.imag.abs() if error.is_complex() else 0.0)
        return context.per_structure_mean(values)


@register_loss("rspace_gauge_l1")
class RSpaceGaugeL1(LossTerm):
    """The R-space term of the joint loss: |Re(Ĥ − H − μS)| + |Im(Ĥ − H)|, μ the closed-form gauge."""

    gauge_component = "rspace"

    def forward(self, context):
        error = context.delta_error
        shift = context.mu_per_edge()[:, None, None] * context.overlap_blocks
        values = (error.real - shift).abs() + (error.imag.abs() if error.is_complex() else 0.0)
        return context.per_structure_mean(values)


class _Projected(LossTerm):
    """Mean over structures and sampled k of Σ|Re(X) − μ·[diagonal]| + Σ|Im(X)| over a projected block."""

    block = "p"
    gauge_on_diagonal = True

    def forward(self, context):
        values = []
        for index, projection in enumerate(context.kspace):
            matrix = projection[self.block]
            if matrix.numel() == 0:  # no Q bands inside the basis: nothing to compare
                values.append(matrix.real.sum() * 0.0)
                continue
            real = matrix.real
            if self.gauge_on_diagonal and context.gauge_weights != (0.0, 0.0, 0.0):
                real = real - context.mu[index] * torch.eye(real.shape[-1], dtype=real.dtype, device=real.device)
            size = real.shape[-2] * real.shape[-1]
            values.append(((real.abs() + matrix.imag.abs()).sum(dim=(-2, -1)) / max(size, 1)).mean())
        return torch.stack(values).mean()


@register_loss("kspace_p")
class KSpaceP(_Projected):
    """Errors of the low-energy (P) block C_P†(Ĥ(k) − H(k))C_P: eigenvalues on the diagonal."""

    block = "p"
    gauge_component = "p"


@register_loss("kspace_q")
class KSpaceQ(_Projected):
    """Errors of the high-energy (Q) block."""

    block = "q"
    gauge_component = "q"


@register_loss("kspace_pq")
class KSpacePQ(_Projected):
    """The P–Q coupling C_P†(Ĥ(k) − H(k))C_Q, zero for the truth: it is what creates ghost states."""

    block = "pq"
    gauge_on_diagonal = False


@register_loss("tracegrad")
class TraceGradLoss(LossTerm):
    """MAE between the predicted per-shell-pair traces and those of ΔH + μS (layer-normalised per edge),
    on the edges the loss covers. Balanced dynamically against the Hamiltonian terms (``trace_balance``)."""

    role = "auxiliary"

    def __init__(self, weight: float = 1.0, slot_ls=None):
        super().__init__(weight)
        self.slot_ls = tuple(slot_ls) if slot_ls is not None else None

    def forward(self, context):
        predicted = context.prediction.get("trace")
        if predicted is None:
            raise ValueError("the tracegrad loss needs a network with TraceGrad enabled (trace output is None)")
        slot_ls = self.slot_ls or context.batch.slot_ls
        target_blocks = context.target + context.mu_per_edge()[:, None, None] * context.overlap_blocks
        target = trace_targets(target_blocks, slot_ls, context.batch.spinful)
        covered = context.mask.flatten(1).any(dim=1)
        if not covered.any():
            return predicted.sum() * 0.0
        return (predicted[covered] - target[covered].to(predicted.dtype)).abs().mean()
