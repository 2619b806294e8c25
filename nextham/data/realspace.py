"""Real space ↔ reciprocal space for blocks H_ij(R).

Convention (PySCF and DeepH alike): ``H(k) = Σ_R exp(+2πi k·R) H(R)`` with k fractional and R
integer, where H_ij(R) couples atom i in cell 0 with atom j in cell R. Hence
``H(R) = 1/N_k Σ_k exp(-2πi k·R) H(k)`` on a Γ-centred mesh.
"""
from __future__ import annotations

import itertools

import numpy as np
import scipy.linalg


def monkhorst_pack(mesh, shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Γ-centred fractional mesh (plus an optional shift in units of the mesh spacing)."""
    axes = [(np.arange(n) + s) / n for n, s in zip(mesh, shift)]
    return np.array(list(itertools.product(*axes)))


def centred_translations(mesh) -> np.ndarray:
    """Integer lattice vectors of one Born–von Kármán supercell, centred on the origin."""
    return np.array(list(itertools.product(*[np.arange(n) - (n - 1) // 2 for n in mesh])), dtype=np.int64)


def k_to_real_space(matrices_k, kpoints_frac, translations) -> np.ndarray:
    """M(R) = 1/N_k Σ_k exp(-2πi k·R) M(k), for every R in ``translations``."""
    phase = np.exp(-2j * np.pi * translations @ kpoints_frac.T) / len(kpoints_frac)
    return np.einsum("rk,kij->rij", phase, matrices_k)


def minimal_image_pairs(positions, lattice, mesh, translations):
    """Wigner–Seitz choice of lattice vectors for every atom pair, modulo the BvK supercell.

    For each translation index r and atom pair (i, j) returns the images R' = R + N·L of minimal
    |τ_j + R' − τ_i|; ties (images equally distant, only at half the supercell) share the block
    with equal weights. Yields (r, i, j, R', distance, weight)."""
    supercell_shifts = np.array(list(itertools.product(range(-2, 3), repeat=3))) * np.asarray(mesh)
    natoms = len(positions)
    for r, translation in enumerate(translations):
        candidates = translation + supercell_shifts
        cart = candidates @ lattice
        for i in range(natoms):
            for j in range(natoms):
                distances = np.linalg.norm(positions[j] + cart - positions[i], axis=1)
                chosen = np.flatnonzero(distances < distances.min() + 1e-6)
                for c in chosen:
                    yield r, i, j, candidates[c], float(distances[c]), 1.0 / len(chosen)


def bloch_sum(blocks, edge_index, cell_shifts, orbital_offsets, kpoints_frac, dim=None) -> np.ndarray:
    """Assemble M(k) (nk × n × n) from blocks M_ij(R).

    ``blocks[e]`` is the block of edge e = (i, j, R); ``orbital_offsets`` (natoms+1) gives each atom's
    first row; with spinful blocks pass offsets of the spin-major full matrix per spin channel via
    :func:`bloch_sum_spinful`."""
    n = int(orbital_offsets[-1]) if dim is None else dim
    out = np.zeros((len(kpoints_frac), n, n), dtype=complex)
    phases = np.exp(2j * np.pi * np.asarray(cell_shifts) @ np.asarray(kpoints_frac).T)  # (E, nk)
    for e, (i, j) in enumerate(edge_index):
        rows = slice(orbital_offsets[i], orbital_offsets[i + 1])
        cols = slice(orbital_offsets[j], orbital_offsets[j + 1])
        out[:, rows, cols] += phases[e][:, None, None] * blocks[e][None]
    return out


def bloch_sum_spinful(blocks, edge_index, cell_shifts, orbital_offsets, kpoints_frac) -> np.ndarray:
    """Like :func:`bloch_sum` for spin-major (2n_i × 2n_j) blocks; the result is ordered
    [all ↑ orbitals | all ↓ orbitals]."""
    n = int(orbital_offsets[-1])
    out = np.zeros((len(kpoints_frac), 2 * n, 2 * n), dtype=complex)
    phases = np.exp(2j * np.pi * np.asarray(cell_shifts) @ np.asarray(kpoints_frac).T)
    for e, (i, j) in enumerate(edge_index):
        ni = orbital_offsets[i + 1] - orbital_offsets[i]
        nj = orbital_offsets[j + 1] - orbital_offsets[j]
        block = blocks[e]
        for si in range(2):
            for sj in range(2):
                rows = slice(si * n + orbital_offsets[i], si * n + orbital_offsets[i + 1])
                cols = slice(sj * n + orbital_offsets[j], sj * n + orbital_offsets[j + 1])
                sub = block[si * ni:(si + 1) * ni, sj * nj:(sj + 1) * nj]
                out[:, rows, cols] += phases[e][:, None, None] * sub[None]
    return out


def generalized_eigvalsh(hamiltonian_k, overlap_k) -> np.ndarray:
    """Eigenvalues of H(k) c = ε S(k) c for each k (ascending)."""
    return np.array([scipy.linalg.eigh(h, s, eigvals_only=True) for h, s in zip(hamiltonian_k, overlap_k)])
