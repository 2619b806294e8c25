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
    return _assemble(blocks, _pair_phases(edge_index, cell_shifts, num_atoms, kpoints, blocks.dtype), num_atoms,
                     orbital_mask)


def _pair_phases(edge_index, cell_shifts, num_atoms: int, kpoints, block_dtype):
    """Edges grouped by atom pair (i, j) and padded to the longest group: the pairs present (P,), the
    table (P, W) of their edges (index E where padded) and the phases exp(2πi k·R) (P, K, W)."""
    dtype = torch.complex128 if block_dtype in (torch.float64, torch.complex128) else torch.complex64
    kpoints = torch.as_tensor(kpoints, dtype=torch.float64, device=cell_shifts.device).reshape(-1, 3)
    pair = edge_index[0] * num_atoms + edge_index[1]
    present, slot = torch.unique(pair, return_inverse=True)
    order = torch.argsort(slot, stable=True)
    counts = torch.bincount(slot, minlength=len(present))
    starts = torch.cumsum(counts, 0) - counts
    table = torch.full((len(present), int(counts.max()) if len(counts) else 0), len(pair), dtype=torch.long,
                       device=pair.device)
    table[slot[order], torch.arange(len(pair), device=pair.device) - starts[slot[order]]] = order
    padded = torch.cat([cell_shifts.double(), cell_shifts.new_zeros((1, 3)).double()])[table]   # (P, W, 3)
    phases = torch.exp(2j * math.pi * torch.einsum("kx,pwx->pkw", kpoints, padded)).to(dtype)
    return present, table, phases  # padded entries meet a zero block in _assemble


def _assemble(blocks, pair_phases, num_atoms: int, orbital_mask) -> torch.Tensor:
    """Σ_R phase · block per atom pair (one batched matmul, never the (K, E, B, B) product of every
    phase with every block), laid out as (K, n, n) over the orbitals of ``orbital_mask``."""
    present, table, phases = pair_phases
    size = blocks.shape[-1]
    padded_blocks = torch.cat([blocks.to(phases.dtype), blocks.new_zeros((1, size, size)).to(phases.dtype)])[table]
    summed = torch.bmm(phases, padded_blocks.reshape(len(present), -1, size * size))  # (P, K, B²)
    count = phases.shape[1]
    pairs = torch.zeros(count, num_atoms * num_atoms, size, size, dtype=phases.dtype, device=blocks.device)
    pairs = pairs.index_copy(1, present, summed.permute(1, 0, 2).reshape(count, -1, size, size))
    full = pairs.reshape(-1, num_atoms, num_atoms, size, size).permute(0, 1, 3, 2, 4)
    full = full.reshape(-1, num_atoms * size, num_atoms * size)
    keep = orbital_mask.reshape(-1).nonzero().squeeze(-1)
    return full[:, keep][:, :, keep]


def bloch_sum_blocks(blocks, edge_index, cell_shifts, orbital_offsets, kpoints_frac) -> np.ndarray:
    """M(k) (K, n, n) complex128 from per-edge blocks of any size: ``blocks[e]`` couples atoms
    ``edge_index[e]`` = (i, j) at R = ``cell_shifts[e]``; ``orbital_offsets`` (N+1) are the first rows
    of each atom (of the spin-major blocks when they are spinful)."""
    return BlockSums([blocks], edge_index, cell_shifts, orbital_offsets)(kpoints_frac)[0]


class BlockSums:
    """Several matrices on the same pairs and layout (H and S of one structure) as :func:`bloch_sum_blocks`
    takes them, padded once and Bloch-summed at any k-points, the phases shared: for the many small
    calls of a k-mesh refinement or a band-edge search."""

    def __init__(self, block_sets, edge_index, cell_shifts, orbital_offsets):
        sizes = np.diff(np.asarray(orbital_offsets, dtype=np.int64))
        width = int(sizes.max()) if len(sizes) else 0
        edge_index = np.asarray(edge_index, dtype=np.int64).reshape(-1, 2)
        self.num_atoms = len(sizes)
        self.mask = torch.as_tensor(np.arange(width)[None, :] < sizes[:, None])
        self.edges = torch.as_tensor(edge_index.T.copy())
        self.cell_shifts = torch.as_tensor(np.asarray(cell_shifts, dtype=np.int64).reshape(-1, 3))
        self.padded = []
        for blocks in block_sets:
            padded = np.zeros((len(edge_index), width, width), dtype=np.complex128)
            for e, (i, j) in enumerate(edge_index):
                padded[e, :sizes[i], :sizes[j]] = blocks[e]
            self.padded.append(torch.as_tensor(padded))

    def __call__(self, kpoints_frac) -> list:
        phases = _pair_phases(self.edges, self.cell_shifts, self.num_atoms,
                              np.asarray(kpoints_frac, dtype=np.float64).reshape(-1, 3), torch.float64)
        return [_assemble(padded, phases, self.num_atoms, self.mask).numpy() for padded in self.padded]
