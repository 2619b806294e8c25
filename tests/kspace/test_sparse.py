"""The sparse path (kspace.sparse) against dense eigensolves on real DFT cells where both run: the
matrices, the DOS, E_F and the gap, the eigenvalues within E_F ± 1 eV."""
import numpy as np
import pytest
from scipy.special import ndtr

from nextham.kspace import occupation_summary
from nextham.kspace.sparse import (eigenvalues_in_window, kpm_spectrum, sparse_matrices, sparse_occupation)

WIDTH_EV = 0.1


@pytest.fixture(scope="module")
def large_cell(embedded):
    """A 128-atom SiC supercell: 512 rows, above EXACT_TRACE_ROWS, so its trace is stochastic."""
    return embedded.read("SiC-zincblende-002").supercell((4, 4, 4))


@pytest.fixture(scope="module")
def supercells(embedded):
    """2×2×2 supercells (16 atoms, 64–128 orbitals) of spinless embedded crystals, and one spin–orbit cell."""
    spinless = [r for r in embedded if not r.spinful]
    picked = [spinless[0], spinless[len(spinless) // 2], spinless[-1]]
    return [r.supercell([2, 2, 2]) for r in picked] + [next(r for r in embedded if r.spinful)]


@pytest.fixture(scope="module")
def occupations(supercells):
    """The sparse solver's occupation of each supercell, computed once for the tests that read it."""
    return [sparse_occupation(record) for record in supercells]


def _gaussian_count(eigenvalues, energies, spin):
    return spin * ndtr((np.asarray(energies)[:, None] - eigenvalues.ravel()[None]) / WIDTH_EV).sum(axis=1)


def _smeared_fermi_level(record) -> float:
    """E_F of Gaussian smearing (WIDTH_EV) on the dense eigenvalues at Γ, by bisection."""
    eigenvalues = record.eigenvalues(np.zeros((1, 3)))
    low, high = eigenvalues.min(), eigenvalues.max()
    for _ in range(100):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if _gaussian_count(eigenvalues, [middle], 2.0)[0] < record.num_electrons \
            else (low, middle)
    return middle


def test_sparse_bloch_sums_are_the_dense_ones(supercells):
    for record in supercells:
        for kpoint in ((0.0, 0.0, 0.0), (0.1, -0.2, 0.35)):
            hamiltonian, overlap = sparse_matrices(record, kpoint)
            np.testing.assert_allclose(hamiltonian.toarray(), record.matrix_k("hamiltonian", np.array([kpoint]))[0],
                                       atol=1e-12)
            np.testing.assert_allclose(overlap.toarray(), record.overlap_k(np.array([kpoint]))[0], atol=1e-12)
        assert sparse_matrices(supercells[0], (0, 0, 0))[0].dtype == np.float64  # real at Γ when spinless


def test_the_exact_trace_dos_and_count_are_the_dense_gaussian_ones(supercells):
    """Tolerance: 1e-6 of the DOS peak, 1e-6 electrons (the Chebyshev series of the Gaussian is truncated
    where it has decayed below 1e-6), spinless and spin–orbit. CsI's spectrum spans 550 eV (its ECP
    semicore), so it is broadened by 0.4 eV to keep the moments few."""
    for record, width in ((supercells[0], WIDTH_EV), (supercells[-1], 0.4)):
        eigenvalues = record.eigenvalues(np.zeros((1, 3)))
        spin = 1.0 if record.spinful else 2.0
        spectrum = kpm_spectrum(record, width_ev=width, vectors=None)
        energies = np.linspace(eigenvalues.min() - 1.0, eigenvalues.max() + 1.0, 1500)
        dense = spin * np.exp(-0.5 * ((energies[:, None] - eigenvalues.ravel()[None]) / width) ** 2).sum(1) \
            / (width * np.sqrt(2 * np.pi))
        assert np.abs(spectrum.dos(energies) - dense).max() < 1e-6 * dense.max()
        counted = spin * ndtr((energies[:, None] - eigenvalues.ravel()[None]) / width).sum(axis=1)
        assert np.abs(spectrum.count(energies) - counted).max() < 1e-6


def test_the_stochastic_count_lies_within_its_error(large_cell):
    record = large_cell
    eigenvalues = record.eigenvalues(np.zeros((1, 3)))
    spectrum = kpm_spectrum(record, width_ev=WIDTH_EV, vectors=48, seed=3)
    energies = np.linspace(eigenvalues.min(), eigenvalues.max(), 9)
    counted, error = spectrum.count(energies, with_error=True)
    deviation = np.abs(counted - _gaussian_count(eigenvalues, energies, 2.0))
    assert (error > 0).all() and (deviation < 4 * error + 1e-9).all()


def test_insulators_get_the_dense_gap_and_fermi_level(supercells, occupations):
    for record, sparse in zip(supercells, occupations):
        dense = occupation_summary(record.eigenvalues(np.zeros((1, 3))), record.num_electrons, record.spinful)
        assert dense["metallic"] is False and sparse["metallic"] is False, record.label
        assert sparse["fermi_energy"] == pytest.approx(dense["fermi_energy"], abs=1e-6)
        assert sparse["band_gap"] == pytest.approx(dense["band_gap"], abs=1e-6)
        assert (sparse["vbm"], sparse["cbm"]) == pytest.approx((dense["vbm"], dense["cbm"]), abs=1e-6)


@pytest.mark.parametrize("which", ["exact trace", "stochastic trace"])
def test_a_metal_gets_the_smeared_fermi_level(supercells, large_cell, which):
    """Two electrons fewer make the top valence band partly empty: a metal, whose E_F is that of Gaussian
    smearing of the same width on the dense eigenvalues. The inertia count and the eigenvalues about it
    make it exact (1e-6 eV) even where the KPM count is stochastic; the issue's bound is 10 meV."""
    cell = supercells[0] if which == "exact trace" else large_cell
    record = cell.replace(num_electrons=cell.num_electrons - 2)
    middle = _smeared_fermi_level(record)
    sparse = sparse_occupation(record, width_ev=WIDTH_EV)
    assert sparse["metallic"] is True and sparse["band_gap"] == 0.0 and sparse["fermi_exact_count"]
    assert sparse["fermi_energy"] == pytest.approx(middle, abs=1e-6)


def test_inertia_counts_the_states_below_an_energy(large_cell):
    from nextham.kspace.sparse import states_below

    for kpoint in ((0.0, 0.0, 0.0), (0.1, 0.2, 0.3)):
        dense = large_cell.eigenvalues(np.array([kpoint]))[0]
        hamiltonian, overlap = sparse_matrices(large_cell, kpoint)
        spaced = np.flatnonzero(np.diff(dense) > 1e-3)  # σ between two distinct levels, not on a degenerate one
        for index in spaced[np.searchsorted(spaced, [10, 255, 400])]:
            sigma = 0.5 * (dense[index] + dense[index + 1])
            assert states_below(hamiltonian, overlap, sigma) == index + 1


def test_an_insulator_with_a_stochastic_trace_gets_the_exact_gap(large_cell):
    dense = occupation_summary(large_cell.eigenvalues(np.zeros((1, 3))), large_cell.num_electrons, False)
    sparse = sparse_occupation(large_cell)
    assert sparse["probes"] == 16 and sparse["metallic"] is False
    assert (sparse["vbm"], sparse["cbm"]) == pytest.approx((dense["vbm"], dense["cbm"]), abs=1e-6)


def test_shift_invert_finds_every_eigenvalue_within_1_ev_of_the_band_edges(supercells, occupations):
    """E_F ± 1 eV, widened by the gap in an insulator: [VBM − 1 eV, CBM + 1 eV]."""
    for record, occupation in zip(supercells, occupations):
        low, high = occupation["vbm"] - 1.0, occupation["cbm"] + 1.0
        total = 0
        for kpoint in ((0.0, 0.0, 0.0), (0.25, 0.0, 0.1)):
            dense = record.eigenvalues(np.array([kpoint]))[0]
            expected = dense[(dense >= low) & (dense <= high)]
            found = eigenvalues_in_window(*sparse_matrices(record, kpoint), low, high, start=4)
            assert len(found) == len(expected), record.label
            np.testing.assert_allclose(found, expected, atol=1e-6)
            total += len(found)
        assert total > 0


def test_auto_takes_the_sparse_path_only_for_large_cells(supercells):
    from nextham.record import SPARSE_ABOVE_ROWS

    record = supercells[0]
    assert record.matrix_rows <= SPARSE_ABOVE_ROWS and record.resolve_solver("auto") == "dense"
    assert record.occupation(solver="sparse")["fermi_method"] == "kpm + shift-invert Lanczos"
    with pytest.raises(ValueError, match="solver must be one of"):
        record.resolve_solver("fast")


def test_conjugate_gradients_solve_the_overlap_as_its_lu_does(large_cell):
    from nextham.kspace.sparse import SparsePencil

    hamiltonian, overlap = sparse_matrices(large_cell, (0.1, 0.2, 0.3))  # complex away from Γ
    right = np.random.default_rng(0).standard_normal((overlap.shape[0], 3)) * (1 + 0.5j)
    exact = SparsePencil(hamiltonian, overlap).solve_overlap(right)
    iterative = SparsePencil(hamiltonian, overlap, factorise=False).solve_overlap(right)
    assert np.abs(iterative - exact).max() < 1e-8 * np.abs(exact).max()
    np.testing.assert_allclose(SparsePencil(hamiltonian, overlap, factorise=False).solve_overlap(right[:, 0]),
                               exact[:, 0], atol=1e-8 * np.abs(exact).max())


@pytest.fixture()
def unfactorised(monkeypatch):
    """The path of cells above FACTORISE_MAX_ROWS, on cells small enough for the dense check."""
    import nextham.kspace.sparse as sparse

    monkeypatch.setattr(sparse, "FACTORISE_MAX_ROWS", 0)
    return sparse


def test_without_factorisation_the_gap_is_the_dos_gap_within_a_width(supercells, unfactorised):
    """No inertia count and no shift-invert: E_F and the gap come from the KPM DOS, whose band edges
    are resolved to about its width: within 1.5 widths (0.15 eV) here, where the edges at Γ of a 16-atom
    cell are single levels (1.05 widths off at Si's CBM)."""
    for record in supercells[:3]:
        dense = occupation_summary(record.eigenvalues(np.zeros((1, 3))), record.num_electrons, record.spinful)
        found = unfactorised.sparse_occupation(record, width_ev=WIDTH_EV)
        assert found["metallic"] is False and "conjugate gradients" in found["fermi_method"], record.label
        assert found["gap_method"].startswith("kpm dos")
        assert abs(found["vbm"] - dense["vbm"]) < 1.5 * WIDTH_EV, record.label
        assert abs(found["cbm"] - dense["cbm"]) < 1.5 * WIDTH_EV, record.label
        assert dense["vbm"] < found["fermi_energy"] < dense["cbm"]


@pytest.mark.parametrize("which", ["exact trace", pytest.param("stochastic trace", marks=pytest.mark.slow)])
def test_without_factorisation_a_metal_gets_the_smeared_fermi_level_within_its_error(supercells, large_cell,
                                                                                      unfactorised, which):
    """The KPM count alone. Traced exactly (a 16-atom cell), E_F is that of Gaussian smearing on the dense
    eigenvalues to 10 meV. Traced by 16 probes of 512 rows, the count is uncertain by about 8 electrons:
    40 fewer make it a metal beyond three times that noise, and E_F lies within the error it reports."""
    cell, lost = (supercells[0], 2) if which == "exact trace" else (large_cell, 40)
    record = cell.replace(num_electrons=cell.num_electrons - lost)
    middle = _smeared_fermi_level(record)
    found = unfactorised.sparse_occupation(record, width_ev=WIDTH_EV)
    assert found["metallic"] is True and found["fermi_exact_count"] is False
    if which == "exact trace":
        assert found["fermi_error_ev"] == 0.0 and abs(found["fermi_energy"] - middle) < 0.01
    else:
        assert 0 < found["fermi_error_ev"] < 1.0
        assert abs(found["fermi_energy"] - middle) < 4 * found["fermi_error_ev"]
