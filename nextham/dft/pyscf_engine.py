"""H(0), H(T) and S in real space for one crystal, computed with PySCF periodic DFT.

Recipe (units inside PySCF: Hartree, Bohr):

1. Cell with GTH pseudopotentials and the matching q-suffixed MOLOPT basis; or, for spin–orbit
   coupling, two-component Stuttgart–Dirac SO-ECPs with a pruned molecular basis (KGKS + GDF).
2. ρ(0) = superposition of neutral-atom densities (:mod:`nextham.dft.atomic_density`);
   H(0) = h_core + V_eff[ρ(0)], no diagonalisation. SCF from ρ(0) gives H(T) = h_core + V_eff[ρ].
3. Both are fixed-density operators. ``builder: realspace`` (GTH cells) builds their blocks
   directly in real space, pair by pair (:mod:`nextham.dft.realspace`); ``builder: kspace`` (and
   every spin–orbit cell) re-evaluates them on a k-mesh denser than the SCF's (``kpts_band``) and
   Fourier transforms, each atom pair taking its minimal (Wigner–Seitz) image.
4. Blocks within ``pair_cutoff_angstrom`` are kept, symmetrised to exact hermiticity, converted to
   eV and the canonical orbital order, cast to the storage precision, and checked: eigenvalues of
   the stored H(T)(k), S(k) at the SCF k-points must equal the SCF's own within the tolerance.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..conventions import ElementBasis, atomic_number, orbital_transform, spin_diagonal, units
from ..conventions.elements import ELEMENT_SYMBOLS
from ..errors import UnknownElementError, ValidationFailedError
from ..kspace import mesh_for_length, monkhorst_pack, occupation_summary
from ..kspace.occupation import occupation_facts
from ..record import HamiltonianRecord, check_eigenvalues, partner_edges
from . import fourier
from .atomic_density import atomic_density_blocks, atomic_density_matrix
from ..structures import StructureSpec


BUILDERS = ("realspace", "kspace")


@dataclass
class SOCSettings:
    basis: dict = field(default_factory=lambda: {"Cs": "def2-svp", "I": "stuttgart_dz"})
    ecp: dict = field(default_factory=lambda: {"Cs": "ECPDS46MDFSO", "I": "ECPDS46MDFSO"})
    min_exponent: float = 0.05
    max_radial_per_l: dict = field(default_factory=lambda: {0: 2, 1: 1, 2: 1})


@dataclass
class PySCFSettings:
    """Engine settings; the defaults are those of nextham/configs/data/generate.yaml (a test keeps them equal)."""

    xc: str = "pbe"
    basis: str = "SZV-MOLOPT-SR-GTH"
    valence: dict = field(default_factory=dict)  # element -> GTH valence (q) where the family's first is not wanted
    pseudo: str = "GTH-PBE"
    ke_cutoff_hartree: float = 100.0
    scf_kmesh_length_angstrom: float = 12.0
    ft_range_angstrom: float = 12.5
    pair_cutoff_angstrom: float = 11.0
    adaptive_pair_cutoff: bool = True
    min_pair_cutoff_angstrom: float = 8.0
    cutoff_safety: float = 1.0  # fraction of the eigenvalue tolerance the truncated blocks must meet
    conv_tol: float = 1e-11
    conv_tol_grad: float = 1e-7
    max_cycle: int = 100
    smearing_hartree: float = 0.0  # Fermi smearing of the SCF's occupations (defect states); 0 = none
    h0_density: str = "atomic-ks"
    eigenvalue_tolerance_hartree: float = 1e-5
    storage_dtype: str = "float64"
    kpoint_chunk: int = 64
    builder: str = "realspace"  # realspace | kspace (spin–orbit cells always use kspace)
    realspace_threshold: float = 1e-8  # basis functions are cut where they fall below this
    device: str = "cpu"  # where the real-space builder's grid work runs (cpu | cuda)
    soc: SOCSettings = field(default_factory=SOCSettings)

    @classmethod
    def from_dict(cls, data: dict) -> "PySCFSettings":
        data = dict(data or {})
        if "element_rules" in data:
            raise ValueError("engine.element_rules is a table for many elements: resolve it for a structure's "
                             "elements first (nextham.dft.engine_rules.resolve_engine_settings)")
        soc = dict(data.pop("soc", {}) or {})
        # recorded by earlier versions but without effect (density fitting integrates on Becke grids)
        soc.pop("xc_mesh", None)
        settings = cls(soc=SOCSettings(**soc), **data)
        if settings.builder not in BUILDERS:
            raise ValueError(f"engine.builder must be one of {BUILDERS}, not {settings.builder!r}")
        return settings

    def uses_realspace(self, soc: bool) -> bool:
        return self.builder == "realspace" and not soc

    def to_dict(self):
        return asdict(self)


# ----------------------------------------------------------------------------- cells
def _gth_valence(pseudo_family, symbol):
    from pyscf.pbc.gto import pseudo

    try:
        data = pseudo.load(pseudo_family, symbol)
    except Exception:
        raise UnknownElementError(f"element {symbol} has no {pseudo_family} pseudopotential in PySCF") from None
    return int(sum(data[0]))


def _pruned_molecular_basis(symbol, name, min_exponent, max_radial_per_l):
    """Molecular basis without diffuse shells (they make S(k) near-singular in a crystal) and with at
    most ``max_radial_per_l[l]`` radial functions per l (first contraction column of each shell;
    an l missing from the mapping is dropped)."""
    if isinstance(max_radial_per_l, int):
        max_radial_per_l = {l: max_radial_per_l for l in range(8)}
    max_radial_per_l = {int(l): int(n) for l, n in max_radial_per_l.items()}
    from pyscf import gto as molgto

    try:
        shells = molgto.basis.load(name, symbol)
    except Exception:
        raise UnknownElementError(f"element {symbol} has no basis {name!r} in PySCF") from None
    kept, per_l = [], {}
    for shell in shells:
        l, primitives = shell[0], shell[1:]
        if isinstance(primitives[0], (int, float)):  # kappa entry
            primitives = primitives[1:]
        if min(p[0] for p in primitives) <= min_exponent or per_l.get(l, 0) >= max_radial_per_l.get(l, 0):
            continue
        per_l[l] = per_l.get(l, 0) + 1
        kept.append([l] + [[p[0], p[1]] for p in primitives])
    if not kept:
        raise UnknownElementError(f"element {symbol}: no shell of {name!r} survives pruning")
    return kept


def _valence(symbol: str, settings: PySCFSettings) -> int:
    """GTH valence (the q of basis and pseudopotential names): the recipe's choice, else the family's first."""
    return int(settings.valence[symbol]) if symbol in settings.valence else _gth_valence(settings.pseudo, symbol)


def _soc_basis_name(symbol: str, settings: PySCFSettings) -> str:
    return (f"{settings.soc.basis[symbol]} (exponents > {settings.soc.min_exponent}, "
            f"radial functions per l <= {settings.soc.max_radial_per_l})")


def element_basis(symbol: str, settings: PySCFSettings, soc: bool = False) -> ElementBasis:
    """The basis the engine gives ``symbol`` (its shells in storage order), without building a cell."""
    if soc:
        if symbol not in settings.soc.basis or symbol not in settings.soc.ecp:
            raise UnknownElementError(f"no SOC basis/ECP configured for {symbol} (engine.soc.basis / engine.soc.ecp)")
        shells = _pruned_molecular_basis(symbol, settings.soc.basis[symbol], settings.soc.min_exponent,
                                         settings.soc.max_radial_per_l)
        name, pseudopotential = _soc_basis_name(symbol, settings), settings.soc.ecp[symbol]
    else:
        from pyscf.pbc.gto import basis as pbc_basis

        valence = _valence(symbol, settings)
        name, pseudopotential = f"{settings.basis}-q{valence}", f"{settings.pseudo}-q{valence}"
        try:
            shells = pbc_basis.load(name, symbol)
        except Exception:
            raise UnknownElementError(f"element {symbol} has no basis {name} in PySCF") from None
    ls = []
    for shell in shells:  # [l, (kappa,) [exponent, c_1, c_2, ...], ...]: one radial function per column
        primitives = [p for p in shell[1:] if not isinstance(p, (int, float))]
        ls += [int(shell[0])] * (len(primitives[0]) - 1)
    return ElementBasis(symbol, tuple(ls), name=name, pseudopotential=pseudopotential)


def family_layout_slots(settings: PySCFSettings, max_l: int = 2) -> list:
    """The orbital-layout slots of the engine's basis family: enough for every element that has the
    family's basis and pseudopotential (and for the spin–orbit elements configured), up to angular
    momentum ``max_l`` (the f-shells of the lanthanides are left out: they would raise the network's
    irreps to l = 6 for every element). A model trained with these slots predicts any element that fits."""
    from pyscf.pbc.gto import pseudo

    from ..conventions.basis import slots_for

    shell_lists = []
    for symbol in ELEMENT_SYMBOLS[1:]:
        try:
            pseudo.load(settings.pseudo, symbol)
            shell_lists.append(element_basis(symbol, settings).shells)
        except Exception:  # no pseudopotential or no basis of the family for this element
            continue
    for symbol in settings.soc.basis:
        shell_lists.append(element_basis(symbol, settings, soc=True).shells)
    return [slot for slot in slots_for(shell_lists) if slot[0] <= max_l]


def build_cell(spec: StructureSpec, settings: PySCFSettings):
    """PySCF cell plus the per-element basis description used for the stored blocks."""
    from pyscf.pbc import gto

    symbols = sorted(set(spec.symbols))
    atom = [(s, tuple(p)) for s, p in zip(spec.symbols, spec.positions)]
    if spec.soc:
        missing = [s for s in symbols if s not in settings.soc.basis or s not in settings.soc.ecp]
        if missing:
            raise UnknownElementError(
                f"structure {spec.label!r}: no SOC basis/ECP configured for {missing} "
                f"(engine.soc.basis / engine.soc.ecp)")
        basis = {s: _pruned_molecular_basis(s, settings.soc.basis[s], settings.soc.min_exponent,
                                            settings.soc.max_radial_per_l) for s in symbols}
        cell = gto.M(atom=atom, unit="A", a=np.asarray(spec.lattice), basis=basis,
                     ecp={s: settings.soc.ecp[s] for s in symbols}, verbose=0, max_memory=8000)
        names = {s: (_soc_basis_name(s, settings), settings.soc.ecp[s]) for s in symbols}
    else:
        valence = {s: _valence(s, settings) for s in symbols}
        basis = {s: f"{settings.basis}-q{valence[s]}" for s in symbols}
        pseudo = {s: f"{settings.pseudo}-q{valence[s]}" for s in symbols}
        for s in symbols:
            try:
                from pyscf.pbc.gto import basis as pbc_basis

                pbc_basis.load(basis[s], s)
            except Exception:
                raise UnknownElementError(f"element {s} has no basis {basis[s]} in PySCF") from None
        cell = gto.M(atom=atom, unit="A", a=np.asarray(spec.lattice), basis=basis, pseudo=pseudo,
                     ke_cutoff=settings.ke_cutoff_hartree, verbose=0, max_memory=8000)
        names = {s: (basis[s], pseudo[s]) for s in symbols}
    element_basis = {}
    for index in range(cell.natm):
        symbol = cell.atom_symbol(index)
        if symbol in element_basis:
            continue
        shells = []
        for shell in range(cell.nbas):
            if cell.bas_atom(shell) == index:
                shells += [cell.bas_angular(shell)] * cell.bas_nctr(shell)
        element_basis[symbol] = ElementBasis(symbol, tuple(shells), name=names[symbol][0],
                                             pseudopotential=names[symbol][1])
    return cell, element_basis


# ----------------------------------------------------------------------------- fixed-density operators
class _FixedDensityOperator:
    """H[ρ](k) = h_core(k) + V_eff[ρ](k) at arbitrary k for a density given on the SCF mesh."""

    def __init__(self, mf, cell, spinful, chunk):
        self.mf, self.cell, self.spinful, self.chunk = mf, cell, spinful, chunk

    def _veff_spinor(self, dm_kpts, kpts_band):
        # KGKS.get_veff(kpts_band=...) fails in PySCF 2.14 (vmat allocated with the dm's k count);
        # same math as its collinear branch: J of the full spinor density + collinear XC.
        mf, n = self.mf, self.cell.nao
        vj = np.asarray(mf.get_j(self.cell, dm_kpts, kpts=mf.kpts, kpts_band=kpts_band))
        numint = mf._numint._to_numint1c()
        dm_aa = np.ascontiguousarray(dm_kpts[:, :n, :n])
        dm_bb = np.ascontiguousarray(dm_kpts[:, n:, n:])
        _, _, vxc = numint.nr_uks(self.cell, mf.grids, mf.xc, (dm_aa, dm_bb), 0, 1, mf.kpts, kpts_band)
        out = np.zeros((len(kpts_band), 2 * n, 2 * n), dtype=complex)
        out[:, :n, :n], out[:, n:, n:] = vxc[0], vxc[1]
        return vj + out

    def __call__(self, dm_kpts, kpts_band):
        # GDF rebuilds its 3-index tensor for every new kpts_band set: one call; FFTDF/multigrid:
        # chunks bound the memory.
        chunk = len(kpts_band) if self.spinful else self.chunk
        out = []
        for start in range(0, len(kpts_band), chunk):
            kb = kpts_band[start:start + chunk]
            if self.spinful:
                veff = self._veff_spinor(dm_kpts, kb)
            else:
                veff = self.mf.get_veff(self.cell, dm_kpts, kpts=self.mf.kpts, kpts_band=kb)
            out.append(np.asarray(self.mf.get_hcore(self.cell, kb)) + np.asarray(veff))
        return np.concatenate(out)


def _initial_density(cell, free_atoms, spinful, nkpts):
    dm_atoms = atomic_density_matrix(cell, blocks=free_atoms)
    if spinful:
        # non-magnetic spinor density: half the electrons in each spin, no spin-flip part
        dm_atoms = spin_diagonal(dm_atoms / 2.0)
    return np.repeat(dm_atoms[None], nkpts, axis=0).astype(complex if spinful else float)


def kpoint_meshes(lattice_angstrom, settings: PySCFSettings) -> tuple:
    """(SCF mesh, dense mesh): the SCF's and the one H(0), H(T), S are evaluated on before the Fourier
    transform (at least the SCF mesh, and long enough to hold ``ft_range_angstrom`` both ways)."""
    scf_mesh = mesh_for_length(lattice_angstrom, settings.scf_kmesh_length_angstrom)
    dense = mesh_for_length(lattice_angstrom, 2 * settings.ft_range_angstrom)
    return scf_mesh, [max(m, n) for m, n in zip(dense, scf_mesh)]


def gth_core_hamiltonian(cell, kpts) -> np.ndarray:
    """h_core(k) = T + V_pp of a GTH cell (K, nao, nao) with every part of V_pp as the real-space builder
    has it: the long-range erf part on the mesh from its analytic Fourier coefficients, the short-range
    local (C terms) and non-local parts as analytic lattice sums. PySCF's default (FFTDF) sums the
    non-local projectors over the mesh's G vectors instead; for the tight projectors of semicore states
    that truncation is the SCF's own error, and it was what the band check measured: 1.3e-2 Ha in
    NaCl's Na 2s at 80 Ha (1.0e-4 at 200 Ha), 2.6e-4 Ha in bcc V at 80 Ha."""
    from pyscf import lib
    from pyscf.pbc import df, tools
    from pyscf.pbc.gto.pseudo import pp_int

    kpts = np.reshape(np.asarray(kpts, dtype=np.float64), (-1, 3))
    mesh = cell.mesh
    long_range = -np.einsum("ij,ij->j", cell.get_SI(mesh=mesh), pp_int.get_gth_vlocG_part1(cell, cell.get_Gv(mesh)))
    weighted = tools.ifft(long_range, mesh).real  # the potential times the mesh's quadrature weight
    grid = df.FFTDF(cell, kpts)
    local = np.zeros((len(kpts), cell.nao, cell.nao), dtype=np.complex128)
    for values, p0, p1 in grid.aoR_loop(grid.grids, kpts):
        for k, ao in enumerate(values[0]):
            local[k] += lib.dot(ao.T.conj() * weighted[p0:p1], ao)
    return (np.asarray(cell.pbc_intor("int1e_kin", hermi=1, kpts=kpts)).reshape(local.shape) + local
            + np.asarray(pp_int.get_pp_loc_part2(cell, kpts)).reshape(local.shape)
            + np.asarray(pp_int.get_pp_nl(cell, kpts)).reshape(local.shape))


# ----------------------------------------------------------------------------- main entry
def _setup(spec: StructureSpec, settings: PySCFSettings):
    """Cell, k-meshes, the mean-field object, the free atoms' density matrices and ρ(0) on the SCF
    k-points (no SCF yet)."""
    from pyscf.pbc import dft

    cell, element_basis = build_cell(spec, settings)
    spinful = bool(spec.soc)
    scf_mesh, ft_mesh = kpoint_meshes(spec.lattice, settings)
    kpts = cell.make_kpts(scf_mesh)
    if spinful:
        mf = dft.KGKS(cell, kpts, xc=settings.xc).density_fit()
        mf.with_soc = True
    else:
        mf = dft.KRKS(cell, kpts, xc=settings.xc).multigrid_numint()
    if settings.smearing_hartree > 0:
        from pyscf.pbc.scf.addons import smearing_

        mf = smearing_(mf, sigma=settings.smearing_hartree, method="fermi")
    mf.conv_tol, mf.conv_tol_grad, mf.max_cycle = settings.conv_tol, settings.conv_tol_grad, settings.max_cycle
    mf.verbose = 0
    if not spinful:  # the pseudopotential exactly as the real-space builder integrates it, not mesh-truncated
        mf.get_hcore = lambda cell=cell, kpts=None: gth_core_hamiltonian(cell, mf.kpts if kpts is None else kpts)
    free_atoms = atomic_density_blocks(cell, settings.h0_density, settings.xc)
    dm0 = _initial_density(cell, free_atoms, spinful, len(kpts))
    return cell, element_basis, spinful, scf_mesh, ft_mesh, kpts, mf, free_atoms, dm0


def _realspace_builder(cell, settings: PySCFSettings, progress: bool = False):
    from .realspace import RealSpaceBuilder

    return RealSpaceBuilder(cell, settings.xc, settings.pair_cutoff_angstrom * units.ANGSTROM_TO_BOHR,
                            threshold=settings.realspace_threshold, device=settings.device, progress=progress)


def _scf_density_on_mesh(mf, dm_kpts):
    """The converged density on the cell's mesh exactly as the engine's multigrid evaluates it."""
    from pyscf.pbc import tools
    from pyscf.pbc.dft.multigrid import multigrid

    cell = mf.cell
    mesh = tuple(int(n) for n in mf._numint.mesh)
    if mesh != tuple(int(n) for n in cell.mesh):
        raise ValueError(f"multigrid mesh {mesh} differs from the cell mesh {tuple(cell.mesh)}")
    rho_g = multigrid._eval_rhoG(mf._numint, np.asarray(dm_kpts), hermi=1, kpts=mf.kpts, deriv=0)
    weight = cell.vol / np.prod(mesh)
    return tools.ifft(rho_g.reshape(-1, np.prod(mesh))[0], mesh).real.reshape(mesh) / weight


def zeroth_step_blocks(spec: StructureSpec, settings: PySCFSettings,
                       progress: bool = False) -> tuple[HamiltonianRecord, dict]:
    """H(0) and S only — what a trained model needs for a new structure, no SCF. The record's
    ``hamiltonian`` repeats H(0) (no target is known; metadata ``has_scf_target`` is false).
    ``progress``: a progress bar over the real-space builder's mesh."""
    start = time.perf_counter()
    if settings.uses_realspace(spec.soc):
        cell, element_basis = build_cell(spec, settings)
        builder = _realspace_builder(cell, settings, progress)
        t0 = time.perf_counter()
        atoms = atomic_density_blocks(cell, settings.h0_density, settings.xc)
        builder.timings["free_atoms_s"] = time.perf_counter() - t0
        h0 = builder.hamiltonian(builder.atomic_density(atoms))
        blocks = builder.blocks({"hamiltonian_0": h0, "hamiltonian": h0, "overlap": builder.overlap})
        record = _record_from_blocks(spec, cell, element_basis, blocks, settings, spinful=False)
        details = {"builder": "realspace", "mesh": list(builder.mesh), "timings": dict(builder.timings)}
    else:
        cell, element_basis, spinful, scf_mesh, ft_mesh, kpts, mf, _, dm0 = _setup(spec, settings)
        operator = _FixedDensityOperator(mf, cell, spinful, settings.kpoint_chunk)
        ft_kpts_frac = monkhorst_pack(ft_mesh)
        ft_kpts = cell.get_abs_kpts(ft_kpts_frac)
        hamiltonian_0_k = operator(dm0, ft_kpts)
        overlap_k = np.asarray(mf.get_ovlp(cell, ft_kpts))
        blocks = _fourier_blocks(cell, {"hamiltonian_0": hamiltonian_0_k, "hamiltonian": hamiltonian_0_k,
                                        "overlap": overlap_k}, ft_kpts_frac, ft_mesh, settings, spinful)
        record = _record_from_blocks(spec, cell, element_basis, blocks, settings, spinful)
        details = {"builder": "kspace", "ft_kmesh": ft_mesh, "timings": {}}
    record.num_electrons = float(cell.nelectron)
    details["timings"]["total_s"] = time.perf_counter() - start
    record.metadata.update({**spec.metadata, "has_scf_target": False, "engine": "pyscf", **details})
    return record, element_basis


def compute_structure(spec: StructureSpec, settings: PySCFSettings) -> tuple[HamiltonianRecord, dict]:
    """Run the DFT recipe for one structure. Returns the record and the element bases used."""
    from pyscf import __version__ as pyscf_version

    timings = {}
    start = time.perf_counter()
    cell, element_basis, spinful, scf_mesh, ft_mesh, kpts, mf, free_atoms, dm0 = _setup(spec, settings)
    timings["h0_density_s"] = time.perf_counter() - start
    mf.kernel(dm0)
    if not mf.converged:
        raise ValidationFailedError(f"SCF did not converge in {settings.max_cycle} cycles", structure=spec.label)
    dm = mf.make_rdm1()
    timings["scf_s"] = time.perf_counter() - start - timings["h0_density_s"]

    t0 = time.perf_counter()
    if settings.uses_realspace(spinful):
        builder = _realspace_builder(cell, settings)
        h0, ht = builder.hamiltonians([builder.atomic_density(free_atoms), _scf_density_on_mesh(mf, dm)])
        blocks = builder.blocks({"hamiltonian_0": h0, "hamiltonian": ht, "overlap": builder.overlap})
        timings["realspace_s"] = time.perf_counter() - t0
        timings.update({f"realspace_{k}": v for k, v in builder.timings.items()})
        placement = {"builder": "realspace", "mesh": list(builder.mesh)}
    else:
        operator = _FixedDensityOperator(mf, cell, spinful, settings.kpoint_chunk)
        ft_kpts_frac = monkhorst_pack(ft_mesh)
        ft_kpts = cell.get_abs_kpts(ft_kpts_frac)
        matrices_k = {"hamiltonian": operator(dm, ft_kpts), "hamiltonian_0": operator(dm0, ft_kpts),
                      "overlap": np.asarray(mf.get_ovlp(cell, ft_kpts))}
        timings["dense_k_s"] = time.perf_counter() - t0
        blocks = _fourier_blocks(cell, matrices_k, ft_kpts_frac, ft_mesh, settings, spinful)
        placement = {"builder": "kspace", "ft_kmesh": ft_mesh}

    record = _record_from_blocks(spec, cell, element_basis, blocks, settings, spinful)
    record.reference_kpoints = cell.get_scaled_kpts(kpts)
    record.reference_eigenvalues = np.asarray(mf.mo_energy) * units.HARTREE_TO_EV
    record.num_electrons = float(cell.nelectron)
    scf_occupation = occupation_summary(record.reference_eigenvalues, record.num_electrons, spinful)

    tolerance_ev = settings.eigenvalue_tolerance_hartree * units.HARTREE_TO_EV
    if settings.adaptive_pair_cutoff:
        record = shortest_valid_cutoff(record, settings.min_pair_cutoff_angstrom, settings.pair_cutoff_angstrom,
                                       settings.cutoff_safety * tolerance_ev)
    error = check_eigenvalues(record)
    if not error <= tolerance_ev:
        raise ValidationFailedError(
            f"eigenvalues of the stored H(T)(k), S(k) differ from the SCF's by {error / units.HARTREE_TO_EV:.2e} Ha "
            f"(tolerance {settings.eigenvalue_tolerance_hartree:.0e} Ha); raise engine.pair_cutoff_angstrom "
            f"(now {settings.pair_cutoff_angstrom}) or engine.ft_range_angstrom (now {settings.ft_range_angstrom})",
            structure=spec.label)
    # E_F and gap converged on a k-mesh of the stored H(T): the SCF's own mesh is too coarse for either
    t0 = time.perf_counter()
    occupation = record.occupation()
    record.fermi_energy = occupation["fermi_energy"]
    timings["occupation_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - start
    delta = record.hamiltonian - record.hamiltonian_0
    record.metadata.update(spec.metadata)
    record.metadata.update({
        "formula": record.formula, "engine": "pyscf", "pyscf_version": pyscf_version,
        "xc": settings.xc, "h0_density": settings.h0_density, "soc": spinful,
        "ke_cutoff_hartree": None if spinful else settings.ke_cutoff_hartree,
        "scf_kmesh": scf_mesh, **placement, "scf_cycles": int(getattr(mf, "cycles", -1)),
        "scf_energy_ev": float(mf.e_tot * units.HARTREE_TO_EV), "scf_band_gap_ev": float(scf_occupation["band_gap"]),
        **occupation_facts(occupation),
        "eigenvalue_check_ev": float(error), "max_abs_delta_h_ev": float(np.abs(delta).max()),
        "pair_cutoff_angstrom": float(record.edge_distances().max()), "timings": timings,
    })
    return record, element_basis


def shortest_valid_cutoff(record: HamiltonianRecord, minimum, maximum, tolerance_ev, step=0.25):
    """The record truncated at the shortest pair cutoff (multiple of ``step`` in [minimum, maximum])
    whose bands still match the SCF's within ``tolerance_ev``; the full record when none does.

    Gaussian-basis matrix elements decay smoothly, so the error falls with the cutoff and a
    bisection over the ladder suffices."""
    distances = record.edge_distances()
    ladder = np.arange(minimum, maximum + 1e-9, step)
    truncated = lambda cut: record.select_edges(distances <= cut + 1e-6)
    if not len(ladder) or check_eigenvalues(truncated(ladder[-1])) > tolerance_ev:
        return record
    low, high = 0, len(ladder) - 1  # invariant: ladder[high] passes
    while low < high:
        middle = (low + high) // 2
        if check_eigenvalues(truncated(ladder[middle])) <= tolerance_ev:
            high = middle
        else:
            low = middle + 1
    return truncated(ladder[high])


def _fourier_blocks(cell, matrices_k, kpoints_frac, ft_mesh, settings, spinful) -> dict:
    """{(i, j, *R): {name: block}} in PySCF's AO order and Hartree, from matrices on the dense mesh;
    each atom pair takes its Wigner–Seitz image (ties share the block)."""
    translations = fourier.centred_translations(ft_mesh)
    matrices_R = {name: fourier.k_to_real_space(m, kpoints_frac, translations) for name, m in matrices_k.items()}
    if not spinful:  # real orbitals + time reversal: H(R) is real, the imaginary part is FT noise
        matrices_R = {name: m.real for name, m in matrices_R.items()}
    nao = cell.nao
    atom_slices = [np.arange(p0, p1) for (_, _, p0, p1) in cell.aoslice_by_atom()]
    cutoff_bohr = settings.pair_cutoff_angstrom * units.ANGSTROM_TO_BOHR
    blocks = {}
    for r, i, j, shift, distance, weight in fourier.minimal_image_pairs(
            cell.atom_coords(), cell.lattice_vectors(), ft_mesh, translations):
        if distance > cutoff_bohr + 1e-8:
            continue
        entry = {}
        for name, matrix in matrices_R.items():
            rows, cols = atom_slices[i], atom_slices[j]
            if spinful and name != "overlap":  # spinor rows: spin-major over the whole cell
                rows, cols = np.concatenate([rows, rows + nao]), np.concatenate([cols, cols + nao])
            entry[name] = weight * matrix[r][np.ix_(rows, cols)]
        blocks[(i, j, *map(int, shift))] = entry
    return blocks


def _record_from_blocks(spec, cell, element_basis, blocks, settings, spinful) -> HamiltonianRecord:
    """Blocks in PySCF's order and Hartree → a record in eV and the canonical orbital order, made
    exactly hermitian and cast to the storage precision."""
    transforms = [orbital_transform(element_basis[cell.atom_symbol(a)].shells, "pyscf") for a in range(cell.natm)]
    for (i, j, *_), entry in blocks.items():
        for name, block in entry.items():
            left, right = transforms[i], transforms[j]
            if spinful and name != "overlap":
                left, right = spin_diagonal(left), spin_diagonal(right)
            entry[name] = (left @ block @ right.T) * (1.0 if name == "overlap" else units.HARTREE_TO_EV)
    keys = sorted(blocks, key=lambda k: (k[0], k[1], k[2:]))
    # exact hermiticity: H_ij(R) and H_ji(-R) from one averaged value
    for e, partner in enumerate(partner_edges([k[:2] for k in keys], [k[2:] for k in keys])):
        if e <= partner:
            entry, other = blocks[keys[e]], blocks[keys[partner]]
            for name in entry:
                mean = 0.5 * (entry[name] + other[name].conj().T)
                entry[name], other[name] = mean, mean.conj().T.copy()
    names = list(blocks[keys[0]])
    dtype = np.dtype(settings.storage_dtype)
    complex_dtype = np.result_type(dtype, np.complex64)
    flat = {name: HamiltonianRecord.flatten_blocks([blocks[k][name] for k in keys]) for name in names}
    cast = lambda a, spin: a.astype(complex_dtype if spin else dtype)
    symbols = [cell.atom_symbol(i) for i in range(cell.natm)]
    return HamiltonianRecord(
        label=spec.label,
        atomic_numbers=[atomic_number(s) for s in symbols],
        positions=np.asarray(spec.positions, dtype=np.float64),
        lattice=np.asarray(spec.lattice, dtype=np.float64),
        orbital_counts=[element_basis[s].num_orbitals for s in symbols],
        edge_index=[k[:2] for k in keys],
        cell_shifts=[k[2:] for k in keys],
        hamiltonian_0=cast(flat["hamiltonian_0"], spinful),
        hamiltonian=cast(flat["hamiltonian"], spinful),
        overlap=cast(flat["overlap"].real, False),
        spinful=spinful,
    )
