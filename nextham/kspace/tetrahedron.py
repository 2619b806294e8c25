"""The linear tetrahedron method (Blöchl, Jepsen and Andersen, PRB 49, 16223 (1994)) for the number
of states below an energy, and the Fermi level that holds an electron count.

Each cell of a Γ-centred mesh is cut into six tetrahedra along its shortest main diagonal; inside a
tetrahedron a band is linear between its four corner energies, so the occupied volume is exact for
that interpolation. For a metal this converges far faster with the mesh than smearing or counting
states (the error falls as the square of the mesh spacing, with no smearing width to choose).
"""
from __future__ import annotations

import itertools

import numpy as np

# the six paths 0 → e_p → e_p + e_q → (1,1,1) through a cell's corners, corner index 4a + 2b + c
_TETRAHEDRA = np.array([[0, 1 << (2 - p), (1 << (2 - p)) | (1 << (2 - q)), 7]
                        for p, q in itertools.permutations(range(3), 2)], dtype=np.int64)


def tetrahedron_corners(mesh, lattice) -> np.ndarray:
    """(6·n1·n2·n3, 4) indices into the flattened mesh (last axis fastest, as
    :func:`~nextham.kspace.monkhorst_pack` orders it) of every tetrahedron's corners."""
    mesh = np.asarray(mesh, dtype=np.int64)
    steps = 2 * np.pi * np.linalg.inv(np.asarray(lattice, dtype=np.float64)).T / mesh[:, None]
    signs = np.array(list(itertools.product((1, -1), repeat=3)))[:4]  # the four main diagonals
    flip = signs[np.argmin(np.linalg.norm(signs @ steps, axis=1))] < 0  # axes mirrored so it runs 0 → 7
    offsets = np.array([[(corner >> (2 - axis)) & 1 for axis in range(3)] for corner in range(8)])
    offsets = np.where(flip, 1 - offsets, offsets)
    cells = np.array(list(itertools.product(*[range(n) for n in mesh])), dtype=np.int64)  # (C, 3)
    corners = np.mod(cells[:, None, :] + offsets[None, :, :], mesh)                      # (C, 8, 3)
    flat = (corners[..., 0] * mesh[1] + corners[..., 1]) * mesh[2] + corners[..., 2]       # (C, 8)
    return flat[:, _TETRAHEDRA].reshape(-1, 4)


def occupied_fraction(sorted_corners, energy: float) -> np.ndarray:
    """Fraction of each tetrahedron's volume below ``energy`` for a band linear between its corner
    energies ``sorted_corners`` (..., 4), ascending along the last axis."""
    e1, e2, e3, e4 = np.moveaxis(sorted_corners, -1, 0)
    x = energy
    with np.errstate(divide="ignore", invalid="ignore"):  # a degenerate pair only closes an empty interval
        first = (x - e1) ** 3 / ((e2 - e1) * (e3 - e1) * (e4 - e1))
        d = x - e2
        second = ((e2 - e1) ** 2 + 3 * (e2 - e1) * d + 3 * d ** 2
                  - (e3 - e1 + e4 - e2) / ((e3 - e2) * (e4 - e2)) * d ** 3) / ((e3 - e1) * (e4 - e1))
        third = 1.0 - (e4 - x) ** 3 / ((e4 - e1) * (e4 - e2) * (e4 - e3))
    return np.select([x <= e1, x <= e2, x <= e3, x <= e4], [0.0, first, second, third], default=1.0)


def tetrahedron_fermi_level(eigenvalues, mesh, lattice, num_electrons: float, spinful: bool,
                            tolerance_ev: float = 1e-7) -> float:
    """E_F (eV) at which the tetrahedron-interpolated bands ``eigenvalues`` (n1·n2·n3, n) on the
    Γ-centred ``mesh`` hold ``num_electrons`` (a spinless band holds two)."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    corners = eigenvalues[tetrahedron_corners(mesh, lattice)]                  # (T, 4, n)
    tetrahedra = len(corners)
    corners = np.sort(np.moveaxis(corners, 1, -1).reshape(-1, 4), axis=-1)     # (T·n, 4)
    filled = num_electrons / (1.0 if spinful else 2.0)

    def count(mu):  # bands per tetrahedron below mu: whole ones counted, only those cut by mu interpolated
        cut = (corners[:, 0] < mu) & (corners[:, 3] > mu)
        return (np.count_nonzero(corners[:, 3] <= mu) + occupied_fraction(corners[cut], mu).sum()) / tetrahedra

    low, high = float(eigenvalues.min()), float(eigenvalues.max())
    for _ in range(200):  # bisection: the count is monotonic in mu
        middle = 0.5 * (low + high)
        low, high = (middle, high) if count(middle) < filled else (low, middle)
        if high - low < tolerance_ev:
            break
    return 0.5 * (low + high)
