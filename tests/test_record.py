"""HamiltonianRecord: copies keep the physics."""
import numpy as np


def test_reorder_atoms_keeps_the_physics(spinless_record):
    flipped = spinless_record.reordered([1, 0])
    kpoints = spinless_record.reference_kpoints[:3]
    np.testing.assert_allclose(flipped.eigenvalues(kpoints), spinless_record.eigenvalues(kpoints), atol=1e-9)


def test_a_supercell_is_the_same_crystal(embedded):
    """Bands at Γ of the 2×2×2 supercell are the primitive cell's at the eight folded k-points."""
    record = embedded.read("SiC-zincblende-002").astype(np.float64)
    supercell = record.supercell((2, 2, 2)).validate()
    assert supercell.num_atoms == 8 * record.num_atoms and supercell.num_edges == 8 * record.num_edges
    assert supercell.num_electrons == 8 * record.num_electrons
    folded = np.array(np.meshgrid(*[np.arange(2) / 2] * 3, indexing="ij")).reshape(3, -1).T
    np.testing.assert_allclose(np.sort(supercell.eigenvalues(np.zeros((1, 3))).ravel()),
                               np.sort(record.eigenvalues(folded).ravel()), atol=1e-9)
