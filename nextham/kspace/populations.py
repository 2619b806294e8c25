"""Mulliken populations of one matrix's bands: how many electrons each orbital holds when the bands of
H (H(0) for the network's input) are filled with the structure's valence electrons.

H(0) is the potential of neutral atoms, yet filling its bands already moves charge between atoms, as
the first step of an SCF would; the SCF then screens that transfer by raising the levels of the atom
that gained electrons, which is most of H(T) − H(0) on the diagonal of ionic and polar crystals. On the
benchmark set the relative on-site shift of two species has the sign of this excess in 32 of the 34
two-element compounds (benchmarks/charge_transfer.py). A shell's population (the trace of P·S over its
2l + 1 orbitals) is invariant under rotations, so the network reads them per shell, as scalars.
"""
from __future__ import annotations

import numpy as np
import torch

from .eigensolver import generalized_eigh
from .meshes import mesh_for_length, monkhorst_pack
from .occupation import DEFAULT_SMEARING_EV, _fermi_dirac, occupation_summary
from .local import LOCAL_BUFFER_ANGSTROM, ClusterSpectra

POPULATION_MESH_LENGTH_ANGSTROM = 10.0  # N_i·|a_i| ≥ this: the same mesh for training and for a new crystal


def mulliken_populations(record, kind: str = "hamiltonian_0",
                         length_angstrom: float = POPULATION_MESH_LENGTH_ANGSTROM,
                         smearing_ev: float = DEFAULT_SMEARING_EV) -> np.ndarray:
    """Electrons on each orbital (spin summed), shape (num spatial orbitals,), in the record's orbital
    order; they add up to ``record.num_electrons``.

    The bands of ``kind`` on a Γ-centred mesh with N_i·|a_i| ≥ ``length_angstrom`` are filled with the
    electron count: an insulator's occupied bands exactly, a metal's by Fermi–Dirac occupation at the
    E_F that holds the count; the population of orbital μ is the k-average of Re (P(k) S(k))_μμ with
    P = C f C†."""
    if not np.isfinite(record.num_electrons):
        return np.full(int(np.sum(record.orbital_counts)), np.nan)
    kpoints = monkhorst_pack(mesh_for_length(record.lattice, length_angstrom))
    hamiltonian = torch.as_tensor(record.matrix_k(kind, kpoints), dtype=torch.complex128)
    overlap = torch.as_tensor(record.overlap_k(kpoints), dtype=torch.complex128)
    energies, coefficients = generalized_eigh(hamiltonian, overlap, threshold=0.0)
    energies = energies.numpy()
    summary = occupation_summary(energies, record.num_electrons, record.spinful, smearing_ev=smearing_ev)
    per_band = 1.0 if record.spinful else 2.0
    if summary["metallic"]:  # smeared at the E_F that holds the count
        occupations = per_band * _fermi_dirac(energies, summary["fermi_energy"], smearing_ev)
    else:  # the occupied bands full, exactly (a Fermi–Dirac tail across a small gap would not hold the count)
        occupations = np.where(np.arange(energies.shape[1]) < summary["occupied_bands"], per_band, 0.0)
        occupations = np.broadcast_to(occupations, energies.shape).copy()
    weights = torch.as_tensor(occupations, dtype=torch.float64)
    density = (coefficients * weights[:, None, :].to(coefficients.dtype)) @ coefficients.mH
    populations = torch.einsum("kij,kji->i", density, overlap).real.numpy() / len(kpoints)
    if record.spinful:  # rows are spin-major inside each atom: fold the two spin halves of every atom
        offsets = record.orbital_offsets(spinor=True)
        populations = np.concatenate([populations[a:b].reshape(2, -1).sum(axis=0)
                                      for a, b in zip(offsets[:-1], offsets[1:])])
    return populations


def filled_band_populations(record, solver: str = "dense", kind: str = "hamiltonian_0",
                            length_angstrom: float = POPULATION_MESH_LENGTH_ANGSTROM) -> np.ndarray:
    """The populations a prediction reads: from dense eigensolves on the model's k-mesh
    (N_i·|a_i| ≥ ``length_angstrom``) for the dense solver, from the clusters about each atom
    (:func:`local_populations`, the limit of a dense mesh) for the sparse one, where a dense eigensolve
    of the cell would not fit (spinless cells: a spin–orbit cell keeps its dense eigensolves)."""
    if solver == "sparse" and not record.spinful:
        return local_populations(record, kind, progress=record.num_atoms >= 500)
    return mulliken_populations(record, kind, length_angstrom=length_angstrom)


def local_populations(record, kind: str = "hamiltonian_0", buffer_angstrom: float = LOCAL_BUFFER_ANGSTROM,
                      smearing_ev: float = DEFAULT_SMEARING_EV, progress: bool = False) -> np.ndarray:
    """Mulliken populations of a large cell without its eigenvectors (divide and conquer,
    :class:`~nextham.kspace.local.ClusterSpectra`): each atom's populations from the bands of the cluster
    of images within ``buffer_angstrom`` of it, with one Fermi level for all clusters that holds
    ``record.num_electrons``. Spinless records; Fermi–Dirac occupation at ``smearing_ev``."""
    if not np.isfinite(record.num_electrons) and not record.spinful:
        return np.full(int(np.sum(record.orbital_counts)), np.nan)
    return ClusterSpectra(record, kind, buffer_angstrom, progress=progress).populations(smearing_ev=smearing_ev)
