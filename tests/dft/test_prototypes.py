import itertools

import numpy as np
import pytest

from nextham.dft.prototypes import PROTOTYPES, build_prototype, expand_entry


def nearest_neighbour(positions, lattice):
    shifts = np.array(list(itertools.product(range(-1, 2), repeat=3))) @ lattice
    best = np.inf
    for i, j in itertools.product(range(len(positions)), repeat=2):
        d = np.linalg.norm(positions[j] + shifts - positions[i], axis=1)
        best = min(best, d[d > 1e-9].min())
    return best


@pytest.mark.parametrize("name, elements, parameters, bond", [
    ("zincblende", ["Ga", "As"], {"a": 5.65}, 5.65 * np.sqrt(3) / 4),
    ("rocksalt", ["Na", "Cl"], {"a": 5.64}, 5.64 / 2),
    ("cesium_chloride", ["Cs", "I"], {"a": 4.567}, 4.567 * np.sqrt(3) / 2),
    ("fluorite", ["Ca", "F"], {"a": 5.46}, 5.46 * np.sqrt(3) / 4),
    ("wurtzite", ["Zn", "O"], {"a": 3.25, "c": 5.21, "u": 0.382},
     min(0.382 * 5.21, np.sqrt(3.25 ** 2 / 3 + (0.5 - 0.382) ** 2 * 5.21 ** 2))),
    ("hexagonal_monolayer", ["B", "N"], {"a": 2.504}, 2.504 / np.sqrt(3)),
    ("mx2_monolayer", ["Mo", "S"], {"a": 3.16, "thickness": 3.13}, np.hypot(3.16 / np.sqrt(3), 3.13 / 2)),
    ("mx2_1t_monolayer", ["Sn", "S"], {"a": 3.65, "thickness": 2.95}, np.hypot(3.65 / np.sqrt(3), 2.95 / 2)),
    ("cubic_perovskite", ["Sr", "Ti", "O"], {"a": 3.905}, 3.905 / 2),
])
def test_prototype_geometry(name, elements, parameters, bond):
    symbols, positions, lattice = build_prototype(name, elements, **parameters)
    assert len(symbols) == len(positions) and set(symbols) == set(elements)
    assert nearest_neighbour(positions, lattice) == pytest.approx(bond, rel=1e-6)


def test_every_prototype_is_tested():
    assert set(PROTOTYPES) - {"diamond"} == {
        "zincblende", "rocksalt", "cesium_chloride", "fluorite", "wurtzite", "hexagonal_monolayer",
        "mx2_monolayer", "mx2_1t_monolayer", "cubic_perovskite"}


def test_variants_are_strained_and_rattled_reproducibly():
    entry = {"prototype": "rocksalt", "elements": ["Mg", "O"], "parameters": {"a": 4.21}, "variants": 3,
             "strain": 0.03, "rattle": 0.05}
    specs, again = expand_entry(entry, seed=1), expand_entry(entry, seed=1)
    assert [s.label for s in specs] == ["MgO-rocksalt-000", "MgO-rocksalt-001", "MgO-rocksalt-002"]
    _, ideal_positions, ideal_lattice = build_prototype("rocksalt", ["Mg", "O"], a=4.21)
    np.testing.assert_array_equal(specs[0].lattice, ideal_lattice)
    for spec, same in zip(specs[1:], again[1:]):
        np.testing.assert_array_equal(spec.positions, same.positions)
        strain = np.linalg.solve(ideal_lattice, spec.lattice) - np.eye(3)
        assert 0 < np.abs(strain).max() <= 0.03 and np.allclose(strain, strain.T)
    assert not np.allclose(expand_entry(entry, seed=2)[1].positions, specs[1].positions)


def test_supercells_vacancies_and_alloys():
    entry = {"prototype": "diamond", "elements": ["Si", "Si"], "parameters": {"a": 5.431}, "supercell": [2, 2, 1],
             "variants": 3, "strain": 0.02, "rattle": 0.03}
    perfect = expand_entry(entry)
    assert perfect[0].label == "Si-diamond-2x2x1-000" and len(perfect[0].symbols) == 8
    assert np.linalg.det(perfect[0].lattice) == pytest.approx(4 * 5.431 ** 3 / 4)
    assert nearest_neighbour(perfect[0].positions, perfect[0].lattice) == pytest.approx(5.431 * np.sqrt(3) / 4)

    vacancy = expand_entry({**entry, "vacancies": 1})
    assert vacancy[0].label == "Si-diamond-2x2x1-vac1-000" and all(len(s.symbols) == 7 for s in vacancy)
    alloy = expand_entry({**entry, "substitutions": {"Si": {"Ge": 0.25}}, "group": "new_combination"})
    assert all(s.symbols.count("Ge") == 2 and s.symbols.count("Si") == 6 for s in alloy)
    assert len({tuple(s.symbols) for s in alloy}) > 1  # each variant its own random arrangement
    assert alloy[0].metadata["group"] == "new_combination" and alloy[0].metadata["substitutions"] == {"Si": {"Ge": 0.25}}
    with pytest.raises(ValueError, match="vacancies leave no atom"):
        expand_entry({**entry, "vacancies": 8})
