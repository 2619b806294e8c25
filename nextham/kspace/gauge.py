"""The energy gauge: a Kohn–Sham Hamiltonian is defined up to a rigid shift of its energy zero,
Ĥ → Ĥ − μS (same bands, moved by −μ). μ* = Re⟨Ĥ − H, S⟩ / ‖S‖² is the shift that fits Ĥ − H best;
the headline Gauge MAE, band comparisons and the loss's closed-form gauge all remove it."""
from __future__ import annotations

import torch


def gauge_terms(difference, overlap, mask=None):
    """(Re⟨D, S⟩, ‖S‖²) over the entries ``mask`` selects, D = ``difference`` (blocks of Ĥ − H) and S
    = ``overlap`` sized like them; μ* is their ratio (the loss adds k-space terms to both)."""
    if mask is not None:
        difference, overlap = difference * mask, overlap * mask
    return (difference.real * overlap).sum(), overlap.pow(2).sum()


def gauge_shift(predicted, target, overlap, mask=None) -> torch.Tensor:
    """μ* (eV) over the entries ``mask`` selects: the rigid shift of the energy zero that fits
    ``predicted`` − ``target`` best (``overlap`` sized like the Hamiltonian blocks)."""
    numerator, denominator = gauge_terms(predicted - target, overlap, mask)
    return numerator / denominator.clamp_min(1e-30)


def gauge_mae(predicted, target, overlap, mask=None) -> float:
    """Mean |Ĥ − (H + μ*S)| over the entries ``mask`` selects (all when None); numpy or torch."""
    predicted, target, overlap = (torch.as_tensor(x) for x in (predicted, target, overlap))
    overlap = overlap.to(predicted.real.dtype)
    errors = (predicted - target - gauge_shift(predicted, target, overlap, mask) * overlap).abs()
    if mask is None:
        return float(errors.mean())
    return float((errors * mask).sum() / mask.sum())
