"""A library of small crystal prototypes, with element substitution, strain and rattling.

Positions and lattices are in Å; lattice vectors are rows.
"""
from __future__ import annotations

import numpy as np

from ..structures import StructureSpec


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


def fcc(elements, a):
    (element,) = elements
    return [element], np.zeros((1, 3)), _fcc(a)


def bcc(elements, a):
    (element,) = elements
    return [element], np.zeros((1, 3)), 0.5 * a * np.array([[-1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])


def hcp(elements, a, c=None):
    (element,) = elements
    c = c if c is not None else a * np.sqrt(8.0 / 3.0)
    lattice = _hexagonal(a, c)
    return [element] * 2, np.array([[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]) @ lattice, lattice


def a7(elements, a, c, u):
    """Rhombohedral A7 (As, Sb, Bi): the primitive cell of R-3m from the hexagonal a, c, atoms at ±(u, u, u)."""
    (element,) = elements
    lattice = np.array([[0.5 * a, -0.5 * a / np.sqrt(3.0), c / 3.0], [0.0, a / np.sqrt(3.0), c / 3.0],
                        [-0.5 * a, -0.5 * a / np.sqrt(3.0), c / 3.0]])
    return [element] * 2, np.array([[u, u, u], [-u, -u, -u]]) @ lattice, lattice


def graphite(elements, a, c):
    """AB-stacked graphite (hexagonal, 4 atoms)."""
    (element,) = elements
    lattice = _hexagonal(a, c)
    fractional = np.array([[0.0, 0.0, 0.25], [0.0, 0.0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])
    return [element] * 4, fractional @ lattice, lattice


def trigonal_chain(elements, a, c, x):
    """Trigonal Se and Te (P3_121): helical chains along c, three atoms at (x, 0, 1/3), (0, x, 2/3), (−x, −x, 0)."""
    (element,) = elements
    lattice = _hexagonal(a, c)
    fractional = np.array([[x, 0.0, 1 / 3], [0.0, x, 2 / 3], [-x, -x, 0.0]])
    return [element] * 3, fractional @ lattice, lattice


def _c_centred(a, b, c, fractional):
    """The primitive cell of a C-centred orthorhombic crystal: conventional fractional positions of
    one half (the others follow by the (½, ½, 0) centring) mapped into primitive vectors."""
    lattice = np.array([[0.5 * a, -0.5 * b, 0.0], [0.5 * a, 0.5 * b, 0.0], [0.0, 0.0, c]])
    cartesian = np.asarray(fractional) * np.array([a, b, c])
    return cartesian, lattice


def black_phosphorus(elements, a, b, c, y, z):
    """Black P (Cmce): puckered layers, 4 atoms in the primitive cell; conventional a along the zigzag
    chains, b across the layers, c along the armchair; atoms at (0, ±y, ±z) and (0, ½ ∓ y, ½ ± z)."""
    (element,) = elements
    fractional = [[0.0, y, z], [0.0, -y, -z], [0.0, 0.5 - y, 0.5 + z], [0.0, 0.5 + y, 0.5 - z]]
    positions, lattice = _c_centred(a, b, c, fractional)
    return [element] * 4, positions, lattice


def molecular_cmca(elements, a, b, c, y, z):
    """Solid halogens (Cl2, Br2, I2; Cmca): layers of dimers, 4 atoms (two molecules) in the primitive
    cell; atoms at the 8f sites (0, ±y, ±z), (0, ½ ∓ y, ½ ± z)."""
    (element,) = elements
    fractional = [[0.0, y, z], [0.0, -y, -z], [0.0, 0.5 - y, 0.5 + z], [0.0, 0.5 + y, 0.5 - z]]
    positions, lattice = _c_centred(a, b, c, fractional)
    return [element] * 4, positions, lattice


def molecular_pa3(elements, a, bond):
    """α-N2-type molecular crystal (Pa-3): four dimers of length ``bond`` on an fcc lattice, each along
    its own body diagonal (8 atoms)."""
    (element,) = elements
    centres = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]) * a
    axes = np.array([[1.0, 1.0, 1.0], [-1.0, -1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0]]) / np.sqrt(3.0)
    half = 0.5 * bond * axes
    positions = np.concatenate([centres + half, centres - half])
    return [element] * 8, positions, a * np.eye(3)


def l12(elements, a):
    """L1₂ (Cu₃Au): the first element on the cube corner, the second on the three face centres."""
    corner, face = elements
    positions = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]) * a
    return [corner, face, face, face], positions, a * np.eye(3)


def rutile(elements, a, c, u=0.305):
    cation, anion = elements
    fractional = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [u, u, 0.0], [1 - u, 1 - u, 0.0],
                           [0.5 + u, 0.5 - u, 0.5], [0.5 - u, 0.5 + u, 0.5]])
    lattice = np.diag([a, a, c])
    return [cation, cation, anion, anion, anion, anion], fractional @ lattice, lattice


def half_heusler(elements, a):
    """C1_b half-Heusler XYZ (TiNiSn): rocksalt X–Z with Y in half the tetrahedral holes."""
    x, y, z = elements
    return [x, y, z], np.array([[0.0, 0.0, 0.0], [0.25 * a] * 3, [0.5 * a] * 3]), _fcc(a)


def nickel_arsenide(elements, a, c):
    """B8_1 NiAs: the metal octahedral between hexagonal-close-packed anions (4 atoms)."""
    metal, anion = elements
    lattice = _hexagonal(a, c)
    fractional = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.5], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])
    return [metal, metal, anion, anion], fractional @ lattice, lattice


def a15(elements, a):
    """A15 (Cr₃Si, Nb₃Sn): the second element on the bcc sites, the first in chains on the cube faces (8 atoms)."""
    chain, site = elements
    fractional = np.array([[0.25, 0.0, 0.5], [0.75, 0.0, 0.5], [0.5, 0.25, 0.0], [0.5, 0.75, 0.0],
                           [0.0, 0.5, 0.25], [0.0, 0.5, 0.75], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    return [chain] * 6 + [site] * 2, fractional * a, a * np.eye(3)


def beta_tin(elements, a, c):
    """β-Sn (A5, body-centred tetragonal), the 2-atom primitive cell."""
    (element,) = elements
    lattice = 0.5 * np.array([[-a, a, c], [a, -a, c], [a, a, -c]])
    return [element] * 2, np.array([[0.0, 0.0, 0.0], [0.0, 0.5 * a, 0.25 * c]]), lattice


PROTOTYPES = {
    "fcc": fcc,
    "bcc": bcc,
    "hcp": hcp,
    "a7": a7,
    "graphite": graphite,
    "trigonal_chain": trigonal_chain,
    "black_phosphorus": black_phosphorus,
    "molecular_cmca": molecular_cmca,
    "molecular_pa3": molecular_pa3,
    "l12": l12,
    "rutile": rutile,
    "half_heusler": half_heusler,
    "nickel_arsenide": nickel_arsenide,
    "a15": a15,
    "beta_tin": beta_tin,
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


def slab(symbols, positions, lattice, miller, layers, vacuum):
    """A slab of the crystal: ``layers`` layers of its (``miller``) planes (indices of the prototype's
    own cell vectors), periodic in the plane, with ``vacuum`` Å of vacuum between a slab and its image."""
    from ase import Atoms
    from ase.build import surface

    bulk = Atoms(list(symbols), positions=positions, cell=lattice, pbc=True)
    cut = surface(bulk, [int(i) for i in miller], int(layers), vacuum=0.5 * float(vacuum), periodic=True)
    return list(cut.get_chemical_symbols()), np.asarray(cut.positions), np.asarray(cut.cell[:])


# ħ²/(1 amu · k_B) in Å² K: the scale of a thermal displacement
_HBAR2_PER_AMU_KB = 48.508


def thermal_sigma(symbols, temperature, debye_temperature):
    """Root-mean-square displacement per Cartesian direction (Å) of each atom at ``temperature`` K in the
    high-temperature Debye model, ⟨u_x²⟩ = 3ħ²T / (M k_B Θ_D²): heavier atoms move less."""
    from ase.data import atomic_masses, atomic_numbers

    masses = np.array([atomic_masses[atomic_numbers[symbol]] for symbol in symbols])
    return np.sqrt(3.0 * _HBAR2_PER_AMU_KB * float(temperature) / (masses * float(debye_temperature) ** 2))


def expand_entry(entry: dict, seed: int = 0):
    """Structure specs of one library entry: the ideal crystal plus strained/rattled variants.

    ``entry``: prototype, elements, parameters (e.g. {a: 5.43}, and for 2D prototypes vacuum,
    thickness), variants, strain, rattle, soc, and optional ``engine`` settings that override the
    config's engine section for this entry only. Larger and defective cells: ``supercell`` (three
    repeats), ``vacancies`` (atoms removed at random from every variant), ``substitutions``
    (``{host: {guest: fraction}}``, a random alloy per variant). ``slab: {miller, layers, vacuum}`` cuts
    a slab with vacuum (:func:`slab`, after the supercell). ``thermal: {temperatures: [K, ...],
    debye_temperature: K}`` displaces the atoms of every variant as at those temperatures (cycled over the
    variants; :func:`thermal_sigma`) in place of ``rattle``. ``group`` names the evaluation group
    (``in_distribution`` by default; ``new_combination`` and ``held_out_element`` go to the test
    split only) and ``name`` replaces the automatic label stem."""
    symbols, positions, lattice = build_prototype(entry["prototype"], entry["elements"], **entry.get("parameters", {}))
    if entry.get("supercell"):
        symbols, positions, lattice = supercell(symbols, positions, lattice, entry["supercell"])
    cut = entry.get("slab")
    if cut:
        symbols, positions, lattice = slab(symbols, positions, lattice, cut["miller"], cut.get("layers", 4),
                                           cut.get("vacuum", 12.0))
    thermal = entry.get("thermal")
    temperatures = [float(t) for t in (thermal or {}).get("temperatures", [])]
    if thermal and not temperatures:
        raise ValueError(f"{entry.get('name') or entry['prototype']}: thermal needs temperatures, e.g. [300, 900]")
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
        if cut:
            stable_name += "-slab" + "".join(str(int(i)) for i in cut["miller"])
        if thermal:
            stable_name += "-thermal"
    rng = np.random.default_rng([seed, sum(map(ord, stable_name))])
    group = str(entry.get("group", "in_distribution"))
    if vacancies >= len(symbols):
        raise ValueError(f"{stable_name}: {vacancies} vacancies leave no atom of {len(symbols)}")
    specs = []
    for index in range(variants):
        # variant 0 is the ideal crystal (with its defects); the others are strained and rattled
        # the draws keep their order (strain, displacement, substitution): a recipe's structures stay
        # what they were when an entry gains options
        deformation = strain_matrix(rng, strain) if index else np.eye(3)
        if thermal:
            displacement = rng.normal(0.0, 1.0, size=positions.shape)
        else:
            displacement = rng.normal(0.0, rattle, size=positions.shape) if index and rattle > 0 else 0.0
        variant_symbols = _substitute(rng, symbols, substitutions)
        temperature = temperatures[index % len(temperatures)] if thermal else None
        if thermal:
            displacement = displacement * thermal_sigma(variant_symbols, temperature,
                                                        thermal.get("debye_temperature", 400.0))[:, None]
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
                      "rattle_angstrom": rattle if index and not thermal else 0.0,
                      **({"temperature_k": temperature} if thermal else {}),
                      **({"slab": dict(cut)} if cut else {}),
                      **({"supercell": [int(n) for n in entry["supercell"]]} if entry.get("supercell") else {}),
                      **({"vacancies": vacancies} if vacancies else {}),
                      **({"substitutions": substitutions} if substitutions else {}),
                      "group": group},
        ))
    return specs
