"""TraceGrad: a non-linearity for equivariant features from the gradient of learned invariants.

Invariants s = B(f, f) (a learnable bilinear form: e3nn tensor product into scalars, i.e. a learnable
Clebsch–Gordan contraction) feed an MLP giving z. The gradient y = ∂(Σz)/∂f is equivariant with the
irreps of f, and non-linear in f; it is injected as f ← f + λ·(‖f‖/‖y‖)·y (the ratio detached).
The z of every layer also feed an invariant head that predicts the per-shell-pair traces
tr(X Xᵀ) of the target blocks X = ΔH + μS — the auxiliary target the paper supervises.
"""
from __future__ import annotations

import torch
from e3nn import o3


class TraceGradModule(torch.nn.Module):
    def __init__(self, irreps, num_invariants: int = 64, hidden: int = 64, scale: float = 0.2):
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        self.scale = scale
        self.bilinear = o3.FullyConnectedTensorProduct(self.irreps, self.irreps, f"{num_invariants}x0e")
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(num_invariants, hidden), torch.nn.LayerNorm(hidden), torch.nn.SiLU(),
            torch.nn.Linear(hidden, hidden), torch.nn.LayerNorm(hidden), torch.nn.SiLU(),
            torch.nn.Linear(hidden, hidden))
        self.num_outputs = hidden

    def forward(self, features):
        """Returns (updated features, invariants z)."""
        keep_graph = torch.is_grad_enabled()  # training: second-order graph; inference: none
        with torch.enable_grad():
            source = features if features.requires_grad else features.detach().requires_grad_(True)
            z = self.mlp(self.bilinear(source, source))
            if self.scale == 0.0:
                return features, z
            (gradient,) = torch.autograd.grad(z.sum(), source, create_graph=keep_graph)
        if not keep_graph:
            z = z.detach()
        ratio = (features.norm(dim=-1, keepdim=True) / (gradient.norm(dim=-1, keepdim=True) + 1e-5)).detach()
        return features + self.scale * ratio * gradient, z


def shell_pair_traces(blocks: torch.Tensor, slot_ls, spinful: bool = False) -> torch.Tensor:
    """Squared Frobenius norm of every shell-slot-pair sub-block (E, n_slots²), spin blocks summed;
    complex entries count with |·|²."""
    sizes = [2 * l + 1 for l in slot_ls]
    p = sum(sizes)
    if spinful:
        blocks = blocks.reshape(blocks.shape[0], 2, p, 2, p).transpose(1, 2).reshape(blocks.shape[0], p, p, 4)
    else:
        blocks = blocks[..., None]
    squared = blocks.abs().pow(2).sum(-1)
    rows = torch.split(squared, sizes, dim=1)
    return torch.stack([chunk.sum(dim=(1, 2)) for row in rows for chunk in torch.split(row, sizes, dim=2)], dim=1)


def trace_targets(blocks, slot_ls, spinful: bool = False) -> torch.Tensor:
    """The auxiliary TraceGrad target: per-edge layer-normalised shell-pair traces of ``blocks``."""
    traces = shell_pair_traces(blocks, slot_ls, spinful)
    return torch.nn.functional.layer_norm(traces, traces.shape[-1:])
