"""Small equivariant building blocks: layer norm, radial basis, head splitting, scatter softmax."""
from __future__ import annotations

import math

import torch
from e3nn import o3


class EquivariantLayerNorm(torch.nn.Module):
    """Even scalars are centred; then the whole feature is divided by one RMS taken over all irrep
    types (mean over types of the mean squared norm per channel); learnable per-channel scale and a
    bias on even scalars.

    One shared RMS rather than one per irrep type: channels that symmetry makes zero (an on-site
    block of a cubic site has no l = 2 part) hold only round-off, and normalising them on their own
    would blow that round-off up layer after layer."""

    def __init__(self, irreps, eps: float = 1e-8):
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(self.irreps.num_irreps))
        num_scalars = sum(mul for mul, ir in self.irreps if ir.l == 0 and ir.p == 1)
        self.bias = torch.nn.Parameter(torch.zeros(num_scalars))

    def forward(self, x):
        fields = []
        for (mul, ir), chunk in zip(self.irreps, x.split([mul * ir.dim for mul, ir in self.irreps], dim=-1)):
            field = chunk.reshape(*chunk.shape[:-1], mul, ir.dim)
            if ir.l == 0 and ir.p == 1:
                field = field - field.mean(dim=-2, keepdim=True)
            fields.append(field)
        mean_square = torch.stack([f.pow(2).sum(-1).mean(-1) for f in fields], dim=-1).mean(-1)
        scale = (mean_square + self.eps).rsqrt()[..., None, None]
        out, weight_start, bias_start = [], 0, 0
        for (mul, ir), field in zip(self.irreps, fields):
            field = field * scale * self.weight[weight_start:weight_start + mul, None]
            if ir.l == 0 and ir.p == 1:
                field = field + self.bias[bias_start:bias_start + mul, None]
                bias_start += mul
            weight_start += mul
            out.append(field.reshape(*field.shape[:-2], mul * ir.dim))
        return torch.cat(out, dim=-1)


class GaussianRadialBasis(torch.nn.Module):
    def __init__(self, num_basis: int, cutoff: float):
        super().__init__()
        self.register_buffer("centres", torch.linspace(0.0, cutoff, num_basis))
        self.width = 0.5 * cutoff / num_basis if num_basis > 1 else cutoff

    def forward(self, distances):
        return torch.exp(-0.5 * ((distances[..., None] - self.centres) / self.width) ** 2)


class RadialMLP(torch.nn.Sequential):
    def __init__(self, sizes):
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers += [torch.nn.LayerNorm(b), torch.nn.SiLU()]
        super().__init__(*layers)


def head_of_component(irreps, num_heads: int) -> torch.Tensor:
    """Head index of every feature component: channel u of a block of multiplicity mul goes to head
    ⌊u·heads/mul⌋, all 2l+1 components of an irrep together (so scaling by a head weight is equivariant)."""
    heads = []
    for mul, ir in o3.Irreps(irreps):
        for u in range(mul):
            heads += [u * num_heads // mul] * ir.dim
    return torch.tensor(heads, dtype=torch.long)


def scatter_softmax(logits, index, num_segments):
    """Softmax of ``logits`` (E, H) over the edges sharing the same ``index`` (E,)."""
    maximum = torch.full((num_segments, logits.shape[-1]), -math.inf, dtype=logits.dtype, device=logits.device)
    maximum = maximum.scatter_reduce(0, index[:, None].expand_as(logits), logits, reduce="amax", include_self=True)
    weights = torch.exp(logits - maximum[index].detach())
    total = torch.zeros_like(maximum).index_add_(0, index, weights)
    return weights / total[index].clamp_min(1e-30)


def scalar_irreps(irreps) -> o3.Irreps:
    return o3.Irreps([(mul, ir) for mul, ir in o3.Irreps(irreps) if ir.l == 0])


def gated_irreps(irreps) -> o3.Irreps:
    return o3.Irreps([(mul, ir) for mul, ir in o3.Irreps(irreps) if ir.l > 0])
