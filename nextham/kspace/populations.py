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
from .sparse import block_entries

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


LOCAL_BUFFER_ANGSTROM = 8.0  # SiC: 2e-4 e from the k-converged populations at 8 Å, 7e-3 e at 6 Å (the dense path's 10 Å mesh: 6e-4 e)


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
    """Mulliken populations of a large cell without its eigenvectors (divide and conquer): each atom's
    populations from the bands of the cluster of images within ``buffer_angstrom`` of it, cut from the
    stored pairs, with one Fermi level for all clusters that holds ``record.num_electrons``.

    The density matrix of an insulator, and of a metal at a finite temperature, is short-ranged, so an
    atom's share of the filled bands depends on its surroundings only; the cluster costs a dense
    eigensolve of a few hundred rows whatever the size of the cell. Spinless records; Fermi–Dirac
    occupation at ``smearing_ev`` (an insulator's gap leaves it integral)."""
    from scipy.linalg import eigh
    from scipy.optimize import brentq
    from tqdm.auto import tqdm

    if record.spinful:
        raise NotImplementedError("local populations take spinless records; a spin–orbit cell's populations need "
                                  "its dense eigensolves (mulliken_populations)")
    if not np.isfinite(record.num_electrons):
        return np.full(int(np.sum(record.orbital_counts)), np.nan)
    counts = np.asarray(record.orbital_counts)
    hamiltonian, overlap = _padded_blocks(record, kind), _padded_blocks(record, "overlap")
    codes = pair_codes(record.edge_index[:, 0], record.edge_index[:, 1], record.cell_shifts, record.num_atoms)
    order = np.argsort(codes)
    codes = codes[order]
    distances = record.edge_distances()
    edges_of = np.split(np.argsort(record.edge_index[:, 0], kind="stable"),
                        np.cumsum(np.bincount(record.edge_index[:, 0], minlength=record.num_atoms))[:-1])
    levels, weights = [], []
    for atom in tqdm(range(record.num_atoms), desc="local populations", unit="atom", disable=not progress, leave=False):
        mine = edges_of[atom]
        near = mine[distances[mine] <= buffer_angstrom]
        home = near[(record.edge_index[near, 1] == atom) & ~np.asarray(record.cell_shifts)[near].any(axis=1)]
        if not len(home):
            raise ValueError(f"{record.label}: atom {atom} has no on-site block; local populations need them")
        members = np.concatenate([home, near[near != home[0]]])
        atoms, shifts = record.edge_index[members, 1], np.asarray(record.cell_shifts)[members]
        m = len(members)
        first, second = np.repeat(np.arange(m), m), np.tile(np.arange(m), m)
        wanted = pair_codes(atoms[first], atoms[second], shifts[second] - shifts[first], record.num_atoms)
        position = np.minimum(np.searchsorted(codes, wanted), len(codes) - 1)
        found = codes[position] == wanted
        index = np.where(found, order[position], 0)
        valid = (np.arange(hamiltonian.shape[1])[None, :] < counts[atoms][:, None]).reshape(-1)

        def assemble(padded):
            blocks = padded[index] * found[:, None, None]
            w = padded.shape[1]
            return blocks.reshape(m, m, w, w).transpose(0, 2, 1, 3).reshape(m * w, m * w)[np.ix_(valid, valid)]

        h, s = assemble(hamiltonian), assemble(overlap)
        energies, vectors = eigh(h, s)
        core = slice(0, int(counts[atom]))  # the home atom's orbitals come first
        levels.append(energies)
        weights.append((vectors[core] * (s @ vectors)[core]).T)  # [bands, core orbitals]
    per_band = 2.0

    def electrons(mu):
        return per_band * sum(float((_fermi_dirac(e, mu, smearing_ev) @ w).sum()) for e, w in zip(levels, weights))

    low = min(float(e.min()) for e in levels) - 1.0
    high = max(float(e.max()) for e in levels) + 1.0
    mu = brentq(lambda x: electrons(x) - record.num_electrons, low, high, xtol=1e-9)
    return np.concatenate([per_band * (_fermi_dirac(e, mu, smearing_ev) @ w) for e, w in zip(levels, weights)])


def pair_codes(first, second, shifts, num_atoms: int) -> np.ndarray:
    """One integer per pair (i, j, R), ordered as (i, j, R) sort, for |R_a| < 2048 (the real-space builder's pair
    lists and the local populations look pairs up by it)."""
    code = np.asarray(first, dtype=np.int64) * num_atoms + np.asarray(second, dtype=np.int64)
    for axis in range(3):
        code = code * 4096 + (np.asarray(shifts, dtype=np.int64)[..., axis] + 2048)
    return code


def _padded_blocks(record, kind: str) -> np.ndarray:
    """``kind``'s blocks as one [edges, w, w] array, w the largest per-atom orbital count (zeros beyond)."""
    flat, shapes = np.asarray(getattr(record, kind), dtype=np.float64), record.block_shapes(kind)
    width = int(np.max(record.orbital_counts))
    edge, row, column = block_entries(shapes)
    padded = np.zeros((len(shapes), width, width))
    padded[edge, row, column] = flat
    return padded
