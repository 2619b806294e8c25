"""Band-structure paths through the reciprocal cell."""
from __future__ import annotations

import itertools

import numpy as np
import torch

# a path through corners of the reciprocal cell, valid for any lattice; labels are the fractional
# coordinates in the reciprocal basis (b1, b2, b3), not lattice-specific symbols
DEFAULT_PATH = (("Γ", (0.0, 0.0, 0.0)), ("½00", (0.5, 0.0, 0.0)), ("½½0", (0.5, 0.5, 0.0)), ("Γ", (0.0, 0.0, 0.0)),
                ("½½½", (0.5, 0.5, 0.5)))


def kpath(lattice, segments=None, density: int = 40):
    """Fractional k-points along ``segments`` (default: :func:`high_symmetry_segments`, ASE's automatic
    path of the cell, the one path convention of plots, ``K_PATH`` and the gap search) with about
    ``density`` points per Å⁻¹ of segment length. A jump between two runs of the path ("K|U") adds no
    length. Returns (kpoints (K,3), distances (K,), tick positions, tick labels); Γ is labelled "Γ"."""
    reciprocal = 2 * np.pi * np.linalg.inv(np.asarray(lattice, dtype=np.float64)).T
    segments = high_symmetry_segments(lattice) if segments is None else segments
    name = lambda label: "Γ" if label == "G" else label
    kpoints, distances, ticks, labels, travelled = [], [], [], [], 0.0
    for index, (label_a, start, label_b, end) in enumerate(segments):
        start, end = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
        if index == 0:
            ticks, labels = [0.0], [name(label_a)]
        elif labels[-1] != name(label_a):  # a new run of the path starts elsewhere
            kpoints.append(np.asarray(segments[index - 1][3], dtype=np.float64))
            distances.append(travelled)
            labels[-1] = f"{labels[-1]}|{name(label_a)}"
        length = np.linalg.norm((end - start) @ reciprocal)
        count = max(2, int(np.ceil(length * density)))
        for t in np.linspace(0.0, 1.0, count, endpoint=False):
            kpoints.append(start + t * (end - start))
            distances.append(travelled + t * length)
        travelled += length
        ticks.append(travelled)
        labels.append(name(label_b))
    kpoints.append(np.asarray(segments[-1][3], dtype=np.float64))
    distances.append(travelled)
    return torch.as_tensor(np.array(kpoints)), np.array(distances), ticks, labels


def high_symmetry_segments(lattice) -> list:
    """ASE's automatic band path of this cell as segments ``(label_a, k_a, label_b, k_b)``, fractional in
    the cell's own reciprocal basis (as :class:`ase.cell.Cell` gives them; "G" is Γ). A cell ASE cannot
    classify gets :data:`DEFAULT_PATH`, which is valid for any lattice."""
    from ase.cell import Cell
    from ase.dft.kpoints import parse_path_string

    try:
        bandpath = Cell(np.asarray(lattice, dtype=np.float64)).bandpath(npoints=0)
        special = bandpath.special_points
        return [(a, np.asarray(special[a], dtype=np.float64), b, np.asarray(special[b], dtype=np.float64))
                for run in parse_path_string(bandpath.path) for a, b in zip(run[:-1], run[1:])]
    except Exception:  # noqa: BLE001 - ASE raises several kinds for cells it cannot reduce
        return [("G" if a == "Γ" else a, np.asarray(ka, dtype=np.float64), "G" if b == "Γ" else b,
                 np.asarray(kb, dtype=np.float64)) for (a, ka), (b, kb) in zip(DEFAULT_PATH[:-1], DEFAULT_PATH[1:])]


def segment_kpoints(segments, points_per_segment: int = 30) -> np.ndarray:
    """Fractional k-points (S·N, 3) along ``segments``, both ends of each included: DeepH-dock's
    ``K_PATH`` sampling, k_a + i/(N − 1)·(k_b − k_a)."""
    steps = np.linspace(0.0, 1.0, points_per_segment)[:, None]
    return np.concatenate([ka + steps * (kb - ka) for _, ka, _, kb in segments]).reshape(-1, 3)


def describe_kpoint(kpoint, segments, tolerance: float = 2e-3) -> str:
    """Where ``kpoint`` lies: a special point's label ("Γ", "X", ...), "Γ–X" on a segment of the path,
    else "off the path"; equivalent points (k + G) count as the same."""
    kpoint = np.asarray(kpoint, dtype=np.float64)
    near = lambda d: bool(np.all(np.abs(d - np.round(d)) < tolerance))
    name = lambda label: "Γ" if label == "G" else label
    for a, ka, b, kb in segments:
        for label, point in ((a, ka), (b, kb)):
            if near(kpoint - point):
                return name(label)
    for a, ka, b, kb in segments:
        direction = kb - ka
        for image in itertools.product((-1, 0, 1), repeat=3):
            t = float(np.dot(kpoint + image - ka, direction) / np.dot(direction, direction))
            if 0.0 < t < 1.0 and np.all(np.abs(kpoint + image - ka - t * direction) < tolerance):
                return f"{name(a)}–{name(b)}"
    return "off the path"
