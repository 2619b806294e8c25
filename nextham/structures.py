"""Structures: what the DFT engine needs to compute one (:class:`StructureSpec`), and the structures
users bring — any file ASE reads (CIF, POSCAR/CONTCAR, extxyz, …) or folders of them — checked before
any DFT work is spent on them (periodic, no overlapping atoms). Below both ``dft`` (which generates
from specs) and ``predict`` (which reads files into them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError


@dataclass
class StructureSpec:
    """What the DFT engine needs to compute one structure."""

    label: str
    symbols: list
    positions: np.ndarray
    lattice: np.ndarray
    soc: bool = False
    metadata: dict = field(default_factory=dict)
    engine_overrides: dict = field(default_factory=dict)  # per-entry engine settings (e.g. a longer range)


MIN_DISTANCE_ANGSTROM = 0.5  # closer atoms are a broken file (duplicated sites, wrong units), not a crystal


def structure_files(paths) -> list:
    """Files named in ``paths``; a folder contributes every non-hidden file under it, sorted."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not found:
                raise DataError("the folder holds no structure file", path=path)
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise DataError("no such structure file or folder", path=path)
    return files


def read_structures(paths) -> list:
    """(label, ase.Atoms, file) for every structure in ``paths`` (every frame of a multi-frame file,
    labelled ``<stem>-<frame>``)."""
    import ase.io

    out = []
    for path in structure_files(paths):
        try:
            frames = ase.io.read(path, index=":")
        except Exception as error:  # ASE raises many types for files it cannot parse
            raise DataError(f"ASE cannot read this structure file ({type(error).__name__}: {error}); give a CIF, "
                            f"POSCAR, extxyz or another format ASE reads", path=path) from None
        frames = frames if isinstance(frames, list) else [frames]
        if not frames:
            raise DataError("ASE reads no structure from this file (a CIF without atom sites, an empty file); "
                            "give a file with a cell and atomic positions", path=path)
        for index, atoms in enumerate(frames):
            label = path.stem if len(frames) == 1 else f"{path.stem}-{index}"
            out.append((label, atoms, path))
    return out


def structure_spec(atoms, label: str, path=None, soc: bool = False) -> StructureSpec:
    """The engine's description of ``atoms``, after the checks that need no DFT: three lattice vectors
    and periodic boundaries, no two atoms closer than 0.5 Å (periodic images included)."""
    from ase.neighborlist import neighbor_list

    where = {"path": path, "structure": label}
    if len(atoms) == 0:
        raise DataError("the structure has no atoms", **where)
    if not all(atoms.pbc) or abs(atoms.cell.volume) < 1e-6:
        raise DataError("not a periodic crystal (ASE reads pbc="
                        f"{list(map(bool, atoms.pbc))}, cell volume {abs(atoms.cell.volume):.3g} Å³); give three "
                        "lattice vectors (a CIF or POSCAR), or put a molecule or slab in a box with vacuum and "
                        "periodic boundaries", **where)
    first, second, distance = neighbor_list("ijd", atoms, MIN_DISTANCE_ANGSTROM)  # O(N) cell lists
    if len(distance):
        k = int(np.argmin(distance))
        raise DataError(f"atoms {first[k]} ({atoms[first[k]].symbol}) and {second[k]} ({atoms[second[k]].symbol}) "
                        f"are {distance[k]:.3f} Å apart (periodic images included): overlapping sites; check the "
                        f"file's units (Å expected) and duplicated positions", **where)
    return StructureSpec(label=label, symbols=list(atoms.get_chemical_symbols()),
                         positions=np.asarray(atoms.positions, dtype=np.float64),
                         lattice=np.asarray(atoms.cell[:], dtype=np.float64), soc=soc,
                         metadata={"source": str(path) if path is not None else None})
