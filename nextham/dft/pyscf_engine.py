"""H(0), H(T) and S in real space for one crystal, computed with PySCF periodic DFT.

Recipe (units inside PySCF: Hartree, Bohr):

1. Cell with GTH pseudopotentials and the matching q-suffixed MOLOPT basis; or, for spin–orbit
   coupling, two-component Stuttgart–Dirac SO-ECPs with a pruned molecular basis (KGKS + GDF)
   (:mod:`.cell`).
2. ρ(0) = superposition of neutral-atom densities (:mod:`.atomic_density`);
   H(0) = h_core + V_eff[ρ(0)], no diagonalisation. SCF from ρ(0) gives H(T) = h_core + V_eff[ρ]
   (:mod:`.operators`).
3. Both are fixed-density operators, built by one of two builders: ``realspace`` (GTH cells) builds
   their blocks directly in real space, pair by pair (:mod:`.realspace`); ``kspace`` (and every
   spin–orbit cell) re-evaluates them on a k-mesh denser than the SCF's and Fourier transforms,
   each atom pair taking its minimal (Wigner–Seitz) image.
4. Blocks within ``pair_cutoff_angstrom`` are kept, symmetrised to exact hermiticity, converted to
   eV and the canonical orbital order, cast to the storage precision (:mod:`.blocks`), and checked:
   eigenvalues of the stored H(T)(k), S(k) at the SCF k-points must equal the SCF's own within the
   tolerance.
"""
from __future__ import annotations

import time

import numpy as np

from ..conventions import units
from ..errors import ValidationFailedError
from ..kspace import monkhorst_pack, occupation_summary
from ..kspace.occupation import occupation_facts
from ..record import HamiltonianRecord, check_eigenvalues
from ..structures import StructureSpec
from .atomic_density import atomic_density_blocks
from .blocks import fourier_blocks, record_from_blocks, shortest_valid_cutoff
from .cell import build_cell
from .engine_settings import PySCFSettings
from .operators import FixedDensityOperator, SCFProblem, prepare_scf, scf_density_on_mesh


def _realspace_blocks(cell, settings: PySCFSettings, densities: dict, progress: bool = False):
    """Blocks of the fixed-density Hamiltonians of ``densities`` ({name: "free atoms" blocks or a density
    on the mesh}) and S, built pair by pair in real space; (blocks, facts for the metadata)."""
    from .realspace import RealSpaceBuilder

    builder = RealSpaceBuilder(cell, settings.xc, settings.pair_cutoff_angstrom * units.ANGSTROM_TO_BOHR,
                               threshold=settings.realspace_threshold, device=settings.device, progress=progress,
                               coarse_tolerance=settings.realspace_coarse_tolerance)
    on_mesh = {name: builder.atomic_density(density) if isinstance(density, dict) else density
               for name, density in densities.items()}
    hamiltonians = dict(zip(on_mesh, builder.hamiltonians(list(on_mesh.values()))))
    blocks = builder.blocks({**hamiltonians, "overlap": builder.overlap})
    return blocks, {"builder": "realspace", "mesh": list(builder.mesh), "timings": dict(builder.timings)}


def _kspace_blocks(problem: SCFProblem, settings: PySCFSettings, densities: dict):
    """The same from the k-space path: each density's H(k) and S(k) on the dense Fourier mesh, transformed
    to real space; (blocks, facts for the metadata)."""
    operator = FixedDensityOperator(problem.mf, problem.cell, problem.spinful, settings.kpoint_chunk)
    kpoints_frac = monkhorst_pack(problem.ft_mesh)
    kpoints = problem.cell.get_abs_kpts(kpoints_frac)
    start = time.perf_counter()
    matrices = {name: operator(density, kpoints) for name, density in densities.items()}
    matrices["overlap"] = np.asarray(problem.mf.get_ovlp(problem.cell, kpoints))
    seconds = time.perf_counter() - start
    blocks = fourier_blocks(problem.cell, matrices, kpoints_frac, problem.ft_mesh, settings, problem.spinful)
    return blocks, {"builder": "kspace", "ft_kmesh": problem.ft_mesh, "timings": {"dense_k_s": seconds}}


def zeroth_step_blocks(spec: StructureSpec, settings: PySCFSettings,
                       progress: bool = False) -> tuple[HamiltonianRecord, dict]:
    """H(0) and S only — what a trained model needs for a new structure, no SCF. The record's
    ``hamiltonian`` repeats H(0) (no target is known; metadata ``has_scf_target`` is false).
    ``progress``: a progress bar over the real-space builder's mesh."""
    start = time.perf_counter()
    if settings.uses_realspace(spec.soc):
        cell, element_basis = build_cell(spec, settings)
        t0 = time.perf_counter()
        free_atoms = atomic_density_blocks(cell, settings.h0_density, settings.xc)
        free_atoms_s = time.perf_counter() - t0
        blocks, details = _realspace_blocks(cell, settings, {"hamiltonian_0": free_atoms}, progress)
        details["timings"]["free_atoms_s"] = free_atoms_s
        spinful = False
    else:
        problem = prepare_scf(spec, settings)
        cell, element_basis, spinful = problem.cell, problem.element_basis, problem.spinful
        blocks, details = _kspace_blocks(problem, settings, {"hamiltonian_0": problem.dm0})
    for entry in blocks.values():
        entry["hamiltonian"] = entry["hamiltonian_0"]
    record = record_from_blocks(spec, cell, element_basis, blocks, settings, spinful)
    record.num_electrons = float(cell.nelectron)
    details["timings"]["total_s"] = time.perf_counter() - start
    record.metadata.update({**spec.metadata, "has_scf_target": False, "engine": "pyscf", **details})
    return record, element_basis


def compute_structure(spec: StructureSpec, settings: PySCFSettings) -> tuple[HamiltonianRecord, dict]:
    """Run the DFT recipe for one structure. Returns the record and the element bases used."""
    from pyscf import __version__ as pyscf_version

    timings = {}
    start = time.perf_counter()
    problem = prepare_scf(spec, settings)
    cell, mf, spinful = problem.cell, problem.mf, problem.spinful
    timings["h0_density_s"] = time.perf_counter() - start
    mf.kernel(problem.dm0)
    if not mf.converged:
        raise ValidationFailedError(f"SCF did not converge in {settings.max_cycle} cycles", structure=spec.label)
    dm = mf.make_rdm1()
    timings["scf_s"] = time.perf_counter() - start - timings["h0_density_s"]

    t0 = time.perf_counter()
    if settings.uses_realspace(spinful):
        densities = {"hamiltonian_0": problem.free_atoms, "hamiltonian": scf_density_on_mesh(mf, dm)}
        blocks, placement = _realspace_blocks(cell, settings, densities)
        timings["realspace_s"] = time.perf_counter() - t0
        timings.update({f"realspace_{k}": v for k, v in placement.pop("timings").items()})
    else:
        blocks, placement = _kspace_blocks(problem, settings, {"hamiltonian": dm, "hamiltonian_0": problem.dm0})
        timings.update(placement.pop("timings"))

    record = record_from_blocks(spec, cell, problem.element_basis, blocks, settings, spinful)
    record.reference_kpoints = cell.get_scaled_kpts(problem.kpts)
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
        "scf_kmesh": problem.scf_mesh, **placement, "scf_cycles": int(getattr(mf, "cycles", -1)),
        "scf_energy_ev": float(mf.e_tot * units.HARTREE_TO_EV), "scf_band_gap_ev": float(scf_occupation["band_gap"]),
        **occupation_facts(occupation),
        "eigenvalue_check_ev": float(error), "max_abs_delta_h_ev": float(np.abs(delta).max()),
        "pair_cutoff_angstrom": float(record.edge_distances().max()), "timings": timings,
    })
    return record, problem.element_basis
