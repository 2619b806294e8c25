"""k-point meshes (fractional coordinates)."""
from __future__ import annotations

import itertools
import math

import numpy as np


def monkhorst_pack(mesh, shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Γ-centred fractional mesh (K, 3), last axis fastest, plus an optional ``shift`` in units of the
    mesh spacing."""
    shift = np.zeros(3) if shift is None else np.asarray(shift, dtype=np.float64)
    axes = [(np.arange(n) + s) / n for n, s in zip(mesh, shift)]
    return np.array(list(itertools.product(*axes)), dtype=np.float64).reshape(-1, 3)


def mesh_for_length(lattice_angstrom, length_angstrom, minimum=1):
    """Smallest mesh with N_i·|a_i| ≥ length along every axis."""
    return [max(minimum, math.ceil(length_angstrom / np.linalg.norm(a) - 1e-9)) for a in lattice_angstrom]
