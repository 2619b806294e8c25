"""Readers and writers for the two DeepH on-disk formats.

*New format* (DeepH-pack 1.0 / deepx-dock): ``<root>/dft/<label>/`` holding ``POSCAR``, ``info.json``,
``overlap.h5``, ``hamiltonian.h5`` and ``K_PATH`` (the band path DeepH-dock's ``calc-band`` reads); each
matrix file has ``atom_pairs`` (N,5) [R1,R2,R3,i,j]
(0-based), ``chunk_boundaries`` (N+1), ``chunk_shapes`` (N,2) and ``entries`` (flat, row-major;
complex128 with (2n_i × 2n_j) spin-major blocks when spinful). Orbital order = canonical.

*Legacy format* (DeepH-pack ≤ 0.2, DeepH-E3): one folder per structure with ``element.dat``,
``lat.dat`` / ``rlat.dat`` (vectors as columns), ``site_positions.dat`` (3 × N), ``orbital_types.dat``,
``info.json`` and ``hamiltonians.h5`` / ``overlaps.h5`` with one dataset per key
``"[Rx, Ry, Rz, i, j]"`` (1-based atoms); OpenMX orbital order.

H(0) travels as an extra file with the same atom pairs: ``hamiltonian_0.h5`` (new) and
``hamiltonians_0.h5`` (legacy). A predicted folder holds Ĥ as ``hamiltonian.h5``, so that every
DeepH-dock command (bands, E_F, DOS) reads the prediction, and the same file as
``hamiltonian_pred.h5``, the name DeepH inference writes and ``dock analyze error`` compares with a
DFT folder's ``hamiltonian.h5``. Folders without it (every DeepH dataset made by ABACUS, OpenMX or
SIESTA) are read with ``hamiltonian_0 = None``: good for evaluation and bands, not for training.
``info.json`` carries ``occupation`` (valence electrons per cell, spin included, as DeepH-dock
reads it) and ``fermi_energy_eV`` (mid-gap for insulators; ``null`` is read as unknown). Units are eV
and Å in both formats.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np

from ..conventions import BasisSet, ElementBasis, atomic_number, convert_block, element_symbol
from ..errors import BasisMismatchError, CorruptShardError, DataError, MissingBlockError
from ..kspace.paths import high_symmetry_segments
from ..record import HamiltonianRecord
from .atomic import atomic_write

NEW_FILES = {"hamiltonian_0": "hamiltonian_0.h5", "hamiltonian": "hamiltonian.h5", "overlap": "overlap.h5"}
PREDICTION_FILE = "hamiltonian_pred.h5"
K_PATH_POINTS_PER_SEGMENT = 30
LEGACY_FILES = {"hamiltonian_0": "hamiltonians_0.h5", "hamiltonian": "hamiltonians.h5", "overlap": "overlaps.h5"}


def _record_basis(record: HamiltonianRecord, basis: BasisSet):
    return [basis.for_atomic_number(z).shells for z in record.atomic_numbers]


def _grouped_order(atomic_numbers):
    """Atom order grouped by element (as POSCAR needs), elements in order of first appearance."""
    first_seen = {}
    for index, z in enumerate(atomic_numbers):
        first_seen.setdefault(int(z), index)
    return sorted(range(len(atomic_numbers)), key=lambda a: (first_seen[int(atomic_numbers[a])], a))


# ----------------------------------------------------------------------------- new format
def _write_poscar(path, record):
    symbols = [element_symbol(z) for z in record.atomic_numbers]
    species, counts = [], []
    for symbol in symbols:
        if species and species[-1] == symbol:
            counts[-1] += 1
        else:
            species.append(symbol)
            counts.append(1)
    lines = [record.label, "1.0"]
    lines += ["  " + "  ".join(f"{x:.12f}" for x in vector) for vector in record.lattice]
    lines += ["  " + "  ".join(species), "  " + "  ".join(map(str, counts)), "Cartesian"]
    lines += ["  " + "  ".join(f"{x:.12f}" for x in position) for position in record.positions]
    Path(path).write_text("\n".join(lines) + "\n")


def _read_poscar(path):
    lines = [line.strip() for line in Path(path).read_text().splitlines()]
    scale = float(lines[1].split()[0])
    lattice = np.array([[float(x) for x in lines[i].split()[:3]] for i in (2, 3, 4)]) * scale
    species, counts = lines[5].split(), [int(x) for x in lines[6].split()]
    row = 7
    if lines[row][0] in "sS":  # selective dynamics
        row += 1
    cartesian = lines[row][0] in "cCkK"
    total = sum(counts)
    coordinates = np.array([[float(x) for x in lines[row + 1 + a].split()[:3]] for a in range(total)])
    positions = coordinates * scale if cartesian else coordinates @ lattice
    symbols = [s for s, n in zip(species, counts) for _ in range(n)]
    return symbols, positions, lattice


def _write_matrix_file(path, record, kind, blocks):
    shapes = np.array([b.shape for b in blocks], dtype=np.int64).reshape(-1, 2)
    boundaries = np.concatenate([[0], np.cumsum(shapes.prod(axis=1))]).astype(np.int64)
    entries = HamiltonianRecord.flatten_blocks(blocks)
    spinful_matrix = record.spinful and kind != "overlap"
    entries = entries.astype(np.complex128 if spinful_matrix else np.float64)
    pairs = np.concatenate([record.cell_shifts, record.edge_index], axis=1).astype(np.int64)

    def write(temporary):
        with h5py.File(temporary, "w") as f:
            f["atom_pairs"] = pairs
            f["chunk_boundaries"] = boundaries
            f["chunk_shapes"] = shapes
            f["entries"] = entries

    atomic_write(path, write)


def _json_number(value):
    """NaN/inf as JSON null (DeepH-dock writes and reads null for unknown numbers)."""
    return float(value) if value is not None and math.isfinite(value) else None


def _occupation(record):
    return int(round(record.num_electrons)) if math.isfinite(record.num_electrons) and \
        abs(record.num_electrons - round(record.num_electrons)) < 1e-9 else _json_number(record.num_electrons)


def k_path_text(lattice, points_per_segment: int = K_PATH_POINTS_PER_SEGMENT) -> str:
    """ASE's automatic band path of the cell as DeepH-dock's ``K_PATH``: one line per segment,
    ``N k_start(3) k_end(3) label_start label_end``, fractional in the cell's reciprocal basis."""
    return "".join(f"{points_per_segment} {' '.join(f'{x:.10f}' for x in (*ka, *kb))} {a} {b}\n"
                   for a, ka, b, kb in high_symmetry_segments(lattice))


def write_deeph(folder, record: HamiltonianRecord, basis: BasisSet, prediction: bool = False):
    """Write one structure in the DeepH new format (folder = ``<root>/dft/<label>``), ``K_PATH``
    included. ``prediction``: ``record.hamiltonian`` is Ĥ, written as ``hamiltonian.h5`` and linked as
    ``hamiltonian_pred.h5`` (see the module's notes). The structure is written as what it is (spinless
    real or spin–orbit complex blocks; ``record.as_spinful()`` first for H ⊗ I₂)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = record.reordered(_grouped_order(record.atomic_numbers))
    _write_poscar(folder / "POSCAR", record)
    symbols = sorted({element_symbol(z) for z in record.atomic_numbers})
    info = {
        "atoms_quantity": record.num_atoms, "orbits_quantity": int(record.orbital_counts.sum()),
        "orthogonal_basis": False, "spinful": bool(record.spinful),
        "fermi_energy_eV": _json_number(record.fermi_energy),
        "elements_orbital_map": {s: list(basis[s].shells) for s in symbols},
        "occupation": _occupation(record),
    }
    (folder / "info.json").write_text(json.dumps(info, indent=1))
    atomic_write(folder / "K_PATH", lambda path: Path(path).write_text(k_path_text(record.lattice)))
    for kind, name in NEW_FILES.items():
        if kind in record.matrix_kinds:
            _write_matrix_file(folder / name, record, kind, record.blocks(kind))
    if prediction:
        atomic_write(folder / PREDICTION_FILE, lambda path: _link_or_copy(folder / NEW_FILES["hamiltonian"], path))


def warn_mixed_kinds(where, spinful_flags, spinful_written: bool):
    """A warning when structures written as what they are mix spinless and spin–orbit ones: DeepH-dock's
    dataset tools and a DeepH-pack training set take one kind (``--spinful`` writes all as spinors)."""
    if not spinful_written and len(set(map(bool, spinful_flags))) > 1:
        warnings.warn(f"{where}: the folders mix spinless and spin-orbit structures; DeepH-dock's dataset tools "
                      f"(analyze dataset) and DeepH-pack training read one kind: write them again with --spinful "
                      f"(spinless ones as H ⊗ I2)", stacklevel=3)


def _link_or_copy(source, target):
    """A hard link (no second copy on disk) where the file system has them, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _read_matrix_file(path, structure):
    try:
        with h5py.File(path, "r") as f:
            pairs, boundaries = f["atom_pairs"][()], f["chunk_boundaries"][()]
            shapes, entries = f["chunk_shapes"][()], f["entries"][()]
    except FileNotFoundError:
        raise MissingBlockError("matrix file is missing", path=path, structure=structure) from None
    except (OSError, KeyError) as error:
        raise CorruptShardError(f"cannot read DeepH matrix file: {error}", path=path, structure=structure) from None
    if len(boundaries) != len(pairs) + 1 or boundaries[-1] != len(entries) or len(shapes) != len(pairs) \
            or np.any(np.diff(boundaries) != shapes.prod(axis=1)):
        raise CorruptShardError("atom_pairs / chunk_boundaries / chunk_shapes / entries disagree", path=path,
                                structure=structure)
    return pairs, shapes, entries


def read_deeph(folder, label: str | None = None, hamiltonian_name: str = NEW_FILES["hamiltonian"]):
    """Read one structure folder of the DeepH new format. Returns (record, basis); ``hamiltonian_name``
    picks the H(T) file (``hamiltonian_pred.h5`` reads a prediction where DeepH inference wrote one)."""
    folder = Path(folder)
    label = label or folder.name
    try:
        info = json.loads((folder / "info.json").read_text())
    except FileNotFoundError:
        raise DataError("info.json is missing", path=folder / "info.json", structure=label) from None
    symbols, positions, lattice = _read_poscar(folder / "POSCAR")
    basis = BasisSet({s: ElementBasis(s, tuple(l)) for s, l in info["elements_orbital_map"].items()})
    atomic_numbers = [atomic_number(s) for s in symbols]
    orbital_counts = basis.orbital_counts(atomic_numbers)
    spinful = bool(info.get("spinful", False))
    matrices, reference_pairs = {"hamiltonian_0": None}, None
    for kind, name in (("hamiltonian", hamiltonian_name), ("overlap", NEW_FILES["overlap"]),
                       ("hamiltonian_0", NEW_FILES["hamiltonian_0"])):
        if kind == "hamiltonian_0" and not (folder / name).exists():
            continue  # DFT data from other codes: no H(0)
        pairs, shapes, entries = _read_matrix_file(folder / name, label)
        if reference_pairs is None:
            reference_pairs = pairs
        elif not np.array_equal(pairs, reference_pairs):
            raise MissingBlockError(f"atom_pairs differ from those of {hamiltonian_name}",
                                    path=folder / name, structure=label)
        factor = 2 if spinful and kind != "overlap" else 1
        expected = np.stack([orbital_counts[pairs[:, 3]], orbital_counts[pairs[:, 4]]], axis=1) * factor
        if not np.array_equal(shapes, expected):
            bad = int(np.flatnonzero((shapes != expected).any(axis=1))[0])
            raise BasisMismatchError(f"block {pairs[bad].tolist()} has shape {shapes[bad].tolist()}, the basis in "
                                     f"info.json implies {expected[bad].tolist()}", path=folder / name, structure=label)
        matrices[kind] = entries if factor == 2 else entries.real
    record = HamiltonianRecord(
        label=label, atomic_numbers=atomic_numbers, positions=positions, lattice=lattice,
        orbital_counts=orbital_counts, edge_index=reference_pairs[:, 3:5], cell_shifts=reference_pairs[:, 0:3],
        spinful=spinful, fermi_energy=_number(info.get("fermi_energy_eV")), num_electrons=_number(info.get("occupation")),
        **matrices)
    return record.validate(basis, path=folder), basis


def _number(value) -> float:
    return math.nan if value is None else float(value)


# ----------------------------------------------------------------------------- legacy format
def _key(shift, i, j):
    return f"[{int(shift[0])}, {int(shift[1])}, {int(shift[2])}, {int(i) + 1}, {int(j) + 1}]"


def write_deeph_legacy(folder, record: HamiltonianRecord, basis: BasisSet):
    """Write one structure in the DeepH legacy format (OpenMX orbital order, 1-based atoms)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shells = _record_basis(record, basis)
    np.savetxt(folder / "element.dat", record.atomic_numbers, fmt="%d")
    np.savetxt(folder / "lat.dat", record.lattice.T)
    np.savetxt(folder / "rlat.dat", 2 * np.pi * np.linalg.inv(record.lattice))
    np.savetxt(folder / "site_positions.dat", record.positions.T)
    (folder / "orbital_types.dat").write_text("\n".join("  ".join(map(str, s)) for s in shells) + "\n")
    (folder / "info.json").write_text(json.dumps({"isspinful": bool(record.spinful),
                                                  "fermi_level": _json_number(record.fermi_energy),
                                                  "occupation": _occupation(record)}, indent=1))
    for kind, name in LEGACY_FILES.items():
        if kind not in record.matrix_kinds:
            continue
        blocks = record.blocks(kind)
        spinful = record.spinful and kind != "overlap"

        def write(temporary, kind=kind, blocks=blocks, spinful=spinful):
            with h5py.File(temporary, "w") as f:
                for e, ((i, j), shift) in enumerate(zip(record.edge_index, record.cell_shifts)):
                    block = convert_block(blocks[e], shells[i], shells[j], "canonical", "openmx", spinful)
                    f[_key(shift, i, j)] = block.astype(np.complex128 if spinful else np.float64)

        atomic_write(folder / name, write)


def read_deeph_legacy(folder, label: str | None = None):
    """Read one structure folder of the DeepH legacy format. Returns (record, basis)."""
    folder = Path(folder)
    label = label or folder.name
    try:
        atomic_numbers = np.loadtxt(folder / "element.dat", ndmin=1).astype(int)
        lattice = np.loadtxt(folder / "lat.dat").T
        positions = np.loadtxt(folder / "site_positions.dat", ndmin=2).T
        shell_lines = (folder / "orbital_types.dat").read_text().split("\n")
        info = json.loads((folder / "info.json").read_text())
    except (FileNotFoundError, ValueError) as error:
        raise DataError(f"cannot read legacy structure files: {error}", path=folder, structure=label) from None
    shells = [tuple(int(x) for x in line.split()) for line in shell_lines if line.strip()]
    elements = {}
    for z, atom_shells in zip(atomic_numbers, shells):
        symbol = element_symbol(z)
        if symbol in elements and elements[symbol].shells != atom_shells:
            raise BasisMismatchError(f"atoms of {symbol} have different orbital types", path=folder / "orbital_types.dat",
                                     structure=label)
        elements[symbol] = ElementBasis(symbol, atom_shells)
    basis = BasisSet(elements)
    spinful = bool(info.get("isspinful", False))
    matrices, keys = {"hamiltonian_0": None}, None
    for kind, name in (("hamiltonian", LEGACY_FILES["hamiltonian"]), ("overlap", LEGACY_FILES["overlap"]),
                       ("hamiltonian_0", LEGACY_FILES["hamiltonian_0"])):
        path = folder / name
        if kind == "hamiltonian_0" and not path.exists():
            continue
        try:
            with h5py.File(path, "r") as f:
                data = {key: f[key][()] for key in f.keys()}
        except FileNotFoundError:
            raise MissingBlockError("matrix file is missing", path=path, structure=label) from None
        except OSError as error:
            raise CorruptShardError(f"cannot read legacy matrix file: {error}", path=path, structure=label) from None
        if keys is None:
            parsed = sorted(tuple(json.loads(k)) for k in data)
            keys = [(p[3] - 1, p[4] - 1, p[0], p[1], p[2]) for p in parsed]
            keys.sort()
        missing = [k for k in keys if _key(k[2:], k[0], k[1]) not in data]
        if missing or len(data) != len(keys):
            raise MissingBlockError(f"blocks differ from those of {LEGACY_FILES['hamiltonian']} "
                                    f"(e.g. {missing[:1]})", path=path, structure=label)
        matrix_spinful = spinful and kind != "overlap"
        blocks = [convert_block(data[_key(k[2:], k[0], k[1])], shells[k[0]], shells[k[1]], "openmx", "canonical",
                                matrix_spinful) for k in keys]
        matrices[kind] = HamiltonianRecord.flatten_blocks(blocks)
        if not matrix_spinful:
            matrices[kind] = matrices[kind].real
    record = HamiltonianRecord(
        label=label, atomic_numbers=atomic_numbers, positions=positions, lattice=lattice,
        orbital_counts=basis.orbital_counts(atomic_numbers), edge_index=[k[:2] for k in keys],
        cell_shifts=[k[2:] for k in keys], spinful=spinful, fermi_energy=_number(info.get("fermi_level")),
        num_electrons=_number(info.get("occupation")), **matrices)
    return record.validate(basis, path=folder), basis


def structure_folders(root, marker: str = "info.json"):
    """Every folder under ``root`` (any depth) that holds ``marker``, sorted."""
    return sorted(path.parent for path in Path(root).rglob(marker))
