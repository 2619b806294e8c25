"""HamiltonianRecord: copies keep the physics."""
import numpy as np


def test_reorder_atoms_keeps_the_physics(spinless_record):
    flipped = spinless_record.reordered([1, 0])
    kpoints = spinless_record.reference_kpoints[:3]
    np.testing.assert_allclose(flipped.eigenvalues(kpoints), spinless_record.eigenvalues(kpoints), atol=1e-9)
