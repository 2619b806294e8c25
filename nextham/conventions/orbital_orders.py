"""Orbital orders of the DFT codes, and how to re-express blocks between them.

Canonical order inside nextham (and in the DeepH "new" format): within each shell of angular
momentum l the 2l+1 real spherical harmonics are ordered m = -l, ..., l with z as the polar axis,
so p = (y, z, x) and d = (xy, yz, z², xz, x²−y²).
"""
from __future__ import annotations

import numpy as np

from .basis import block_diagonal_over_shells
from .spin import spin_diagonal


# For every convention and l: (perm, signs) with canonical[k] = signs[k] * other[perm[k]].
def _minus_one_power_m(l):
    return np.array([(-1.0) ** abs(m) for m in range(-l, l + 1)])


ORDER_CONVENTIONS = {
    # PySCF: p is (px, py, pz); l >= 2 already m = -l..l.
    "pyscf": {1: ([1, 2, 0], None)},
    # OpenMX / DeepH legacy: p (x, y, z); d (z², x²−y², xy, xz, yz); f (m0, m1, m-1, m2, m-2, m3, m-3).
    "openmx": {1: ([1, 2, 0], None), 2: ([2, 4, 0, 3, 1], None), 3: ([6, 4, 2, 0, 1, 3, 5], None)},
    # ABACUS: (m0, m1, m-1, m2, m-2, ...) and each function carries an extra (-1)^m.
    "abacus": {
        1: ([2, 0, 1], _minus_one_power_m(1)),
        2: ([4, 2, 0, 1, 3], _minus_one_power_m(2)),
        3: ([6, 4, 2, 0, 1, 3, 5], _minus_one_power_m(3)),
    },
    "canonical": {},
}


def shell_transform(l: int, convention: str) -> np.ndarray:
    """Orthogonal U with canonical = U @ other for one shell of angular momentum l."""
    try:
        table = ORDER_CONVENTIONS[convention]
    except KeyError:
        raise ValueError(f"unknown orbital convention {convention!r}; known: {sorted(ORDER_CONVENTIONS)}") from None
    size = 2 * l + 1
    if l not in table:
        if l > 3 and convention in ("openmx", "abacus"):
            raise ValueError(f"orbital convention {convention!r} is only tabulated up to l=3 (got l={l})")
        return np.eye(size)
    perm, signs = table[l]
    signs = np.ones(size) if signs is None else np.asarray(signs)
    transform = np.zeros((size, size))
    transform[np.arange(size), perm] = signs
    return transform


def orbital_transform(shells, convention: str) -> np.ndarray:
    """Block-diagonal U (n × n) with canonical orbitals = U @ convention orbitals for one atom."""
    return block_diagonal_over_shells(shells, lambda l: shell_transform(l, convention))


def convert_block(block, shells_i, shells_j, source: str, target: str, spinful: bool = False):
    """Re-express an orbital block (n_i × n_j, or 2n_i × 2n_j spin-major) from one order to another."""
    if source == target:
        return block
    left = orbital_transform(shells_i, target).T @ orbital_transform(shells_i, source)
    right = orbital_transform(shells_j, target).T @ orbital_transform(shells_j, source)
    if spinful:
        left, right = spin_diagonal(left), spin_diagonal(right)
    return left @ block @ right.T
