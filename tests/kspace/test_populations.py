"""Mulliken populations of H(0)'s filled bands (the network's charge-transfer input): they hold the
electron count, match an independent numpy fill of an insulator's bands, per shell are invariant under
rotations,
are the same for a spinless crystal and its H ⊗ I₂ spinor form, and are NaN without an electron count."""
import numpy as np
import pytest
import scipy.linalg

from nextham.kspace import mesh_for_length, monkhorst_pack
from nextham.kspace.populations import POPULATION_MESH_LENGTH_ANGSTROM, mulliken_populations
from tests.conftest import random_rotation


def _per_atom(record, populations):
    offsets = record.orbital_offsets()
    return np.array([populations[a:b].sum() for a, b in zip(offsets[:-1], offsets[1:])])


def _numpy_insulator_populations(record, kind):
    """Lowest num_electrons/2 bands filled at every k (an insulator), P = C C†·2, Re diag(P S) k-averaged."""
    kpoints = monkhorst_pack(mesh_for_length(record.lattice, POPULATION_MESH_LENGTH_ANGSTROM))
    occupied = int(round(record.num_electrons / 2))
    total = np.zeros(int(np.sum(record.orbital_counts)))
    for hamiltonian, overlap in zip(record.matrix_k(kind, kpoints), record.overlap_k(kpoints)):
        _, vectors = scipy.linalg.eigh(hamiltonian, overlap)
        density = 2.0 * vectors[:, :occupied] @ vectors[:, :occupied].conj().T
        total += np.real(np.sum(density * overlap.T, axis=1))
    return total / len(kpoints)


def test_populations_hold_the_electron_count_and_match_numpy_for_an_insulator(embedded):
    checked = 0
    for record in embedded:
        if record.spinful:
            continue
        populations = mulliken_populations(record)
        assert populations.sum() == pytest.approx(record.num_electrons, abs=1e-6)
        gap = record.occupation("hamiltonian_0", monkhorst_pack(mesh_for_length(record.lattice, 10.0)))["band_gap"]
        if gap > 0:
            np.testing.assert_allclose(populations, _numpy_insulator_populations(record, "hamiltonian_0"), atol=1e-6)
            checked += 1
    assert checked >= 3


def _per_shell(record, basis, populations):
    offsets, shells = record.orbital_offsets(), []
    for atom, z in enumerate(record.atomic_numbers):
        for _, orbitals in basis.for_atomic_number(z).shell_slices():
            shells.append(populations[offsets[atom]:][orbitals].sum())
    return np.array(shells)


def test_shell_populations_are_rotation_invariant_and_move_charge(embedded):
    record = next(r for r in embedded if not r.spinful and len(set(r.atomic_numbers)) == 2).astype(np.float64)
    populations = mulliken_populations(record)
    for improper in (False, True):
        rotated = record.rotated(random_rotation(5, improper), embedded.basis)
        np.testing.assert_allclose(_per_shell(rotated, embedded.basis, mulliken_populations(rotated)),
                                   _per_shell(record, embedded.basis, populations), atol=1e-8)
    # a binary: H(0)'s bands already move charge between the two species (what the input is for)
    charges = _per_atom(record, populations)
    assert np.ptp(charges) > 0.05


def test_spinor_form_and_spinful_records(embedded):
    spinless = next(r for r in embedded if not r.spinful).astype(np.float64)
    np.testing.assert_allclose(mulliken_populations(spinless.as_spinful()), mulliken_populations(spinless), atol=1e-8)
    spinful = next(r for r in embedded if r.spinful)
    populations = mulliken_populations(spinful)
    assert populations.shape == (int(np.sum(spinful.orbital_counts)),)
    assert populations.sum() == pytest.approx(spinful.num_electrons, abs=1e-5)


def test_no_electron_count_gives_nan(spinless_record):
    unknown = spinless_record.replace(num_electrons=float("nan"))
    assert np.isnan(mulliken_populations(unknown)).all()


def test_local_populations_converge_to_the_k_converged_ones_with_the_cluster(embedded):
    """Divide and conquer: each atom's populations from the bands of the cluster within the buffer, one
    Fermi level for all. The error against the populations of a converged k-mesh falls with the buffer
    (SiC: 4e-2 e at 4 Å, 7e-3 e at 6 Å, 2e-4 e at 8 Å, the default, measured on the 3×3×3 cell)."""
    from nextham.kspace.populations import local_populations

    primitive = next(r for r in embedded if r.label == "SiC-zincblende-000")
    record = primitive.supercell((2, 2, 2))
    converged = np.tile(mulliken_populations(primitive, length_angstrom=40.0), 8)
    errors = {}
    for buffer in (4.0, 6.0):
        local = local_populations(record, buffer_angstrom=buffer)
        assert abs(local.sum() - record.num_electrons) < 1e-6
        errors[buffer] = np.abs(local - converged).max()
    assert errors[6.0] < 0.5 * errors[4.0] and errors[6.0] < 1e-2, errors


def test_local_populations_refuse_a_spinor_record(embedded):
    from nextham.kspace.populations import local_populations

    with pytest.raises(NotImplementedError, match="spinless"):
        local_populations(next(r for r in embedded if r.spinful))
