"""Band-structure paths through the reciprocal cell."""
from __future__ import annotations

import numpy as np
import torch

# a path through corners of the reciprocal cell, valid for any lattice; labels are the fractional
# coordinates in the reciprocal basis (b1, b2, b3), not lattice-specific symbols
DEFAULT_PATH = (("Γ", (0.0, 0.0, 0.0)), ("½00", (0.5, 0.0, 0.0)), ("½½0", (0.5, 0.5, 0.0)), ("Γ", (0.0, 0.0, 0.0)),
                ("½½½", (0.5, 0.5, 0.5)))


def kpath(lattice, points=DEFAULT_PATH, density: int = 40):
    """Fractional k-points along ``points`` (label, fractional k) with about ``density`` points per Å⁻¹
    segment length; returns (kpoints (K,3), distances (K,), tick positions, tick labels)."""
    reciprocal = 2 * np.pi * np.linalg.inv(np.asarray(lattice, dtype=np.float64)).T
    kpoints, distances, ticks, labels, travelled = [], [], [0.0], [points[0][0]], 0.0
    for (_, start), (label, end) in zip(points[:-1], points[1:]):
        start, end = np.asarray(start), np.asarray(end)
        length = np.linalg.norm((end - start) @ reciprocal)
        count = max(2, int(np.ceil(length * density)))
        for t in np.linspace(0.0, 1.0, count, endpoint=False):
            kpoints.append(start + t * (end - start))
            distances.append(travelled + t * length)
        travelled += length
        ticks.append(travelled)
        labels.append(label)
    kpoints.append(np.asarray(points[-1][1]))
    distances.append(travelled)
    return torch.as_tensor(np.array(kpoints)), np.array(distances), ticks, labels
