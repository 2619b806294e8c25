"""From an engine's matrices on a k-mesh to real-space blocks H_ij(R): the inverse of the Bloch sum
of :mod:`nextham.kspace` (``H(R) = 1/N_k Σ_k exp(-2πi k·R) H(k)`` on a Γ-centred mesh) and the
Wigner–Seitz choice of image for every atom pair."""
from __future__ import annotations

import itertools

import numpy as np


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
