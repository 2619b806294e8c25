"""A library of small crystal prototypes, with element substitution, strain and rattling.

Positions and lattices are in Å; lattice vectors are rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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


def _fcc(a):
    return 0.5 * a * np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])


def _hexagonal(a, c):
    return np.array([[a, 0.0, 0.0], [-0.5 * a, 0.5 * np.sqrt(3.0) * a, 0.0], [0.0, 0.0, c]])


def zincblende(elements, a):
    """Diamond when both elements are equal (C, Si, Ge), zincblende otherwise (BN, SiC, GaAs)."""
    first, second = elements
    return [first, second], np.array([[0.0, 0.0, 0.0], [0.25 * a] * 3]), _fcc(a)


def rocksalt(elements, a):
    first, second = elements
    return [first, second], np.array([[0.0, 0.0, 0.0], [0.5 * a, 0.0, 0.0]]), _fcc(a)


def cesium_chloride(elements, a):
    first, second = elements
    return [first, second], np.array([[0.0, 0.0, 0.0], [0.5 * a] * 3]), a * np.eye(3)


def fluorite(elements, a):
    cation, anion = elements
    positions = np.array([[0.0, 0.0, 0.0], [0.25 * a] * 3, [0.75 * a] * 3])
    return [cation, anion, anion], positions, _fcc(a)


def wurtzite(elements, a, c=None, u=0.375):
    first, second = elements
    c = c if c is not None else a * np.sqrt(8.0 / 3.0)
    lattice = _hexagonal(a, c)
    fractional = np.array([[1 / 3, 2 / 3, 0.0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, u], [2 / 3, 1 / 3, 0.5 + u]])
    return [first, first, second, second], fractional @ lattice, lattice


def hexagonal_monolayer(elements, a, vacuum=15.0):
    """h-BN-like planar honeycomb layer (graphene when both elements are C)."""
    first, second = elements
    lattice = _hexagonal(a, vacuum)
    fractional = np.array([[1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]])
    return [first, second], fractional @ lattice, lattice


def mx2_monolayer(elements, a, thickness=3.1, vacuum=15.0):
    """2H transition-metal-dichalcogenide layer (MoS2-like): metal between two chalcogen planes."""
    metal, chalcogen = elements
    lattice = _hexagonal(a, vacuum + thickness)
    half = 0.5 * thickness / lattice[2, 2]
    fractional = np.array([[1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5 + half], [2 / 3, 1 / 3, 0.5 - half]])
    return [metal, chalcogen, chalcogen], fractional @ lattice, lattice


def mx2_1t_monolayer(elements, a, thickness=3.1, vacuum=15.0):
    """1T (CdI2-type) layer: the metal octahedrally between two halogen or chalcogen planes (SnS2, PbI2, MgCl2)."""
    metal, anion = elements
    lattice = _hexagonal(a, vacuum + thickness)
    half = 0.5 * thickness / lattice[2, 2]
    fractional = np.array([[0.0, 0.0, 0.5], [1 / 3, 2 / 3, 0.5 + half], [2 / 3, 1 / 3, 0.5 - half]])
    return [metal, anion, anion], fractional @ lattice, lattice


def cubic_perovskite(elements, a):
    a_site, b_site, anion = elements
    positions = np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]) * a
    return [a_site, b_site, anion, anion, anion], positions, a * np.eye(3)


PROTOTYPES = {
    "zincblende": zincblende,
    "diamond": zincblende,
    "rocksalt": rocksalt,
    "cesium_chloride": cesium_chloride,
    "fluorite": fluorite,
    "wurtzite": wurtzite,
    "hexagonal_monolayer": hexagonal_monolayer,
    "mx2_monolayer": mx2_monolayer,
    "mx2_1t_monolayer": mx2_1t_monolayer,
    "cubic_perovskite": cubic_perovskite,
}


def build_prototype(name, elements, **parameters):
    try:
        builder = PROTOTYPES[name]
    except KeyError:
        raise ValueError(f"unknown prototype {name!r}; known: {sorted(PROTOTYPES)}") from None
    return builder(list(elements), **parameters)


def strain_matrix(rng, amplitude):
    """Random symmetric strain ε with entries ~ U(−amplitude, amplitude); the cell becomes L(1+ε)."""
    if amplitude <= 0:
        return np.eye(3)
    raw = rng.uniform(-amplitude, amplitude, size=(3, 3))
    return np.eye(3) + 0.5 * (raw + raw.T)


def supercell(symbols, positions, lattice, repeat):
    """The cell repeated ``repeat`` = (n1, n2, n3) times along its lattice vectors (atoms cell by cell)."""
    repeat = [int(n) for n in repeat]
    if len(repeat) != 3 or min(repeat) < 1:
        raise ValueError(f"supercell must be three positive integers, not {repeat}")
    shifts = np.array([(a, b, c) for a in range(repeat[0]) for b in range(repeat[1]) for c in range(repeat[2])], float)
    translations = shifts @ lattice
    positions = (translations[:, None, :] + positions[None]).reshape(-1, 3)
    return list(symbols) * len(shifts), positions, lattice * np.array(repeat, float)[:, None]


def _substitute(rng, symbols, substitutions):
    """Random substitutional alloy: ``{host: {guest: fraction}}`` replaces that fraction of the host's
    sites (rounded, at least one) by the guest."""
    symbols = list(symbols)
    for host, guests in (substitutions or {}).items():
        sites = [i for i, s in enumerate(symbols) if s == host]
        rng.shuffle(sites)
        for guest, fraction in guests.items():
            count = max(1, int(round(float(fraction) * len(sites))))
            chosen, sites = sites[:count], sites[count:]
            for site in chosen:
                symbols[site] = guest
    return symbols


def expand_entry(entry: dict, seed: int = 0):
    """Structure specs of one library entry: the ideal crystal plus strained/rattled variants.

    ``entry``: prototype, elements, parameters (e.g. {a: 5.43}, and for 2D prototypes vacuum,
    thickness), variants, strain, rattle, soc, and optional ``engine`` settings that override the
    config's engine section for this entry only. Larger and defective cells: ``supercell`` (three
    repeats), ``vacancies`` (atoms removed at random from every variant), ``substitutions``
    (``{host: {guest: fraction}}``, a random alloy per variant). ``group`` names the evaluation group
    (``in_distribution`` by default; ``new_combination`` and ``held_out_element`` go to the test
    split only) and ``name`` replaces the automatic label stem."""
    symbols, positions, lattice = build_prototype(entry["prototype"], entry["elements"], **entry.get("parameters", {}))
    if entry.get("supercell"):
        symbols, positions, lattice = supercell(symbols, positions, lattice, entry["supercell"])
    formula = "".join(entry["elements"]) if len(set(entry["elements"])) > 1 else entry["elements"][0]
    variants = int(entry.get("variants", 1))
    strain, rattle = float(entry.get("strain", 0.0)), float(entry.get("rattle", 0.0))
    vacancies = int(entry.get("vacancies", 0))
    substitutions = entry.get("substitutions") or {}
    stable_name = entry.get("name") or f"{formula}-{entry['prototype']}"
    if not entry.get("name"):
        if entry.get("supercell"):
            stable_name += "-" + "x".join(str(int(n)) for n in entry["supercell"])
        if substitutions:
            stable_name += "-" + "".join(f"{h}{g}" for h, gs in substitutions.items() for g in gs)
        if vacancies:
            stable_name += f"-vac{vacancies}"
    rng = np.random.default_rng([seed, sum(map(ord, stable_name))])
    group = str(entry.get("group", "in_distribution"))
    if vacancies >= len(symbols):
        raise ValueError(f"{stable_name}: {vacancies} vacancies leave no atom of {len(symbols)}")
    specs = []
    for index in range(variants):
        # variant 0 is the ideal crystal (with its defects); the others are strained and rattled
        deformation = strain_matrix(rng, strain) if index else np.eye(3)
        displacement = rng.normal(0.0, rattle, size=positions.shape) if index and rattle > 0 else 0.0
        variant_symbols = _substitute(rng, symbols, substitutions)
        variant_positions = positions @ deformation + displacement
        kept = np.sort(rng.permutation(len(symbols))[vacancies:]) if vacancies else np.arange(len(symbols))
        specs.append(StructureSpec(
            label=f"{stable_name}-{index:03d}",
            symbols=[variant_symbols[i] for i in kept],
            positions=np.asarray(variant_positions)[kept],
            lattice=lattice @ deformation,
            soc=bool(entry.get("soc", False)),
            engine_overrides=dict(entry.get("engine", {}) or {}),
            metadata={"prototype": entry["prototype"], "variant": index,
                      "strain_amplitude": strain if index else 0.0,
                      "rattle_angstrom": rattle if index else 0.0,
                      **({"supercell": [int(n) for n in entry["supercell"]]} if entry.get("supercell") else {}),
                      **({"vacancies": vacancies} if vacancies else {}),
                      **({"substitutions": substitutions} if substitutions else {}),
                      "group": group},
        ))
    return specs
