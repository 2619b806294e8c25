"""Rotations of orbitals: real Wigner D matrices (proper and improper) and SU(2) for spin.

e3nn 0.6 takes y as its polar axis; its irreps coincide with the canonical orbital order when
Cartesian vectors are handed to e3nn as (y, z, x) (:func:`to_e3nn_frame`) and rotations as Q R Qᵀ.
"""
from __future__ import annotations

import numpy as np

from .basis import block_diagonal_over_shells


E3NN_FROM_XYZ = np.eye(3)[[1, 2, 0]]  # Q: (x, y, z) -> (y, z, x)


def to_e3nn_frame(vectors):
    """Cartesian vectors re-ordered (y, z, x) so that e3nn irreps match the canonical orbital order."""
    return vectors[..., [1, 2, 0]]


def real_spherical_harmonics(l: int, vectors) -> np.ndarray:
    """Real spherical harmonics of degree l in the canonical order (component normalisation)."""
    import torch
    from e3nn import o3

    vectors = torch.as_tensor(to_e3nn_frame(np.asarray(vectors, dtype=np.float64)), dtype=torch.float64)
    return o3.spherical_harmonics(l, vectors, normalize=True, normalization="component").numpy()


_SAMPLE_DIRECTIONS = np.random.default_rng(12345).normal(size=(64, 3))


def wigner_D(l: int, rotation) -> np.ndarray:
    """Real Wigner matrix of a proper or improper rotation in the canonical m = -l..l order.

    Orbitals of a rotated structure are ``D @ orbitals``; parity (-1)^l comes out for improper
    rotations. Solved from Y(R x) = D Y(x) on sample directions in float64 (e3nn's own
    D_from_matrix goes through float32 tables, ~1e-7 accurate)."""
    rotation = np.asarray(rotation, dtype=np.float64)
    directions = _SAMPLE_DIRECTIONS[: max(4 * (2 * l + 1), 8)]
    before = real_spherical_harmonics(l, directions)
    after = real_spherical_harmonics(l, directions @ rotation.T)
    solution, *_ = np.linalg.lstsq(before, after, rcond=None)
    return solution.T


def su2_from_rotation(rotation) -> np.ndarray:
    """SU(2) matrix U of the proper part of a rotation (spin is axial: inversion leaves it alone).

    Defined up to an overall sign, which cancels in U H U†."""
    rotation = np.asarray(rotation, dtype=np.float64)
    proper = rotation * np.sign(np.linalg.det(rotation))
    angle = np.arccos(np.clip((np.trace(proper) - 1.0) / 2.0, -1.0, 1.0))
    if angle < 1e-12:
        return np.eye(2, dtype=complex)
    if np.pi - angle < 1e-6:
        # axis from the symmetric part: R = 2nnᵀ - I
        sym = (proper + np.eye(3)) / 2.0
        axis = sym[np.argmax(np.diag(sym))]
        axis = axis / np.linalg.norm(axis)
    else:
        axis = np.array([proper[2, 1] - proper[1, 2], proper[0, 2] - proper[2, 0], proper[1, 0] - proper[0, 1]])
        axis = axis / (2.0 * np.sin(angle))
    pauli = (np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]]))
    generator = sum(a * p for a, p in zip(axis, pauli))
    return np.cos(angle / 2.0) * np.eye(2) - 1j * np.sin(angle / 2.0) * generator


def orbital_rotation(shells, rotation) -> np.ndarray:
    """Block-diagonal Wigner matrix of one atom's orbitals."""
    return block_diagonal_over_shells(shells, lambda l: wigner_D(l, rotation))


def rotate_block(block, shells_i, shells_j, rotation, spinful: bool = False):
    """The block between the same two atoms after the structure is rotated by ``rotation``."""
    left, right = orbital_rotation(shells_i, rotation), orbital_rotation(shells_j, rotation)
    if spinful:
        spin = su2_from_rotation(rotation)
        left, right = np.kron(spin, left), np.kron(spin, right)
    return left @ block @ right.conj().T
