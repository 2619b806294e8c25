"""The linear tetrahedron method: the occupied volume of one tetrahedron, and E_F of model bands
(tight-binding s-bands written here, not DFT Hamiltonians) against symmetry and dense counting."""
import numpy as np
import pytest

from nextham.kspace import monkhorst_pack
from nextham.kspace.tetrahedron import occupied_fraction, tetrahedron_corners, tetrahedron_fermi_level


def test_a_linear_band_fills_the_volume_fraction_sampled_inside_the_tetrahedron():
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(4), size=400_000)  # uniform points of a tetrahedron (barycentric)
    for corners in (rng.normal(size=4), np.array([0.0, 0.0, 1.0, 2.0]), np.array([0.0, 1.0, 1.0, 1.0])):
        energies = weights @ corners  # a band linear inside the tetrahedron
        for level in np.linspace(corners.min() - 0.1, corners.max() + 0.1, 13):
            exact = float(occupied_fraction(np.sort(corners)[None], level)[0])
            assert exact == pytest.approx(np.mean(energies < level), abs=3e-3), (corners, level)


def test_the_six_tetrahedra_of_each_cell_tile_the_mesh():
    mesh = (3, 4, 5)
    corners = tetrahedron_corners(mesh, np.diag([2.0, 3.0, 4.0]))
    assert corners.shape == (6 * 60, 4)
    # every mesh point is a corner of the 24 tetrahedra around it (6 per cell, 8 cells, each using it in 3)
    assert np.array_equal(np.bincount(corners.ravel(), minlength=60), np.full(60, 24))


def _cubic_s_band(mesh):
    """ε(k) = −2t Σ cos 2πk_i (t = 1 eV) of a simple cubic lattice: one spinless band."""
    k = monkhorst_pack(mesh)
    return -2.0 * np.cos(2 * np.pi * k).sum(axis=1)[:, None]


def test_half_filling_of_a_particle_hole_symmetric_band_puts_the_fermi_level_at_zero():
    mesh = (12, 12, 12)
    fermi = tetrahedron_fermi_level(_cubic_s_band(mesh), mesh, np.eye(3) * 3.0, num_electrons=1.0, spinful=False)
    assert fermi == pytest.approx(0.0, abs=1e-6)


def test_a_quarter_filled_band_converges_to_dense_counting_as_the_square_of_the_spacing():
    dense = np.sort(_cubic_s_band((160, 160, 160)).ravel())
    count = int(len(dense) * 0.25)  # 0.5 electrons (spinless band) = a quarter of the states
    reference = 0.5 * (dense[count - 1] + dense[count])
    error = {n: abs(tetrahedron_fermi_level(_cubic_s_band((n, n, n)), (n, n, n), np.eye(3) * 3.0, 0.5, False)
                    - reference) for n in (16, 32, 48)}
    assert 3.0 < error[16] / error[32] < 5.0  # seen: 23 and 6.4 meV
    assert error[48] < 0.005
