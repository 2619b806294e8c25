"""The shipped dataset is real PySCF data with the promised coverage and physics."""
import numpy as np
import pytest

from nextham.conventions import units
from tests.reference import gauge_mae, spinor_overlap_blocks
from nextham.record import HamiltonianRecord

TOLERANCE_EV = 1e-5 * units.HARTREE_TO_EV


def test_coverage(embedded):
    manifest = embedded.manifest
    assert len(embedded) >= 40
    assert len(manifest["elements"]) >= 8
    assert sum(r.spinful for r in embedded) >= 2
    assert manifest["units"] == {"energy": "eV", "length": "angstrom", "kpoints": "fractional"}
    assert manifest["provenance"]["engine"] == "pyscf"
    # refusals are part of the record: a structure whose bands missed the tolerance was not written
    assert all(reason.startswith("ValidationFailedError") for reason in manifest["failed"].values())
    assert not set(manifest["failed"]) & set(embedded.labels)
    assert all(manifest["split"][name] for name in ("train", "val", "test"))
    size = sum(p.stat().st_size for p in embedded.root.iterdir())
    assert size < 6e6


def test_every_structure_reproduces_the_dft_eigenvalues(embedded):
    """Eigenvalues of the reconstructed H(k), S(k) equal PySCF's own at its SCF k-points."""
    for record in embedded:
        computed = record.eigenvalues(record.reference_kpoints)
        error = np.abs(computed - np.sort(record.reference_eigenvalues, axis=1)).max()
        assert error <= TOLERANCE_EV, record.label


def test_hermiticity_of_every_block(embedded):
    for record in embedded:
        record.validate(embedded.basis, hermiticity_tolerance=0.0)


def test_correction_is_real_and_not_trivial(embedded):
    for record in embedded:
        overlap = HamiltonianRecord.flatten_blocks(spinor_overlap_blocks(record))
        baseline = gauge_mae(record.hamiltonian_0.astype(complex), record.hamiltonian.astype(complex), overlap)
        assert baseline > 1e-5, record.label  # H(0) is not already H(T)
        assert gauge_mae(record.hamiltonian, record.hamiltonian, overlap) == 0.0


def test_gauge_mae_ignores_a_constant_shift(spinless_record):
    overlap = spinless_record.overlap.astype(np.float64)
    shifted = spinless_record.hamiltonian.astype(np.float64) + 0.37 * overlap
    assert gauge_mae(shifted, spinless_record.hamiltonian.astype(np.float64), overlap) == pytest.approx(0.0, abs=1e-6)


def test_soc_structures_have_spin_orbit_coupling_and_a_non_magnetic_correction(embedded):
    for record in (r for r in embedded if r.spinful):
        assert record.hamiltonian.dtype.kind == "c"
        spin_flip, delta_flip, delta_asymmetry = 0.0, 0.0, 0.0
        for h, h0, counts in zip(record.blocks("hamiltonian"), record.blocks("hamiltonian_0"),
                                 record.block_shapes("overlap")):
            ni, nj = counts
            delta = h - h0
            spin_flip = max(spin_flip, np.abs(h[:ni, nj:]).max())
            delta_flip = max(delta_flip, np.abs(delta[:ni, nj:]).max(), np.abs(delta[ni:, :nj]).max())
            delta_asymmetry = max(delta_asymmetry, np.abs(delta[:ni, :nj] - delta[ni:, nj:]).max())
        assert spin_flip > 0.05  # the SO-ECP couples ↑ and ↓ (tenths of an eV)
        # non-magnetic ground state: V_H and V_xc are spin-scalar, so ΔH has no spin-flip part and ↑↑ = ↓↓
        assert delta_flip < 1e-4 and delta_asymmetry < 1e-4


def test_spin_orbit_splitting_of_iodine_p_states(embedded):
    """Kramers pairs at every k; the I-5p valence top at Γ splits 4 + 2 by about an eV."""
    record = next(r for r in embedded if r.spinful and r.metadata.get("variant") == 0)
    gamma = np.zeros((1, 3))
    energies = record.eigenvalues(gamma)[0]
    np.testing.assert_allclose(energies[0::2], energies[1::2], atol=1e-5)
    occupied = energies[energies <= record.fermi_energy + 1e-6]
    j_half, j_three_halves = occupied[-6:-4], occupied[-4:]
    assert np.ptp(j_three_halves) < 0.05 and np.ptp(j_half) < 0.05
    assert 0.3 < j_three_halves.min() - j_half.max() < 2.0
