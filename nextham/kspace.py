"""Reciprocal space in torch: Bloch sums of padded block batches and the generalized eigenproblem.

Shared by the k-space loss, the metrics and band structures. Convention as everywhere in nextham:
H(k) = Σ_R exp(+2πi k·R) H(R), k fractional. Padded orbitals are dropped before any matrix is
formed, so S(k) has no artificial zero rows.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def structure_ranges(batch):
    """(edge slice, atom slice) of every structure of a :class:`~nextham.data.graphs.HamiltonianBatch`."""
    edge_ptr = np.concatenate([[0], np.cumsum(batch.num_edges.cpu().numpy())])
    atom_ptr = np.concatenate([[0], np.cumsum(batch.num_atoms.cpu().numpy())])
    return [(slice(edge_ptr[s], edge_ptr[s + 1]), slice(atom_ptr[s], atom_ptr[s + 1]))
            for s in range(batch.num_structures)]


def monkhorst_pack(mesh, shift=None, dtype=torch.float64):
    """Fractional Γ-centred mesh, shifted by ``shift`` (in units of the mesh spacing)."""
    axes = [torch.arange(n, dtype=dtype) for n in mesh]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    if shift is not None:
        grid = grid + torch.as_tensor(shift, dtype=dtype)
    return grid / torch.as_tensor(mesh, dtype=dtype)


def bloch_sum(blocks, edge_index, cell_shifts, num_atoms: int, kpoints, orbital_mask) -> torch.Tensor:
    """M(k) for one structure from its padded blocks (E, B, B), local ``edge_index`` (2, E), R (E, 3).

    ``orbital_mask`` (N, B) marks existing orbitals per atom; the result is (K, n, n) over those only,
    ordered atom by atom (and, for spinful blocks, spin-major inside each atom)."""
    size = blocks.shape[-1]
    dtype = torch.complex128 if blocks.dtype in (torch.float64, torch.complex128) else torch.complex64
    phases = torch.exp(2j * math.pi * (kpoints.to(cell_shifts.device, torch.float64) @ cell_shifts.T.double()))
    phases = phases.to(dtype)  # (K, E)
    pair = edge_index[0] * num_atoms + edge_index[1]
    pairs = torch.zeros(phases.shape[0], num_atoms * num_atoms, size, size, dtype=dtype, device=blocks.device)
    pairs = pairs.index_add(1, pair, phases[:, :, None, None] * blocks.to(dtype)[None])
    full = pairs.reshape(-1, num_atoms, num_atoms, size, size).permute(0, 1, 3, 2, 4)
    full = full.reshape(-1, num_atoms * size, num_atoms * size)
    keep = orbital_mask.reshape(-1).nonzero().squeeze(-1)
    return full[:, keep][:, :, keep]


def generalized_eigh(hamiltonian, overlap, threshold: float = 1e-6):
    """Solve H C = S C ε without inverting S: canonical orthogonalisation X = V s^-1/2 over the
    eigenvectors of S whose eigenvalue exceeds ``threshold``·max, then H' = X† H X.

    Returns (ε, C) with C† S C = 1; near-linearly-dependent combinations of orbitals are projected
    out, so a near-singular overlap cannot produce spurious states."""
    values, vectors = torch.linalg.eigh(overlap)
    keep = values > threshold * values.max(dim=-1, keepdim=True).values
    if bool(keep.all()):
        transform = vectors / values.sqrt()[..., None, :]
        energies, rotated = torch.linalg.eigh(transform.mH @ hamiltonian @ transform)
        return energies, transform @ rotated
    outputs = [generalized_eigh(h[None], s[None], threshold) for h, s in zip(hamiltonian, overlap)] \
        if hamiltonian.ndim == 3 and hamiltonian.shape[0] > 1 else None
    if outputs is not None:  # different k may drop different numbers of states: pad with +inf
        width = max(e.shape[-1] for e, _ in outputs)
        energies = torch.stack([torch.nn.functional.pad(e[0], (0, width - e.shape[-1]), value=math.inf)
                                for e, _ in outputs])
        coefficients = torch.stack([torch.nn.functional.pad(c[0], (0, width - c.shape[-1])) for _, c in outputs])
        return energies, coefficients
    kept = keep[0] if keep.ndim > 1 else keep
    transform = vectors[..., :, kept] / values[..., kept].sqrt()[..., None, :]
    energies, rotated = torch.linalg.eigh(transform.mH @ hamiltonian @ transform)
    return energies, transform @ rotated
