import numpy as np
import pytest

from nextham.dft.random_crystals import MIN_BOND_FRACTION, expand_random_entry

pytest.importorskip("pyxtal", reason="random crystals need the `random` extra (installed with `dev`)")


def _entry(**options):
    return {"random": {"formulas": [{"Ga": 1, "As": 1}, {"Ti": 1, "O": 2}], "atoms": [2, 6], "structures": 4, **options}}


def test_random_crystals_are_reproducible_symmetric_and_not_overlapping():
    from ase import Atoms
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list
    import spglib

    specs, again = expand_random_entry(_entry(), seed=3), expand_random_entry(_entry(), seed=3)
    assert [s.label for s in specs] == ["random-GaAs-000", "random-TiO2-001", "random-GaAs-002", "random-TiO2-003"]
    for spec, same in zip(specs, again):
        np.testing.assert_array_equal(spec.positions, same.positions)
        np.testing.assert_array_equal(spec.lattice, same.lattice)
        assert 2 <= len(spec.symbols) <= 6 and spec.metadata["prototype"] == "random"
        formula = {"GaAs": {"Ga": 1, "As": 1}, "TiO2": {"Ti": 1, "O": 2}}[spec.label.split("-")[1]]
        counts = {x: spec.symbols.count(x) for x in formula}
        assert counts[list(formula)[0]] * list(formula.values())[1] == counts[list(formula)[1]] * list(formula.values())[0]
        atoms = Atoms(spec.symbols, positions=spec.positions, cell=spec.lattice, pbc=True)
        i, j, d = neighbor_list("ijd", atoms, 4.0)
        assert np.all(d >= MIN_BOND_FRACTION * (covalent_radii[atoms.numbers[i]] + covalent_radii[atoms.numbers[j]]) - 1e-9)
        cell = (spec.lattice, atoms.get_scaled_positions(), atoms.numbers)
        assert spglib.get_symmetry_dataset(cell, symprec=1e-3).number == spec.metadata["space_group"] > 1
    assert not np.allclose(expand_random_entry(_entry(), seed=4)[0].lattice, specs[0].lattice)


def test_a_formula_that_cannot_fit_the_atom_range_is_an_error():
    with pytest.raises(ValueError, match=r"random crystal TiO2: no multiple of 3 atoms lies in \[4, 5\]"):
        expand_random_entry(_entry(atoms=[4, 5]), seed=0)
