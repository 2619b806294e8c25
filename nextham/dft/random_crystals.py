"""Random symmetric crystals for a recipe, from PyXtal (``pip install -c constraints.txt -e '.[random]'``).

A library entry ``{random: {...}}`` stands for ``structures`` crystals, each of a formula drawn in turn
from ``formulas`` (e.g. ``{Ga: 1, As: 1}``), repeated to a number of atoms within ``atoms`` = [min, max]
in the conventional cell, in a space group drawn at random among those PyXtal can fill with that
composition. Every draw is seeded by the recipe's seed, the entry's name and the structure's index, so a
recipe expands to the same crystals (and content keys) on every machine with the pinned PyXtal.
"""
from __future__ import annotations

import numpy as np

from ..structures import StructureSpec

MAX_TRIES = 400  # space groups drawn before a formula is given up (most are incompatible with few atoms)
# PyXtal's own distance tolerances let atoms come to ~half a bond: a crystal is kept only where every
# pair is at least this fraction of the sum of covalent radii (ASE's) apart
MIN_BOND_FRACTION = 0.8


def _too_close(structure, fraction: float) -> bool:
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    first, second, distance = neighbor_list("ijd", structure, 2.0 * covalent_radii.max())
    numbers = structure.numbers
    bound = fraction * (covalent_radii[numbers[first]] + covalent_radii[numbers[second]])
    return bool(np.any(distance < bound))


def _formula_text(formula: dict) -> str:
    return "".join(f"{symbol}{count if count != 1 else ''}" for symbol, count in formula.items())


def _space_group(structure) -> int:
    """The crystal's space group as spglib finds it: atoms drawn onto special positions can give it more
    symmetry than the group PyXtal was asked for."""
    import spglib

    cell = (np.asarray(structure.cell[:]), structure.get_scaled_positions(), structure.numbers)
    return int(spglib.get_symmetry_dataset(cell, symprec=1e-3).number)


def random_crystal(formula: dict, atoms: tuple, seed: int, volume_factor: float = 1.0):
    """(symbols, positions Å, lattice rows Å, space group) of one random crystal of ``formula``."""
    try:
        from pyxtal import pyxtal
    except ImportError:
        raise ImportError("random crystals need PyXtal: pip install -c constraints.txt -e '.[random]'") from None
    rng = np.random.default_rng(seed)
    unit = sum(int(n) for n in formula.values())
    multiples = [m for m in range(1, int(atoms[1]) // unit + 1) if m * unit >= int(atoms[0])]
    if not multiples:
        raise ValueError(f"random crystal {_formula_text(formula)}: no multiple of {unit} atoms lies in {list(atoms)}")
    for _ in range(MAX_TRIES):
        multiple = int(rng.choice(multiples))
        group = int(rng.integers(2, 231))
        crystal = pyxtal()
        try:
            crystal.from_random(3, group, list(formula), [int(n) * multiple for n in formula.values()],
                                factor=float(volume_factor), random_state=int(rng.integers(2 ** 31)))
        except Exception:  # noqa: BLE001 - an incompatible composition or a failed placement: draw again
            continue
        if not crystal.valid:
            continue
        structure = crystal.to_ase()
        if _too_close(structure, MIN_BOND_FRACTION):
            continue
        return (list(structure.get_chemical_symbols()), np.asarray(structure.positions),
                np.asarray(structure.cell[:]), _space_group(structure))
    raise ValueError(f"random crystal {_formula_text(formula)}: no space group filled in {MAX_TRIES} tries")


def expand_random_entry(entry: dict, seed: int = 0) -> list:
    """Structure specs of a ``{random: {...}}`` library entry (see the module's docstring); ``group``,
    ``engine`` and ``name`` act as on a prototype entry."""
    options = dict(entry["random"])
    formulas = [dict(formula) for formula in options["formulas"]]
    atoms = tuple(options.get("atoms", (2, 8)))
    count = int(options.get("structures", len(formulas)))
    name = entry.get("name") or "random"
    group = str(entry.get("group", "in_distribution"))
    specs = []
    for index in range(count):
        formula = formulas[index % len(formulas)]
        symbols, positions, lattice, space_group = random_crystal(
            formula, atoms, seed=np.random.SeedSequence([seed, sum(map(ord, name)), index]).generate_state(1)[0],
            volume_factor=float(options.get("volume_factor", 1.0)))
        specs.append(StructureSpec(
            label=f"{name}-{_formula_text(formula)}-{index:03d}", symbols=symbols, positions=positions,
            lattice=lattice, soc=False, engine_overrides=dict(entry.get("engine", {}) or {}),
            metadata={"prototype": "random", "space_group": space_group, "variant": index, "group": group}))
    return specs
