"""Blocks a record stores, from a builder's or a Fourier transform's matrices: minimal images of the
k-space path, the canonical orbital order in eV, exact hermiticity, the storage precision; and the
shortest pair cutoff whose bands still pass the check."""
from __future__ import annotations

import numpy as np

from ..conventions import atomic_number, orbital_transform, spin_diagonal, units
from ..record import HamiltonianRecord, check_eigenvalues, partner_edges
from . import fourier


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


def fourier_blocks(cell, matrices_k, kpoints_frac, ft_mesh, settings, spinful) -> dict:
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


def record_from_blocks(spec, cell, element_basis, blocks, settings, spinful) -> HamiltonianRecord:
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
