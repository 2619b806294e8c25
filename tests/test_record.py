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


def test_rounding_for_storage_rounds_each_real_part_and_keeps_the_dtype(spinful_record):
    rounded = spinful_record.rounded(-10, -14)
    for name, exponent in (("hamiltonian", -10), ("hamiltonian_0", -10), ("overlap", -14)):
        original, values = getattr(spinful_record, name), getattr(rounded, name)
        assert values.dtype == original.dtype
        parts = np.ascontiguousarray(values).view(values.real.dtype).astype(np.float64)
        step = 2.0 ** exponent
        np.testing.assert_array_equal(parts, np.round(parts / step) * step)
        error = np.abs(parts - np.ascontiguousarray(original).view(original.real.dtype))
        assert error.max() <= step / 2 * (1 + 1e-6) and error.max() > 0
    assert np.iscomplexobj(rounded.hamiltonian) and not np.iscomplexobj(rounded.overlap)
