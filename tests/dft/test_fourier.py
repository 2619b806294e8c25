import numpy as np

from nextham.dft import fourier
from nextham.kspace import bloch_sum_blocks, monkhorst_pack


def test_fourier_round_trip_on_a_mesh():
    """k -> R -> k is exact on the mesh (random Hermitian matrices: a pure transform test)."""
    rng = np.random.default_rng(0)
    mesh = (3, 2, 4)
    kpoints = monkhorst_pack(mesh)
    translations = fourier.centred_translations(mesh)
    matrices = rng.normal(size=(len(kpoints), 3, 3)) + 1j * rng.normal(size=(len(kpoints), 3, 3))
    matrices = matrices + matrices.conj().transpose(0, 2, 1)
    real_space = fourier.k_to_real_space(matrices, kpoints, translations)
    blocks = [real_space[r] for r in range(len(translations))]
    back = bloch_sum_blocks(blocks, [(0, 0)] * len(blocks), translations, [0, 3], kpoints)
    np.testing.assert_allclose(back, matrices, atol=1e-12)


def test_minimal_images_are_closest_and_weights_sum_to_one():
    lattice = np.eye(3) * 4.0
    positions = np.array([[0.0, 0.0, 0.0], [2.0, 1.0, 0.5]])
    mesh = (3, 3, 3)
    translations = fourier.centred_translations(mesh)
    weights = {}
    for r, i, j, shift, distance, weight in fourier.minimal_image_pairs(positions, lattice, mesh, translations):
        brute = min(np.linalg.norm(positions[j] + (translations[r] + np.array(n) * 3) @ lattice - positions[i])
                    for n in np.ndindex(5, 5, 5) for n in [np.array(n) - 2])
        assert distance <= brute + 1e-9
        weights[(r, i, j)] = weights.get((r, i, j), 0.0) + weight
    assert np.allclose(list(weights.values()), 1.0)
