"""Bloch sums: M(k) = Σ_R exp(+2πi k·R) M(R), k fractional, R integer — the one convention of
nextham (PySCF's and DeepH's), where M_ij(R) couples atom i in cell 0 with atom j in cell R.

One implementation (torch, CPU or GPU) serves padded batches and the per-edge blocks of a record
(numpy in, numpy out). Rows are ordered atom by atom; inside an atom, spinful blocks keep their
spin-major order. Padded orbitals are dropped before any matrix is formed, so S(k) has no
artificial zero rows.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def bloch_sum(blocks, edge_index, cell_shifts, num_atoms: int, kpoints, orbital_mask) -> torch.Tensor:
    """M(k) for one structure from its padded blocks (E, B, B), local ``edge_index`` (2, E), R (E, 3).

    ``orbital_mask`` (N, B) marks existing orbitals per atom; the result is (K, n, n) over those only,
    ordered atom by atom (and, for spinful blocks, spin-major inside each atom)."""
    size = blocks.shape[-1]
    dtype = torch.complex128 if blocks.dtype in (torch.float64, torch.complex128) else torch.complex64
    kpoints = torch.as_tensor(kpoints, dtype=torch.float64, device=cell_shifts.device)
    phases = torch.exp(2j * math.pi * (kpoints @ cell_shifts.T.double()))
    phases = phases.to(dtype)  # (K, E)
    pair = edge_index[0] * num_atoms + edge_index[1]
    pairs = torch.zeros(phases.shape[0], num_atoms * num_atoms, size, size, dtype=dtype, device=blocks.device)
    pairs = pairs.index_add(1, pair, phases[:, :, None, None] * blocks.to(dtype)[None])
    full = pairs.reshape(-1, num_atoms, num_atoms, size, size).permute(0, 1, 3, 2, 4)
    full = full.reshape(-1, num_atoms * size, num_atoms * size)
    keep = orbital_mask.reshape(-1).nonzero().squeeze(-1)
    return full[:, keep][:, :, keep]


def bloch_sum_blocks(blocks, edge_index, cell_shifts, orbital_offsets, kpoints_frac) -> np.ndarray:
    """M(k) (K, n, n) complex128 from per-edge blocks of any size: ``blocks[e]`` couples atoms
    ``edge_index[e]`` = (i, j) at R = ``cell_shifts[e]``; ``orbital_offsets`` (N+1) are the first rows
    of each atom (of the spin-major blocks when they are spinful)."""
    offsets = np.asarray(orbital_offsets, dtype=np.int64)
    sizes = np.diff(offsets)
    width = int(sizes.max()) if len(sizes) else 0
    edge_index = np.asarray(edge_index, dtype=np.int64).reshape(-1, 2)
    padded = np.zeros((len(edge_index), width, width), dtype=np.complex128)
    for e, (i, j) in enumerate(edge_index):
        padded[e, :sizes[i], :sizes[j]] = blocks[e]
    mask = np.arange(width)[None, :] < sizes[:, None]
    result = bloch_sum(torch.as_tensor(padded), torch.as_tensor(edge_index.T.copy()),
                       torch.as_tensor(np.asarray(cell_shifts, dtype=np.int64).reshape(-1, 3)), len(sizes),
                       torch.as_tensor(np.asarray(kpoints_frac, dtype=np.float64).reshape(-1, 3)),
                       torch.as_tensor(mask))
    return result.numpy()
